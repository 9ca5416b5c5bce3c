import dagster as dg

# One partition per session, keyed like `2023-16-japanese-grand-prix-race`; the discovery sensor
# adds a partition whenever a configured source lists a session it has not seen.
session_partitions = dg.DynamicPartitionsDefinition(name="sessions")
