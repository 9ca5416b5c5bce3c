"""`f1`: the pipeline from a terminal. `f1 run` discovers every session the sources offer and
ingests each into the warehouse, recording every run in the Dagster instance the UI shows."""

from __future__ import annotations

import functools
import os
import sys
import time
import warnings
from pathlib import Path

import click

from f1_assets.terminal import progress_line, quiet_alerts
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
    from f1_core import file_lock

    # two commands starting on a new SQLite instance would both create its tables (Dagster:
    # "table ... already exists"): one at a time, the second finds them made
    with file_lock.locked(Path(os.environ["DAGSTER_HOME"]) / ".f1-instance"):
        instance = dg.DagsterInstance.get()
        instance.get_runs(limit=1)  # opens, and so creates, the run and event storage
        _create_pools(instance)
    return instance


# The pools the assets name (each takes one step at a time, dagster.yaml's default_limit).
POOLS = ("session_source", "duckdb_warehouse")


def _create_pools(instance) -> None:
    """Creates the pools before any run claims them: two runs' first claims of a pool on a new
    PostgreSQL instance race inside Dagster (both insert its limit; the loser's transaction is
    aborted and its step fails), so whoever comes second here sees the first one's and stops."""
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return
    for attempt in range(10):
        missing = [pool for pool in POOLS if pool not in storage.get_concurrency_keys()]
        if not missing:
            return
        try:
            for pool in missing:
                storage.initialize_concurrency_limit_to_default(pool)
        except Exception:  # the other process's insert won: look again
            if attempt == 9:
                raise
            time.sleep(0.1 * (attempt + 1))


@functools.cache
def resolve_job(name: str):
    """The job `name` of the project's definitions: how a celery worker rebuilds the run's job."""
    from f1_assets.definitions import defs as load_defs

    return load_defs().resolve_job_def(name)


def execute(instance, job, run_config: dict, partition_key: str | None = None):
    """One run of `job` with the executor of F1_EXECUTOR: in this process, or its steps as tasks
    on the celery workers (the run itself orchestrates here, as the default run launcher does)."""
    import dagster as dg

    if settings.executor() == "in_process":
        return job.execute_in_process(
            instance=instance, raise_on_error=False, run_config=run_config, partition_key=partition_key
        )
    from celery.exceptions import DuplicateTaskNameWarning

    with warnings.catch_warnings():
        # dagster-celery registers its task again on each app its executor makes: a warning
        # about its own code, nothing the user can act on
        warnings.simplefilter("ignore", DuplicateTaskNameWarning)
        return dg.execute_job(
            dg.build_reconstructable_job("f1_assets.cli", "resolve_job", reconstructable_args=(job.name,)),
            instance=instance,
            run_config=run_config,
            raise_on_error=False,
            tags={"dagster/partition": partition_key} if partition_key else None,
        )


def root_cause(error) -> str:
    """The user's own error inside Dagster's wrapping of it."""
    while error.cause is not None:
        error = error.cause
    return error.message.strip()


@click.group()
def main() -> None:
    """f1-lap-prediction: Formula 1 lap-time pipeline."""


def _print_failure(result) -> None:
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data.error:
            click.echo(f"      {root_cause(event.step_failure_data.error)}", err=True)


def _require_listed(keys, catalog) -> None:
    unknown = [key for key in keys if key not in catalog]
    if unknown:
        raise click.BadParameter(f"not in any source's catalogue: {', '.join(unknown)}", param_hint="--session")


def _ingest(instance, job, sessions: tuple[str, ...]) -> list[str]:
    """One ingestion run per session; returns the sessions that failed."""
    from f1_assets.defs.ingestion.resources import SessionSourceResource
    from f1_core import warehouse

    source = SessionSourceResource()
    click.echo(f"sources: {', '.join(source.sources)}")
    if any(name.startswith("fastf1") for name in source.sources):
        from f1_core.sources.fastf1_source import quiet_console

        # FastF1's warnings (weather missing, a stint fixed) name no action; the error of a
        # session that fails still names them
        quiet_console()
    catalog = source.catalog().sessions()
    keys = list(sessions) or sorted(catalog)
    _require_listed(keys, catalog)
    failed: list[str] = []
    started = time.perf_counter()
    for number, key in enumerate(keys, 1):
        result = _ingest_one(instance, job, key)
        click.echo(
            f"[{number:>3}/{len(keys)}] {key:<55} {'ok' if result.success else 'FAILED'}  (run {result.run_id[:8]})"
        )
        if not result.success:
            failed.append(key)
            _print_failure(result)
    path = settings.warehouse_path()
    if warehouse.exists(path):
        totals = warehouse.query(
            path,
            """
            SELECT count(*) AS sessions, sum(laps_in_source) AS source_laps, sum(laps_loaded) AS laps,
                   sum(laps_quarantined) AS quarantined, sum(weather_rows) AS weather_rows
            FROM sessions""",
        ).row(0, named=True)
        click.echo(
            f"\nwarehouse {path}: {totals['sessions']} sessions, {totals['laps']} laps "
            f"({totals['quarantined']} quarantined of {totals['source_laps']}), "
            f"{totals['weather_rows']} weather rows; {len(keys)} runs in {time.perf_counter() - started:.0f} s"
        )
    return failed


def _train(instance, job, training: dict | None = None) -> bool:
    # MLflow narrates every artifact it writes and warns of its own defaults (pickled models, no
    # pip version); the summary below says what matters
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "ERROR")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    started = time.perf_counter()
    config = {**QUIET, "ops": {"lap_time_model": {"config": training or {}}}}
    with progress_line():
        result = execute(instance, job, config)
    if not result.success:
        click.echo("training FAILED", err=True)
        _print_failure(result)
        return False
    meta = {m.asset_key.to_user_string(): m.materialization.metadata for m in result.get_asset_materialization_events()}
    model, champion = meta["lap_time_model"], meta["champion_model"]
    click.echo(
        f"\nmodel f1-laptime v{model['model_version'].value} ({model['retrain_mode'].value}) "
        f"in {time.perf_counter() - started:.0f} s: "
        f"holdout clean-lap MAE {model['holdout_mae_clean'].value:.3f} s "
        f"(best baseline {model['best_baseline_mae_clean'].value:.3f} s), "
        f"90% interval coverage {model['holdout_coverage_clean'].value:.3f}"
    )
    click.echo(
        f"promotion: {'PROMOTED' if champion['promoted'].value else 'not promoted'}: "
        f"{champion['reason'].value}; champion is v{champion['champion_version'].value}"
    )
    click.echo(f"MLflow: {settings.mlflow_tracking_uri()}  (run {model['mlflow_run_id'].value})")
    return True


def _drift(instance, job, sessions: tuple[str, ...] = ()) -> bool:
    started = time.perf_counter()
    config = {**QUIET, "ops": {"drift_reports": {"config": {"sessions": list(sessions)}}}}
    with progress_line(), quiet_alerts():
        result = execute(instance, job, config)
    if not result.success:
        click.echo("drift reports FAILED", err=True)
        _print_failure(result)
        return False
    meta = result.get_asset_materialization_events()[0].materialization.metadata
    drifted = meta["drifted_sessions"].value if "drifted_sessions" in meta else 0
    click.echo(
        f"drift: {meta['sessions'].value} session(s) compared with champion "
        f"v{meta['champion_version'].value} in {time.perf_counter() - started:.0f} s, {drifted} drifted"
        + (f" (alerts in {settings.alert_log_path()})" if drifted else "")
        + f"; reports in {settings.drift_reports_dir()}, numbers in drift_history"
    )
    return True


@main.command()
@click.option("--session", "sessions", multiple=True, help="Only these partition keys (repeatable).")
@click.option("--skip-training", is_flag=True, help="Ingest only.")
@click.option(
    "--n-estimators",
    type=click.IntRange(min=1),
    default=None,
    help="Boosting rounds of each model (default: the training config's, 400); fewer train faster, less well.",
)
@click.option("--cv-folds", type=click.IntRange(min=2), default=None, help="Cross-validation folds (default: 5).")
def run(sessions: tuple[str, ...], skip_training: bool, n_estimators: int | None, cv_folds: int | None) -> None:
    """Ingest every session the configured sources offer, train and promote a model, then report
    every session's drift against the champion."""
    from f1_assets.definitions import defs as load_defs

    instance = _instance()
    definitions = load_defs()
    failed = _ingest(instance, definitions.resolve_job_def("ingest_session_job"), sessions)
    training = {
        name: value for name, value in (("n_estimators", n_estimators), ("cv_folds", cv_folds)) if value is not None
    }
    trained = skip_training or _train(instance, definitions.resolve_job_def("train_model_job"), training)
    reported = skip_training or not trained or _drift(instance, definitions.resolve_job_def("drift_job"))
    click.echo(f"\nDagster instance: {os.environ['DAGSTER_HOME']}  (make ui, then http://127.0.0.1:3000)")
    click.echo(
        'query it: .venv/bin/python -c "from f1_core import warehouse; '
        "warehouse.open_connection().sql('FROM sessions').show()\""
    )
    if failed:
        click.echo(f"\n{len(failed)} session(s) failed: {', '.join(failed)}", err=True)
    if failed or not trained or not reported:
        sys.exit(1)


@main.command()
@click.option("--season", "seasons", type=int, multiple=True, help="Every session of this season (repeatable).")
@click.option("--session", "sessions", multiple=True, help="This partition key (repeatable).")
def backfill(seasons: tuple[int, ...], sessions: tuple[str, ...]) -> None:
    """A Dagster partition backfill of ingest_session_job: the sessions of whole seasons, or named
    ones, from the configured sources' catalogues. Their partitions are added, then `dagster job
    backfill` queues one run per session; the daemon (make ui) launches them, and the UI's
    Backfills page follows them."""
    import subprocess

    from f1_assets.defs.ingestion.partitions import session_partitions
    from f1_assets.defs.ingestion.resources import SessionSourceResource

    if not seasons and not sessions:
        raise click.UsageError("name at least one --season or --session")
    # the named sessions' seasons too, so that --season 2023 --session 2018-... finds both
    named = {int(key.split("-", 1)[0]) for key in sessions if key.split("-", 1)[0].isdigit()}
    catalog = SessionSourceResource().catalog().sessions(sorted(set(seasons) | named) if seasons else None)
    _require_listed(sessions, catalog)
    keys = sorted(set(sessions) | {key for key, (_, ref) in catalog.items() if ref.season in seasons})
    if not keys:
        raise click.BadParameter(
            f"no session of {', '.join(map(str, seasons))} in the catalogues", param_hint="--season"
        )
    with _instance() as instance:
        known = set(instance.get_dynamic_partitions(session_partitions.name))
        instance.add_dynamic_partitions(session_partitions.name, [key for key in keys if key not in known])
    dagster = Path(sys.executable).with_name("dagster")
    command = [str(dagster), "job", "backfill", "-w", str(settings.PROJECT_ROOT / "workspace.yaml")]
    command += ["-j", "ingest_session_job", "--partitions", ",".join(keys), "--noprompt"]
    sys.exit(subprocess.run(command, cwd=settings.PROJECT_ROOT).returncode)


@main.command()
@click.option("--incremental", is_flag=True, help="Continue the champion's boosting instead of training from scratch.")
@click.option(
    "--trees",
    type=click.IntRange(min=1),
    default=100,
    show_default=True,
    help="With --incremental: trees added to each point booster.",
)
@click.option(
    "--learn-from",
    "learn_from",
    multiple=True,
    help="A drifted session whose first half trains even if the holdout holds it (repeatable).",
)
def train(incremental: bool, trees: int, learn_from: tuple[str, ...]) -> None:
    """Rebuild lap_features from the warehouse, train, register, and run the promotion gate."""
    from f1_assets.definitions import defs as load_defs

    training = {
        "mode": "incremental" if incremental else "full",
        "incremental_trees": trees,
        "learn_from_sessions": list(learn_from),
    }
    if not _train(_instance(), load_defs().resolve_job_def("train_model_job"), training):
        sys.exit(1)


@main.command()
@click.option(
    "--session",
    "sessions",
    multiple=True,
    help="Report on these sessions (repeatable); default: those without a report against the champion.",
)
def drift(sessions: tuple[str, ...]) -> None:
    """Drift reports (Evidently) of warehouse sessions against the champion's training reference."""
    from f1_assets.definitions import defs as load_defs

    if not _drift(_instance(), load_defs().resolve_job_def("drift_job"), sessions):
        sys.exit(1)


@main.command()
@click.argument("session")
@click.option(
    "--archive",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=lambda: settings.archive_dir(),
    help="A folder in the layout of ../shared/f1data/archive.",
)
@click.option(
    "--speed",
    type=click.FloatRange(min=0.1),
    default=60.0,
    show_default=True,
    help="Session seconds per wall-clock second.",
)
@click.option("--url", default="http://127.0.0.1:3001", show_default=True, help="The prediction service.")
@click.option("--api-key", envvar="F1_API_KEY", required=True, help="A viewer key (or F1_API_KEY).")
@click.option(
    "--ingest-every",
    type=click.FloatRange(min=1),
    default=30.0,
    show_default=True,
    help="Wall-clock seconds between ingestions of the landed laps.",
)
@click.option(
    "--no-ingest", is_flag=True, help="Only land the laps: the Dagster daemon's live_session_sensor ingests them."
)
@click.option("--max-laps", type=click.IntRange(min=1), default=None, help="Stop after this many laps.")
def replay(
    session: str,
    archive: Path,
    speed: float,
    url: str,
    api_key: str,
    ingest_every: float,
    no_ingest: bool,
    max_laps: int | None,
) -> None:
    """Play an archived SESSION lap by lap: predictions from the service as laps start, laps
    landing in $F1_LIVE_DIR and ingested as they end."""
    from f1_assets.definitions import defs as load_defs
    from f1_core import replay as playback

    try:
        ref, raw = playback.load(archive, session)
    except KeyError as exc:
        raise click.BadParameter(exc.args[0], param_hint="SESSION") from None
    instance, job = _instance(), load_defs().resolve_job_def("ingest_session_job")
    last_ingest = [time.monotonic()]

    def ingest(state, force=False):
        if no_ingest:
            return
        if force or time.monotonic() - last_ingest[0] >= ingest_every:
            result = _ingest_one(instance, job, ref.key)
            if not result.success:
                _print_failure(result)
            last_ingest[0] = time.monotonic()

    def progress(state):
        mae = "-" if state.session_mae is None else f"{state.session_mae:.3f} s"
        without = state.contexts.get("request", 0)
        click.echo(
            f"\rlaps {state.laps_played}/{state.laps_total}  predicted {state.predicted}  "
            f"live MAE (session) {mae}"
            + (f"  from requests alone {without}" if without else "")
            + f"  model v{state.model_version or '-'}  failed requests {state.failed_requests}   ",
            nl=False,
        )

    click.echo(f"replaying {ref.key} at {speed:g}x into {settings.live_dir()}")
    with playback.service_client(url, api_key) as (predict, _):
        state = playback.replay(
            ref,
            raw,
            settings.live_dir(),
            predict,
            speed=speed,
            on_progress=progress,
            on_landed=ingest,
            max_laps=max_laps,
        )
    ingest(state, force=True)
    click.echo("\ndone")


RUN_ATTEMPTS = 3


def _ingest_one(instance, job, key: str):
    """One ingestion run of one session, its partition added if it is new."""
    from sqlalchemy.exc import OperationalError

    from f1_assets.defs.ingestion.partitions import session_partitions

    for attempt in range(1, RUN_ATTEMPTS + 1):
        try:
            if not instance.has_dynamic_partition(session_partitions.name, key):
                instance.add_dynamic_partitions(session_partitions.name, [key])
            return execute(instance, job, QUIET, partition_key=key)
        except OperationalError as exc:
            # the instance's database went away mid-call (a PostgreSQL server restarting): the
            # session's ingestion replaces what it writes, so running it again is safe
            if attempt == RUN_ATTEMPTS:
                raise
            reason = str(exc.orig or exc).strip().splitlines()[0]
            click.echo(
                f"      {key}: the Dagster instance's database failed ({reason}); "
                f"running the session again in {2 * attempt} s",
                err=True,
            )
            time.sleep(2 * attempt)


@main.command("live-feed")
@click.option("--once", is_flag=True, help="Read what landed, then stop.")
def live_feed(once: bool) -> None:
    """Feed $F1_LIVE_DIR into the online store ($F1_ONLINE_STORE), for service replicas that do
    not read the folder themselves (F1_LIVE_FEED=0). Runs until stopped."""
    from f1_core.live_feed import LiveFeed
    from f1_core.online_store import StoreUnavailable

    store = settings.open_online_store()
    if store.backend == "memory":
        raise click.UsageError(
            "F1_ONLINE_STORE is memory: each service worker reads the live folder "
            "itself. Set F1_ONLINE_STORE=redis://HOST:PORT/DB to feed a shared store."
        )
    feed = LiveFeed(settings.live_dir(), store, ttl_s=settings.live_state_ttl_s())
    click.echo(f"feeding {settings.live_dir()} into {store.status()['url']}")
    try:
        while True:
            try:
                feed.sync()
            except StoreUnavailable as exc:
                click.echo(f"{exc}; trying again", err=True)
            if once:
                break
            time.sleep(feed.interval_s)
    except KeyboardInterrupt:
        pass
    finally:
        try:
            for state in store.sessions():
                click.echo(f"{state.meta.session_key}: {len(state.laps)} laps, {len(state.weather)} weather rows")
        except StoreUnavailable:
            pass
        store.close()


@main.command("warehouse-sql")
def warehouse_sql() -> None:
    """Print the statements that open the warehouse in any DuckDB 1.5.5 client, e.g.
    duckdb -cmd "$(.venv/bin/f1 warehouse-sql)"."""
    from f1_core import lake

    click.echo("; ".join(lake.attach_sql(settings.warehouse_path())) + ";")


@main.command()
def rollback() -> None:
    """Restore the previous champion of f1-laptime."""
    from f1_core import registry

    try:
        demoted, restored = registry.rollback()
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"champion is v{restored} again (v{demoted} rolled back)")


@main.group("api-key")
def api_key() -> None:
    """API keys of the prediction service (stored hashed in $F1_API_KEYS)."""


@api_key.command("create")
@click.option(
    "--role",
    type=click.Choice(["viewer", "engineer", "admin"]),
    required=True,
    help="viewer: predict, explain; engineer: also /model; admin: also /reload.",
)
@click.option("--name", default="", help="Who or what the key is for.")
def api_key_create(role: str, name: str) -> None:
    """Creates a key and prints it: the only time it is shown."""
    from f1_core.api_keys import KeyStore

    store = KeyStore(settings.api_keys_path())
    record, key = store.create(role, name)
    click.echo(f"created key {record.key_id} ({role}) in {store.path}; it is shown only now:", err=True)
    click.echo(key)


@api_key.command("list")
def api_key_list() -> None:
    """The keys: id, role, name, creation time (never the key)."""
    from f1_core.api_keys import KeyStore

    for record in KeyStore(settings.api_keys_path()).records():
        click.echo(f"{record.key_id}  {record.role:<8}  {record.created}  {record.name}")


@api_key.command("revoke")
@click.argument("key_id")
def api_key_revoke(key_id: str) -> None:
    """Deletes a key: the service refuses it from its next request."""
    from f1_core.api_keys import KeyStore

    try:
        record = KeyStore(settings.api_keys_path()).revoke(key_id)
    except KeyError as exc:
        raise click.BadParameter(exc.args[0], param_hint="KEY_ID") from None
    click.echo(f"revoked {record.key_id} ({record.role})")


if __name__ == "__main__":
    main()
