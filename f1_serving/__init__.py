"""The BentoML service that serves the champion lap-time model (`service.LapTimeService`)."""
