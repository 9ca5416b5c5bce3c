import dagster as dg

# Every run executes its steps in its own process, one after the other. Dagster's default starts
# a process per step, and each loads the code location first (about 3 s here): measured under the
# daemon (benchmarks/loop_daemon.py), a live session's ingestion took 41 s that way, for a few
# seconds of work. The steps are small, the warehouse pool serialises the writers anyway, and the
# machine has 2 cores.
defs = dg.Definitions(executor=dg.in_process_executor)
