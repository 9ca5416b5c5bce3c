import dagster as dg

# One partition per race weekend, keyed like `2023-16-japanese-grand-prix` (the prefix of its
# sessions' keys); the weekend report's schedule adds a weekend's partition after its race.
weekend_partitions = dg.DynamicPartitionsDefinition(name="weekends")
