"""A lap's intent in practice and qualifying: the labels after the fact, against their definition
worked by hand and on real sessions; the push-lap features and baseline; the push laps' model."""

import numpy as np
import polars as pl
import pytest

from f1_core.features import lap_features, timing_reason
from f1_core.intent import labelled, predicted_intent, with_intents
from f1_core.model import model_of
from f1_core.standardize import standardize


def lap(number, time, stint=1, status="1", pit=None) -> dict:
    return {
        "session_key": "q",
        "driver": "A",
        "lap_number": number,
        "stint": stint,
        "lap_time_s": time,
        "track_status": status,
        "pit_in_time_s": 1.0 if pit == "in" else None,
        "pit_out_time_s": 1.0 if pit == "out" else None,
        "deleted": False,
        "is_accurate": True,
    }


# best lap 80.0 s: push laps are at most 82.4 s (103%), a race simulation's laps at most 88.0 s (110%)
LAPS = [
    lap(1, 110.0, pit="out"),  # out-lap: no label
    lap(2, 80.0),  # push (the best)
    lap(3, 105.0),  # cool-down
    lap(4, 82.3),  # push
    lap(5, 82.5),  # over 103%, alone: cool-down
    lap(6, 81.0, status="2"),  # yellow: no label
    lap(7, 95.0, pit="in"),  # in-lap: no label
    lap(8, 120.0, stint=2, pit="out"),
    lap(9, 86.0, stint=2),  # five laps in a row within 110%: a race simulation,
    lap(10, 82.0, stint=2),  # the one within 103% too
    lap(11, 87.9, stint=2),
    lap(12, 87.95, stint=2),
    lap(13, 86.5, stint=2),
    lap(14, 88.1, stint=2),  # over 110%: ends the run, a cool-down
    lap(15, 84.0, stint=2),  # four in a row within 110% (15-18): no race simulation
    lap(16, 84.0, stint=2),
    lap(17, 82.0, stint=2),  # push
    lap(18, 84.0, stint=2),
    lap(19, 84.0, stint=3),  # a new stint breaks the run
]
EXPECTED = [None, "push", "cool_down", "push", "cool_down", None, None, None]
EXPECTED += ["race_sim"] * 5 + ["cool_down", "cool_down", "cool_down", "push", "cool_down", "cool_down"]


def test_labels_follow_their_definition_worked_by_hand():
    rows = [{**EMPTY, **row} for row in LAPS]
    assert labelled(rows, [timing_reason(row) is None for row in rows]) == EXPECTED


EMPTY = {"compound": "SOFT", "tyre_life": 2, "lap_start_time_s": None, "session_time_s": None}


def sessions(kind: str) -> pl.DataFrame:
    return pl.DataFrame(
        {"session_key": ["q"], "season": [2024], "circuit_ref": ["x"], "session_type": [kind], "total_laps": [None]}
    )


def test_one_lap_sessions_are_labelled_races_are_not_and_a_given_intent_is_kept():
    laps = pl.DataFrame([{**EMPTY, **row} for row in LAPS])
    assert with_intents(laps, sessions("qualifying"))["intent"].to_list() == EXPECTED
    assert with_intents(laps, sessions("race"))["intent"].null_count() == laps.height
    given = laps.with_columns(pl.when(pl.col("lap_number") == 3).then(pl.lit("push")).alias("intent"))
    assert with_intents(given, sessions("practice"))["intent"][2] == "push"
    # rows in any order get the same labels
    shuffled = with_intents(laps.reverse(), sessions("qualifying")).sort("lap_number")
    assert shuffled["intent"].to_list() == EXPECTED


def test_push_lap_features_and_baseline_worked_by_hand():
    """A lap's last push lap is the driver's last clean lap within 103% of their best clean lap
    so far (known when the lap starts, whatever the labels); the baseline is their last lap
    labelled push. In practice and qualifying the last push lap is the reference pace."""
    times = [(2, 90.0), (3, 110.0), (4, 88.0), (5, 95.0), (6, 90.5), (7, 89.0)]
    start = 0.0
    rows = []
    for number, time in times:
        rows.append({**lap(number, time), **EMPTY, "lap_start_time_s": start, "session_time_s": start + time})
        start += time
    laps = with_intents(pl.DataFrame(rows), sessions("qualifying"))
    # labels after the fact, against the session's best (88.0): push laps are at most 90.64 s
    assert laps["intent"].to_list() == ["push", "cool_down", "push", "cool_down", "push", "push"]
    frame = lap_features(laps, sessions("qualifying")).sort("lap_number")
    got = {row["lap_number"]: row for row in frame.iter_rows(named=True)}
    # lap 2's 90.0 was the best so far when it ended: a push lap for the laps after it
    assert got[2]["prev_push_lap_fc_s"] is None
    assert got[3]["prev_push_lap_fc_s"] == 90.0 and got[3]["laps_since_push"] == 1
    assert got[5]["prev_push_lap_fc_s"] == 88.0 and got[5]["laps_since_push"] == 1
    assert got[6]["prev_push_lap_fc_s"] == 88.0 and got[6]["laps_since_push"] == 2  # 95.0 > 103% of 88.0
    assert got[7]["prev_push_lap_fc_s"] == 90.5  # 90.5 <= 90.64
    assert [got[n]["reference_fc_s"] for n in (3, 5, 6, 7)] == [90.0, 88.0, 88.0, 90.5]
    assert [got[n]["prev_push_lap_time_s"] for n in (2, 3, 4, 5, 6, 7)] == [None, 90.0, 90.0, 88.0, 88.0, 90.5]
    assert got[7]["intent"] == "push"
    # in a race neither the intent nor the push lap leads
    race = lap_features(laps, sessions("race")).sort("lap_number")
    assert race["intent"].null_count() == race.height
    assert race.filter(pl.col("lap_number") == 6)["reference_fc_s"].item() == 95.0  # the last clean lap


def test_which_model_answers_a_lap():
    assert model_of("race", None) == model_of("sprint", "push") == "race"
    assert model_of("qualifying", None) == model_of("practice", "push") == "push"
    assert model_of("sprint_qualifying", "cool_down") == model_of("practice", "race_sim") == "one_lap"
    assert predicted_intent("qualifying", None) == ("push", True)
    assert predicted_intent("practice", "race_sim") == ("race_sim", False)
    assert predicted_intent("race", "push") == (None, False)


def test_real_sessions_labels(real_session):
    """Qualifying: every driver's fastest green lap is a push lap and nothing is a race
    simulation. Practice: long runs are race simulations, and every label keeps its definition."""
    quali = standardize(real_session("2024-10-spanish-grand-prix-qualifying"))
    laps = with_intents(quali.laps, quali.session)
    assert set(laps["intent"].drop_nulls()) <= {"push", "cool_down"}
    green = laps.filter(pl.col("intent").is_not_null())
    fastest = green.sort("lap_time_s").group_by("driver", maintain_order=True).first()
    assert set(fastest["intent"]) == {"push"} and fastest.height == 20
    # in/out laps and laps under yellow carry no label
    pit = laps.filter(pl.col("pit_in_time_s").is_not_null() | pl.col("pit_out_time_s").is_not_null())
    assert pit.height > 0 and pit["intent"].null_count() == pit.height

    practice = standardize(real_session("2021-14-italian-grand-prix-practice-2"))
    labels = with_intents(practice.laps, practice.session).filter(pl.col("intent").is_not_null())
    best = pl.col("lap_time_s").min().over("driver")
    ratio = labels.with_columns((pl.col("lap_time_s") / best).alias("ratio"))
    assert ratio.filter(pl.col("intent") == "push")["ratio"].max() <= 1.03
    assert ratio.filter(pl.col("intent") == "race_sim")["ratio"].max() <= 1.10
    cool = ratio.filter(pl.col("intent") == "cool_down")
    assert cool.height > 0 and cool["ratio"].min() > 1.03
    runs = labels.filter(pl.col("intent") == "race_sim").group_by("driver", "stint").len()
    assert runs.height >= 10 and runs["len"].min() >= 5


@pytest.mark.parametrize("kind", ["practice", "qualifying", "sprint_qualifying"])
def test_one_lap_sessions_use_the_push_lap_as_reference(kind):
    timing = [(2, 80.0), (3, 100.0), (4, 80.5)]
    rows = [{**lap(n, t), **EMPTY, "lap_start_time_s": 100.0 * n, "session_time_s": 100.0 * n + t} for n, t in timing]
    frame = lap_features(pl.DataFrame(rows), sessions(kind)).sort("lap_number")
    assert frame["reference_fc_s"].to_list()[1:] == [80.0, 80.0]


ONE_LAP = [
    "2019-14-italian-grand-prix-qualifying",
    "2021-18-mexico-city-grand-prix-qualifying",
    "2021-21-saudi-arabian-grand-prix-qualifying",
    "2023-04-azerbaijan-grand-prix-qualifying",
    "2024-10-spanish-grand-prix-qualifying",
]


@pytest.fixture(scope="module")
def qualifying(real_session, tmp_path_factory):
    """A model trained on five real qualifying sessions (the newest held out)."""
    from f1_core import warehouse
    from f1_core.training import load_warehouse, train_and_evaluate, training_frame
    from tests.test_training import SMALL

    path = tmp_path_factory.mktemp("quali") / "warehouse"
    for key in ONE_LAP:
        standard = standardize(real_session(key))
        tables = {"sessions": standard.session, "laps": standard.laps, "weather": standard.weather}
        warehouse.replace_session(path, key, {**tables, "quarantine": standard.quarantine})
    return train_and_evaluate(training_frame(*load_warehouse(path)), SMALL, folds=3)


def test_push_laps_have_their_own_model_and_a_lap_without_intent_is_a_push_lap(qualifying):
    model = qualifying.model
    assert {"push", "one_lap"} <= set(model.models)
    push = model.models["push"]
    assert push.fit_intent == "push" and push.assumed_margin
    laps = qualifying.holdout.filter(pl.col("clean") & pl.col("intent").is_not_null())
    cool = laps.filter(pl.col("intent") == "cool_down").head(5)
    pushed = laps.filter(pl.col("intent") == "push").head(5)
    assert cool.height and pushed.height
    # a cool-down lap is the one-lap model's; asked without an intent, the push model's
    as_cool = model.predict(cool)
    unknown = cool.with_columns(pl.lit(None, pl.String).alias("intent"))
    as_unknown = model.predict(unknown)
    assert as_cool["lap_time"].to_list() == model.models["one_lap"].predict(cool)["lap_time"].to_list()
    assert as_unknown["lap_time"].to_list() == push.predict(cool)["lap_time"].to_list()
    # the band of a lap asked without an intent covers every kind of lap: wider than a push lap's
    pushed_band = model.predict(pushed)
    known = (pushed_band["upper"] - pushed_band["lower"]).mean()
    unknown_band = model.predict(pushed.with_columns(pl.lit(None, pl.String).alias("intent")))
    assert (unknown_band["lap_time"] - pushed_band["lap_time"]).abs().max() < 1e-9
    assert (unknown_band["upper"] - unknown_band["lower"]).mean() > 2 * known


def test_contributions_of_laps_of_different_models_add_up_each_to_its_prediction(qualifying):
    """Push and cool-down laps together: each lap's SHAP values come from the model that predicts
    it (null for the inputs it does not read) and add up to its prediction."""
    model = qualifying.model
    laps = qualifying.holdout.filter(pl.col("clean") & pl.col("reference_fc_s").is_not_null())
    mixed = pl.concat(
        [laps.filter(pl.col("intent") == "push").head(4), laps.filter(pl.col("intent") == "cool_down").head(4)]
    )
    shap = model.contributions(mixed)
    assert shap.height == 8
    assert shap["intent"][:4].null_count() == 4 and shap["intent"][4:].null_count() == 0
    total = shap.fill_null(0.0).sum_horizontal().to_numpy()
    predicted = model.predict(mixed, interval=False)["lap_time"].to_numpy()
    assert total == pytest.approx(predicted - mixed["reference_fc_s"].to_numpy(), abs=1e-4)


def test_the_band_without_intent_is_calibrated_on_the_scale_prediction_uses(qualifying):
    """The margins of laps asked for without an intent are conformal quantiles of every racing
    lap's scores, each divided by its session's volatility against the one typical volatility
    the model predicts with (the push laps')."""
    from f1_core.model import _conformal_quantile

    push = qualifying.model.models["push"]
    # the training sessions' laps, of every intent
    laps = qualifying.cross_validated.drop("prediction").filter(pl.col("lap_time_s").is_not_null())
    # push laps at 0.3 and 0.5 in turn, the others at 0.6: the push laps' typical volatility
    # (0.3 or 0.4) is not every lap's (0.5)
    push_lap = (pl.col("intent") == "push").fill_null(False)
    in_turn = pl.when(pl.int_range(pl.len()).over("intent") % 2 == 0).then(0.3).otherwise(0.5)
    laps = laps.with_columns(pl.when(push_lap).then(in_turn).otherwise(0.6).alias("field_volatility_s"))
    raw = push.raw_predict(laps)
    push.calibrate_from(laps, raw)
    y = laps["lap_time_s"].to_numpy()
    rows = (laps["representative"] & laps["reference_fc_s"].is_not_null()).to_numpy()
    scale = push._volatility_scale(laps)
    above = ((y - raw["upper"].to_numpy()) / scale)[rows]
    assert push.assumed_margin[""][1] == pytest.approx(_conformal_quantile(above, 0.95))
    own = rows & (laps["intent"] == "push").fill_null(False).to_numpy()
    volatility = laps["field_volatility_s"].to_numpy()[own]
    assert push.typical_volatility == pytest.approx(float(np.nanmedian(volatility)))
    assert push.typical_volatility < 0.45
