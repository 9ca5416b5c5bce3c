"""Live accuracy: the service's prediction log joined with the laps as observed."""

from datetime import UTC, datetime, timedelta

import dagster as dg
import polars as pl
import pytest

from f1_assets.defs.monitoring.assets import live_accuracy
from f1_assets.defs.warehouse.resources import WarehouseResource
from f1_core import prediction_log, settings, warehouse
from f1_core.prediction_log import PredictionLog
from tests.test_training import fill_warehouse


def logged(laps: pl.DataFrame, version: str, offset: float, width: float, when: datetime, degraded=False):
    return laps.select(
        pl.lit(when.isoformat()).alias("logged_at"),
        pl.lit(2023).alias("season"),
        pl.lit("Bahrain Grand Prix").alias("event"),
        pl.lit("Race").alias("session"),
        "driver",
        "lap_number",
        (pl.col("lap_time_s") + offset).alias("lap_time"),
        (pl.col("lap_time_s") + offset - width).alias("lower"),
        (pl.col("lap_time_s") + offset + width).alias("upper"),
        pl.lit(version).alias("model_version"),
        pl.lit(degraded).alias("degraded"),
    )


def test_live_mae_per_model_version_session_driver_and_compound():
    fill_warehouse(settings.warehouse_path(), rounds=[1])
    laps = warehouse.query(
        settings.warehouse_path(),
        "SELECT * FROM laps WHERE driver IN ('VER', 'HAM') AND lap_number BETWEEN 2 AND 20 AND lap_time_s IS NOT NULL",
    )
    now = datetime.now(UTC)
    log = PredictionLog(settings.prediction_log_dir())
    # v1 asked twice for VER's lap 5: the later answer counts
    log.append(
        logged(
            laps.filter((pl.col("driver") == "VER") & (pl.col("lap_number") == 5)),
            "1",
            50.0,
            0.5,
            now - timedelta(minutes=1),
        )
    )
    log.append(logged(laps, "1", 1.0, 0.5, now))
    log.append(logged(laps.filter(pl.col("lap_number") <= 10), "2", -2.0, 3.0, now))
    log.append(
        logged(laps, "", 0.0, 0.0, now, degraded=True).with_columns(pl.lit(None, pl.String).alias("model_version"))
    )
    log.close()

    result = dg.materialize([live_accuracy], resources={"warehouse": WarehouseResource()})
    assert result.success
    rows = warehouse.query(settings.warehouse_path(), "SELECT * FROM live_predictions")
    assert rows.height == laps.height + laps.filter(pl.col("lap_number") <= 10).height  # no duplicate, no degraded
    accuracy = warehouse.query(settings.warehouse_path(), "SELECT * FROM live_accuracy")
    overall = {r["model_version"]: r for r in accuracy.filter(pl.col("session_key").is_null()).iter_rows(named=True)}
    assert overall["1"]["mae_all"] == pytest.approx(1.0) and overall["1"]["coverage_clean"] == 0.0
    assert overall["2"]["mae_all"] == pytest.approx(2.0) and overall["2"]["coverage_clean"] == 1.0
    assert overall["1"]["laps"] == laps.height
    per_driver = accuracy.filter(pl.col("driver").is_not_null() & (pl.col("model_version") == "1"))
    assert sorted(per_driver["driver"]) == ["HAM", "VER"]
    per_compound = accuracy.filter(pl.col("compound").is_not_null())
    assert set(per_compound["compound"]) == set(laps["compound"].drop_nulls())
    clean = laps.filter(
        (pl.col("track_status") == "1")
        & pl.col("pit_in_time_s").is_null()
        & pl.col("pit_out_time_s").is_null()
        & ~pl.col("deleted")
        & pl.col("is_accurate")
    )
    assert overall["1"]["clean_laps"] == clean.height


def test_answers_from_a_session_state_and_from_a_request_alone_are_never_pooled():
    """The same laps answered in both contexts: one row per lap and context, MAE per context;
    lines logged before the service had session states count as `request`."""
    fill_warehouse(settings.warehouse_path(), rounds=[1])
    laps = warehouse.query(
        settings.warehouse_path(),
        "SELECT * FROM laps WHERE driver = 'VER' AND lap_number BETWEEN 2 AND 20 AND lap_time_s IS NOT NULL",
    )
    now = datetime.now(UTC)
    log = PredictionLog(settings.prediction_log_dir())
    log.append(logged(laps, "1", 1.0, 0.5, now).with_columns(pl.lit("session").alias("context")))
    log.append(logged(laps, "1", 3.0, 0.5, now))  # no context: an old line
    log.close()
    assert dg.materialize([live_accuracy], resources={"warehouse": WarehouseResource()}).success
    rows = warehouse.query(settings.warehouse_path(), "SELECT * FROM live_predictions")
    assert rows.height == 2 * laps.height and set(rows["context"]) == {"session", "request"}
    overall = warehouse.query(settings.warehouse_path(), "SELECT * FROM live_accuracy WHERE session_key IS NULL")
    assert {r["context"]: r["mae_all"] for r in overall.iter_rows(named=True)} == {
        "session": pytest.approx(1.0),
        "request": pytest.approx(3.0),
    }


def test_with_no_prediction_logged_the_tables_are_empty_not_missing():
    fill_warehouse(settings.warehouse_path(), rounds=[1])
    assert dg.materialize([live_accuracy], resources={"warehouse": WarehouseResource()}).success
    assert warehouse.query(settings.warehouse_path(), "SELECT count(*) AS n FROM live_predictions")["n"][0] == 0


def test_the_log_keeps_columns_with_their_rows_and_refuses_lists_that_do_not_fit(tmp_path):
    log = PredictionLog(tmp_path, flush_seconds=3600)
    now = datetime.now(UTC).isoformat()
    log.append(
        pl.DataFrame({"lap_number": [3, 4]}),
        {"logged_at": [now] * 2, "driver": ["VER", "HAM"], "lap_time": [90.1, 91.2]},
    )
    log.append(pl.DataFrame({"lap_number": [7]}), {"logged_at": [now], "driver": ["LEC"], "lap_time": [float("nan")]})
    with pytest.raises(ValueError, match="lap_time"):
        log.append(pl.DataFrame({"lap_number": [5]}), {"driver": ["VER"], "lap_time": [1.0, 2.0]})
    log.close()
    rows = prediction_log.read(tmp_path).sort("lap_number")
    assert rows.select("lap_number", "driver", "lap_time").rows() == [
        (3, "VER", 90.1),
        (4, "HAM", 91.2),
        (7, "LEC", None),
    ]


def test_the_log_takes_feature_rows_as_dicts_keeping_its_schema_fields(tmp_path):
    """The service appends its batches' feature rows as they are (dicts holding more than the
    features); the log keeps the fields of its schema, with their types."""
    now = datetime.now(UTC).isoformat()
    with pytest.raises(ValueError, match="schema"):
        PredictionLog(tmp_path / "none", flush_seconds=3600).append([{"lap_number": 3}], {"logged_at": [now]})
    log = PredictionLog(tmp_path, flush_seconds=3600, schema={"lap_number": pl.Int16, "fuel_kg": pl.Float64})
    log.append(
        [{"lap_number": 3, "fuel_kg": 50.5, "_fc": 91.0}, {"lap_number": 4, "fuel_kg": None, "_fc": None}],
        {"logged_at": [now] * 2, "driver": ["VER", "VER"]},
    )
    log.close()
    rows = prediction_log.read(tmp_path).sort("lap_number")
    assert "_fc" not in rows.columns
    assert rows.select("lap_number", "fuel_kg", "driver").rows() == [(3, 50.5, "VER"), (4, None, "VER")]
