"""Where a served batch's time goes, in process and single-threaded as a service worker runs it:
the features of one lap (the steps of `live.features_for`, and from a session state), then the champion's
prediction (the float matrix and each booster), for real requests built from the warehouse of
`make run`. Medians of repeated calls, in milliseconds.

    .venv/bin/python benchmarks/serve_batch.py
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

os.environ["POLARS_MAX_THREADS"] = "1"  # as in the service's workers
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import polars as pl  # noqa: E402

from f1_core import features, registry, settings, warehouse  # noqa: E402
from f1_core.catalog import circuit_of_event  # noqa: E402
from f1_core.live import features_for, pipeline_rows, request_for, session_row  # noqa: E402
from f1_core.model import _array, _booster_predict, learner  # noqa: E402
from f1_core.session_state import SessionMeta, SessionState, features_in_session  # noqa: E402


def median_ms(call, repeat: int = 200) -> float:
    for _ in range(5):
        call()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def main() -> None:
    path = settings.warehouse_path()
    session = warehouse.query(
        path, "SELECT * FROM sessions WHERE session_type = 'race' ORDER BY event_date DESC LIMIT 1"
    ).row(0, named=True)
    laps = warehouse.query(path, "SELECT * FROM laps WHERE session_key = ?", [session["session_key"]])
    driver = laps.filter(pl.col("driver") == laps["driver"][0])
    middle = int(driver["lap_number"].median())
    request = request_for(
        driver, middle, season=session["season"], event=session["event_name"], session=session["session_name"]
    )
    print(
        f"one lap: {session['session_key']}, {request.driver} lap {middle} ({len(request.previous_laps)} previous laps)"
    )
    print(f"features_for (the whole feature step)      {median_ms(lambda: features_for([request])):7.2f} ms")

    rows, weather = pipeline_rows(request, "k")
    session_rows = [session_row(request, "k", circuit_of_event(request.event))]
    weathers = [weather] if weather else []
    print(f"  pipeline rows from the request           {median_ms(lambda: pipeline_rows(request, 'k')):7.2f} ms")
    last_lap_ms = median_ms(lambda: features.feature_rows(rows, session_rows, weathers, last_only=True))
    print(f"  feature_rows (the request's last lap)    {last_lap_ms:7.2f} ms")

    # the same lap from the session's state (the whole race landed), as a live session serves it
    weather = warehouse.query(path, "SELECT * FROM weather WHERE session_key = ?", [session["session_key"]])
    meta = SessionMeta(
        session["session_key"],
        session["season"],
        session["event_name"],
        session["session_name"],
        session["circuit_ref"],
    )
    state = SessionState(meta, laps.to_dicts(), weather.to_dicts(), 1, time.time())
    print(
        f"features_in_session (from the state)       {median_ms(lambda: features_in_session(request, state)):7.2f} ms"
    )
    started = time.perf_counter()
    SessionState(meta, laps.to_dicts(), weather.to_dicts(), 1, time.time()).prepared(None)
    print(
        f"  preparing a state of {laps.height} laps from scratch (where rows land, off the request "
        f"path; a landing reuses the laps prepared before) {(time.perf_counter() - started) * 1000:.1f} ms"
    )

    champion = registry.version_of(registry.CHAMPION)
    if champion is None:
        sys.exit("no champion in the registry: run `make run` first")
    model = registry.load(champion)
    served = features_for([request])
    print(f"champion v{champion} predict                       {median_ms(lambda: model.predict(served)):7.2f} ms")
    family = model.models["race"]
    x = _array(served, family.categories, family.inputs)
    array_ms = median_ms(lambda: _array(served, family.categories, family.inputs))
    print(f"  float matrix (_array)                    {array_ms:7.2f} ms")
    print("  boosters, walked by f1_core.trees (the library's own call for the same row, one thread)")
    for key, booster in family.point_models.items():
        if learner(key) == "xgboost":
            booster.get_booster().set_param({"nthread": 1})
    for name, booster in [*family.point_models.items(), *family.quantile_models.items()]:
        label = name if isinstance(name, str) else f"quantile {name:.2f}"
        own = (
            (lambda booster=booster: booster.booster_.predict(x, num_threads=1))
            if hasattr(booster, "booster_")
            else (lambda booster=booster: booster.get_booster().inplace_predict(x, validate_features=False))
        )
        walked_ms = median_ms(lambda booster=booster: _booster_predict(booster, x))
        print(f"    {label:<38} {walked_ms:7.2f} ms ({median_ms(own):.2f} ms)")


if __name__ == "__main__":
    main()
