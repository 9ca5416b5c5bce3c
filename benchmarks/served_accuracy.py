"""Accuracy as a live client gets it: the holdout sessions of the champion `make run` promoted,
replayed through the running service (laps land in its live folder as they end, each lap is asked
for as it starts, the contract as docs/serving.md documents it), beside the same champion's offline
predictions of the same laps from `lap_features`.

Prints per session and overall, on the clean laps of the holdout: the served MAE, the offline
MAE, the previous-clean-lap baseline, the interval coverage served and offline, and the share of
answers made from the session's state (`context: session`). Served within 1% of offline is
what the service promises; a gap means served features differ from the pipeline's.

    .venv/bin/python benchmarks/served_accuracy.py
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from f1_core import metrics, registry, settings  # noqa: E402
from f1_core.api_keys import KeyStore  # noqa: E402
from f1_core.features import FEATURES  # noqa: E402
from f1_core.intent import ONE_LAP_SESSIONS  # noqa: E402
from f1_core.replay import replay, service_client  # noqa: E402
from f1_core.sources import SessionCatalog, build_source  # noqa: E402
from f1_core.sources.fastf1_source import quiet_console  # noqa: E402
from f1_core.training import held_out, load_warehouse, training_frame  # noqa: E402
from f1_serving.local import LocalService  # noqa: E402


def holdout_of(version: str) -> tuple[list[str], dict[str, float]]:
    """The champion's holdout events and the cuts of its split sessions (its run's tags)."""
    client = registry.client()
    tags = client.get_run(client.get_model_version(registry.MODEL_NAME, version).run_id).data.tags
    return [e for e in tags.get("holdout_events", "").split(",") if e], json.loads(tags.get("holdout_cuts") or "{}")


def served(url: str, key: str, raw, live_dir: Path, intents: dict) -> tuple[dict, dict, float]:
    """Replays one session through the service, each lap asked with its intent (`intents`, by
    driver and lap: practice and qualifying laps as labelled after the fact) and, where it has
    one, asked again without: the answers by (driver, lap) with and without, and the seconds it took."""
    given: dict = {}
    unknown: dict = {}
    with service_client(url, key, timeout=60) as (predict, _):

        def asking(requests: list[dict]) -> list[dict]:
            laps = [(r["driver"], r["lap_number"]) for r in requests]
            asked = [{**r, "intent": intents.get(lap)} for r, lap in zip(requests, laps, strict=True)]
            got = predict(asked)
            given.update(zip(laps, got, strict=True))
            if any(r["intent"] for r in asked):
                unknown.update(zip(laps, predict(requests), strict=True))
            return got

        started = time.perf_counter()
        state = replay(raw.ref, raw, live_dir, asking, speed=1e9, tick=10.0)
    if state.failed_requests:
        sys.exit(f"{raw.ref.key}: {state.failed_requests} requests failed")
    return given, unknown, time.perf_counter() - started


def summary(rows: pl.DataFrame, label: str) -> dict:
    def mae(column):
        return (rows[column] - rows["lap_time_s"]).abs().mean()

    def coverage(lower, upper):
        return ((rows["lap_time_s"] >= rows[lower]) & (rows["lap_time_s"] <= rows[upper])).mean()

    with_previous = metrics.against_previous_clean(rows, "served")
    return {
        "session": label,
        "clean laps": rows.height,
        "served MAE": mae("served"),
        "offline MAE": mae("offline"),
        "served vs offline": mae("served") / mae("offline") - 1,
        # on the laps that have a previous clean lap, both
        "served / prev clean lap": with_previous["ratio"],
        "coverage served": coverage("served_lower", "served_upper"),
        "coverage offline": coverage("lower", "upper"),
        "session context": (rows["context"] == "session").mean(),
    }


def main() -> None:
    quiet_console()  # the sessions' FastF1 warnings are not this benchmark's figures
    version = registry.version_of(registry.CHAMPION)
    if version is None:
        sys.exit("no champion in the registry: run `make run` first")
    events, cuts = holdout_of(version)
    frame = training_frame(*load_warehouse(settings.warehouse_path()))
    holdout = frame.filter(held_out(events, cuts))
    keys = sorted(holdout["session_key"].unique().to_list())
    model = registry.load(version)
    offline = model.predict(holdout.select(FEATURES))
    holdout = holdout.with_columns(offline=offline["lap_time"], lower=offline["lower"], upper=offline["upper"])
    print(
        f"champion v{version}; holdout events {', '.join(events)}: {len(keys)} sessions, "
        f"{holdout.filter(pl.col('clean')).height} clean laps"
    )
    catalog = SessionCatalog([build_source(name) for name in settings.source_names() if name != "live"])
    rows = []
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        _, key = KeyStore(tmp / "api_keys.json").create("viewer", "benchmark")
        env = {
            "F1_API_KEYS": str(tmp / "api_keys.json"),
            "F1_PREDICTION_LOG": str(tmp / "log"),
            "F1_LIVE_DIR": str(tmp / "live"),
        }
        with LocalService(env, log_path=tmp / "service.log") as service:
            for session_key in keys:
                laps = holdout.filter(pl.col("session_key") == session_key)
                intents = {(d, n): i for d, n, i in laps.select("driver", "lap_number", "intent").rows() if i}
                answers, unknown, seconds = served(service.url, key, catalog.load(session_key), tmp / "live", intents)
                got = pl.DataFrame(
                    [
                        {
                            "driver": d,
                            "lap_number": n,
                            "served": a["lap_time"],
                            "served_lower": a["lower"],
                            "served_upper": a["upper"],
                            "context": a["context"],
                            "unknown": unknown.get((d, n), {}).get("lap_time"),
                            "unknown_lower": unknown.get((d, n), {}).get("lower"),
                            "unknown_upper": unknown.get((d, n), {}).get("upper"),
                            "assumed": unknown.get((d, n), {}).get("intent_assumed"),
                        }
                        for (d, n), a in answers.items()
                    ],
                    schema_overrides={
                        "lap_number": pl.Int16,
                        "served": pl.Float64,
                        "served_lower": pl.Float64,
                        "served_upper": pl.Float64,
                        "unknown": pl.Float64,
                        "unknown_lower": pl.Float64,
                        "unknown_upper": pl.Float64,
                        "assumed": pl.Boolean,
                    },
                )
                joined = laps.join(got, on=["driver", "lap_number"], how="left")
                missing = joined.filter(pl.col("clean") & pl.col("served").is_null()).height
                if missing:
                    print(f"  {session_key}: {missing} clean holdout laps were never asked (no start time)")
                rows.append(joined.filter(pl.col("clean") & pl.col("served").is_not_null()))
                print(f"  {session_key}: {len(answers)} laps asked in {seconds:.1f} s")
    table = pl.DataFrame([summary(part, part["session_key"][0]) for part in rows] + [summary(pl.concat(rows), "all")])
    pl.Config.set_tbl_hide_dataframe_shape(True)
    pl.Config.set_tbl_hide_column_data_types(True)
    pl.Config.set_tbl_width_chars(200)
    pl.Config.set_tbl_rows(50)
    pl.Config.set_tbl_cols(20)
    pl.Config.set_fmt_str_lengths(60)
    print(table.with_columns(pl.col(pl.Float64).round(4)))
    overall = table.row(-1, named=True)
    print(
        f"served clean-lap MAE {overall['served MAE']:.4f} s, offline {overall['offline MAE']:.4f} s "
        f"({overall['served vs offline']:+.2%}); coverage served {overall['coverage served']:.3f}"
    )
    races = pl.concat(rows).filter(pl.col("session_type") == "race")
    served_score = metrics.against_previous_clean(races, "served")
    coverage = table.filter(pl.col("session").is_in(races["session_key"].unique().to_list()))
    print(
        f"races, clean laps with a previous clean lap ({served_score['laps']}): "
        f"served {served_score['model_mae_s']:.4f} s vs previous clean lap {served_score['baseline_mae_s']:.4f} s, "
        f"ratio {served_score['ratio']:.3f} "
        f"(target {metrics.TARGET_RATIO['holdout']}); the 90% band covers each race "
        + ", ".join(f"{key} {covered:.3f}" for key, covered in coverage.select("session", "coverage served").rows())
    )
    one_lap(pl.concat(rows).filter(pl.col("session_type").is_in(list(ONE_LAP_SESSIONS))))


def one_lap(laps: pl.DataFrame) -> None:
    """Practice and qualifying as served: push laps asked with their intent against the previous
    push lap, and each session's laps asked without one (the push-lap prediction, `intent_assumed`)."""
    if not laps.height:
        return
    push = metrics.against_previous_push(laps, "served")
    print(
        f"practice and qualifying, clean push laps with a previous push lap ({push['laps']}), asked with their "
        f"intent: served {push['model_mae_s']:.4f} s vs previous push lap {push['baseline_mae_s']:.4f} s, "
        f"ratio {push['ratio']:.3f} (target {metrics.PUSH_TARGET_RATIO})"
    )
    assumed = laps["assumed"].all()
    print(f"the same sessions' clean laps asked without an intent (every answer says intent_assumed: {assumed}):")
    print(metrics.band_by_session(laps, "unknown", "unknown_lower", "unknown_upper"))


if __name__ == "__main__":
    main()
