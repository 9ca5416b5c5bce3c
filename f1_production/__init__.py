"""The production profile's servers, started and stopped as local processes: what
`F1_PROFILE=production make run` brings up and what the tests of that profile run against."""
