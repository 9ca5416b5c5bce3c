"""The race engineers' console: its back end (FastAPI) beside the prediction service; the web app is in console/."""
