"""`f1`: the pipeline from a terminal. `f1 run` discovers every session the sources offer and
ingests each into the warehouse, recording every run in the Dagster instance the UI shows."""

from __future__ import annotations

import os
import sys
import time

import click

from f1_core import settings


# The UI keeps every event; the terminal shows one line per session and the errors.
QUIET = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}


def _instance():
    import dagster as dg

    if not os.environ.get("DAGSTER_HOME"):
        try:
            os.environ["DAGSTER_HOME"] = str(settings.dagster_home())
        except ValueError as exc:
            raise click.UsageError(str(exc)) from None
    return dg.DagsterInstance.get()


def root_cause(error) -> str:
    """The user's own error inside Dagster's wrapping of it."""
    while error.cause is not None:
        error = error.cause
    return error.message.strip()


@click.group()
def main() -> None:
    """f1-lap-prediction: Formula 1 lap-time pipeline."""


@main.command()
@click.option("--session", "sessions", multiple=True, help="Only these partition keys (repeatable).")
def run(sessions: tuple[str, ...]) -> None:
    """Discover the configured sources' sessions and ingest them into the warehouse."""
    from f1_assets.defs.ingestion.partitions import session_partitions
    from f1_assets.defs.ingestion.resources import SessionSourceResource
    from f1_assets.definitions import defs as load_defs
    from f1_core import warehouse

    instance = _instance()
    source = SessionSourceResource()
    click.echo(f"sources: {', '.join(source.sources)}")
    catalog = source.catalog().sessions()
    keys = list(sessions) or sorted(catalog)
    unknown = [key for key in keys if key not in catalog]
    if unknown:
        raise click.BadParameter(f"not in any source's catalogue: {', '.join(unknown)}", param_hint="--session")
    known = set(instance.get_dynamic_partitions(session_partitions.name))
    instance.add_dynamic_partitions(session_partitions.name, [k for k in keys if k not in known])

    job = load_defs().resolve_job_def("ingest_session_job")
    failed: list[str] = []
    started = time.perf_counter()
    for number, key in enumerate(keys, 1):
        result = job.execute_in_process(partition_key=key, instance=instance, raise_on_error=False,
                                        run_config=QUIET)
        status = "ok" if result.success else "FAILED"
        click.echo(f"[{number:>3}/{len(keys)}] {key:<55} {status}  (run {result.run_id[:8]})")
        if not result.success:
            failed.append(key)
            for event in result.all_events:
                if event.is_step_failure and event.step_failure_data.error:
                    click.echo(f"      {root_cause(event.step_failure_data.error)}")
    elapsed = time.perf_counter() - started

    path = settings.warehouse_path()
    if path.exists():
        totals = warehouse.query(path, """
            SELECT count(*) AS sessions, sum(laps_in_source) AS source_laps, sum(laps_loaded) AS laps,
                   sum(laps_quarantined) AS quarantined, sum(weather_rows) AS weather_rows
            FROM sessions""").row(0, named=True)
        click.echo(
            f"\nwarehouse {path}: {totals['sessions']} sessions, {totals['laps']} laps "
            f"({totals['quarantined']} quarantined of {totals['source_laps']}), "
            f"{totals['weather_rows']} weather rows; {len(keys)} runs in {elapsed:.0f} s"
        )
    click.echo(f"Dagster instance: {os.environ['DAGSTER_HOME']}  (make ui, then http://127.0.0.1:3000)")
    click.echo(f"query it: .venv/bin/python -c \"import duckdb; duckdb.connect('{path}', read_only=True)"
               f".sql('FROM sessions').show()\"")
    if failed:
        click.echo(f"\n{len(failed)} session(s) failed: {', '.join(failed)}", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
