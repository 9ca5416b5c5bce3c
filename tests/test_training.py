"""Training, the MLflow pyfunc, the promotion gate and rollback, on real archive sessions."""

import json
import logging

import dagster as dg
import numpy as np
import polars as pl
import pytest

from f1_core import registry, settings, warehouse
from f1_core.features import NOT_CLEAN_RULES
from f1_core.model import ModelParams
from f1_core.sources.archive import ArchiveSource
from f1_core.standardize import standardize
from f1_core.training import continue_and_evaluate, load_warehouse, train_and_evaluate, training_frame

# eight 2023 races: enough events for 3 folds and a 2-event holdout, quick to train
SMALL = ModelParams(n_estimators=60)


def fill_warehouse(path, rounds=range(1, 9)):
    source = ArchiveSource(settings.SHARED_F1DATA / "archive")
    for ref in source.catalog([2023]):
        if ref.round in rounds:
            standard = standardize(source.load(ref))
            warehouse.replace_session(
                path,
                ref.key,
                {
                    "sessions": standard.session,
                    "laps": standard.laps,
                    "weather": standard.weather,
                    "quarantine": standard.quarantine,
                },
            )


@pytest.fixture(scope="module")
def frame(tmp_path_factory):
    path = tmp_path_factory.mktemp("warehouse") / "warehouse"
    fill_warehouse(path)
    return training_frame(*load_warehouse(path))


def test_same_data_and_seed_give_the_same_metrics(frame):
    first = train_and_evaluate(frame, SMALL, folds=3)
    second = train_and_evaluate(frame, SMALL, folds=3)
    assert first.metrics == second.metrics
    assert first.holdout["prediction"].equals(second.holdout["prediction"])
    other_seed = train_and_evaluate(frame, SMALL.model_copy(update={"seed": 8}), folds=3)
    assert other_seed.metrics != first.metrics


def test_holdout_is_the_most_recent_events_and_never_trained_on(frame):
    result = train_and_evaluate(frame, SMALL, folds=3)
    assert result.holdout_events == ["2023-07", "2023-08"]
    train = frame.filter(pl.col("event").is_in(result.train_events))
    assert result.holdout["event_date"].min() > train["event_date"].max()
    assert result.metrics["holdout_mae_clean"] < result.metrics["holdout_baseline_rolling_mean_mae_clean"]


def test_a_drifted_session_in_the_holdout_trains_on_its_first_half_and_is_judged_on_the_rest(frame):
    from f1_core.training import holdout_split

    newest = frame.filter(pl.col("event") == "2023-08")["session_key"][0]
    train, holdout, cuts = holdout_split(frame, 0.2, learn_from=[newest, "2023-01-bahrain-grand-prix-race"])
    session = frame.filter(pl.col("session_key") == newest)
    assert list(cuts) == [newest]  # an older session trains whole anyway
    assert cuts[newest] == pytest.approx(session["session_time_s"].quantile(0.5))
    # split in time: every training lap of it ended before any held-out lap of it started
    early = train.filter(pl.col("session_key") == newest)
    late = holdout.filter(pl.col("session_key") == newest)
    assert early.height > 300 and late.height > 300
    assert early["session_time_s"].max() < cuts[newest] <= late["lap_start_time_s"].min()
    # the laps running across the cut (about one per driver) are in neither
    across = session.height - early.height - late.height
    assert 0 < across <= session["driver"].n_unique()
    assert train.height + holdout.height + across == frame.height
    assert train.join(holdout, on=["session_key", "driver", "lap_number"]).height == 0

    champion = train_and_evaluate(frame, SMALL, folds=3)
    result = continue_and_evaluate(frame, champion.model, champion.train_events, 25, SMALL, learn_from=[newest])
    assert result.holdout_cuts == cuts and "2023-08" in result.train_events
    assert result.holdout.height == holdout.height


def test_intervals_contain_the_prediction_and_cover_about_ninety_percent(frame):
    result = train_and_evaluate(frame, SMALL, folds=3)
    holdout = result.holdout
    assert (holdout["lower"] <= holdout["prediction"]).all()
    assert (holdout["prediction"] <= holdout["upper"]).all()
    races = holdout.filter(pl.col("clean"))
    inside = ((races["lap_time_s"] >= races["lower"]) & (races["lap_time_s"] <= races["upper"])).mean()
    assert 0.8 <= inside <= 0.98


def test_pyfunc_returns_point_and_interval(frame):
    import mlflow

    result = train_and_evaluate(frame, SMALL, folds=3)
    registry.ensure_experiment()
    with mlflow.start_run(experiment_id=registry.ensure_experiment()):
        version = registry.log_model(result.model, result.holdout.head(20))
    loaded = mlflow.pyfunc.load_model(f"models:/{registry.MODEL_NAME}/{version}")
    from f1_core.features import FEATURES

    out = loaded.predict(result.holdout.head(100).select(FEATURES).to_pandas())
    assert list(out.columns) == ["lap_time", "lower", "upper"]
    assert len(out) == 100
    assert (out["lower"] <= out["lap_time"]).all() and (out["lap_time"] <= out["upper"]).all()
    expected = result.model.predict(result.holdout.head(100))
    assert out["lap_time"].tolist() == pytest.approx(expected["lap_time"].to_list())


def register(result) -> str:
    return register_model(result.model, result.holdout)


def register_model(model, example: pl.DataFrame) -> str:
    import mlflow

    with mlflow.start_run(experiment_id=registry.ensure_experiment()):
        return registry.log_model(model, example.head(20))


def test_gate_promotes_better_models_refuses_worse_ones_and_rollback_restores(frame):
    good = train_and_evaluate(frame, SMALL, folds=3)
    baseline = min(good.metrics[k] for k in good.metrics if k.startswith("holdout_baseline") and k.endswith("clean"))
    v1 = register(good)
    first = registry.promotion_gate(v1, good.holdout, baseline, margin=0.02, coverage_tolerance=0.01)
    assert first.promoted and registry.version_of("champion") == v1
    assert "first model" in first.reason and "PROMOTED" in first.report

    worse = train_and_evaluate(frame, ModelParams(n_estimators=2, learning_rate=0.01, learners=["lightgbm"]), folds=3)
    v2 = register(worse)
    refused = registry.promotion_gate(v2, good.holdout, baseline, margin=0.02, coverage_tolerance=0.01)
    assert not refused.promoted
    assert registry.version_of("champion") == v1 and registry.version_of("challenger") == v2
    assert f"champion v{v1}" in refused.report and "NOT PROMOTED" in refused.report

    v3 = register(good)  # as good as v1: promoted only when the margin asks for no improvement
    assert not registry.promotion_gate(v3, good.holdout, baseline, 0.02, 0.01).promoted
    assert registry.promotion_gate(v3, good.holdout, baseline, 0.0, 0.01).promoted
    assert registry.version_of("champion") == v3

    assert registry.model_card(v3)["champions"] == [str(v1), str(v3)]
    assert registry.rollback() == (v3, v1)
    assert registry.version_of("champion") == v1
    card = registry.model_card(v1)  # what the service tells of promotions and rollbacks
    assert card["champions"] == [str(v1)] and card["rolled_back"] == [str(v3)]
    with pytest.raises(RuntimeError, match="no earlier champion"):
        registry.rollback()


def test_after_drift_the_gate_asks_the_margin_on_the_drifted_sessions_and_no_regression_elsewhere(frame):
    from f1_core.training import holdout_split

    newest = frame.filter(pl.col("event") == "2023-08")["session_key"][0]
    _, holdout, cuts = holdout_split(frame, 0.2, learn_from=[newest])
    good = train_and_evaluate(frame, SMALL, folds=3)
    v1 = register(good)
    assert registry.promotion_gate(v1, holdout, 1e9, 0.02, 0.01).promoted
    # far better on the drifted laps, but 0.3 s slower on every other lap: refused for the rest
    forgot = register_model(Nudged(good.model, newest, toward_truth=0.9, elsewhere=0.3), good.holdout)
    refused = registry.promotion_gate(forgot, holdout, 1e9, 0.02, 0.01, focus=list(cuts))
    assert not refused.promoted and "needs 2% better: yes" in refused.reason
    assert "at most 1% worse: no" in refused.reason, refused.reason
    assert (
        f"| champion v{v1}, drifted sessions |" in refused.report
        and f"| challenger v{forgot}, rest |" in refused.report
    )
    # better on the drifted laps only (a third of the way to the truth there, the same elsewhere):
    # the whole-holdout rule refuses it, those laps being a fraction of the holdout; the drift rule not
    learnt = register_model(Nudged(good.model, newest, toward_truth=0.3), good.holdout)
    assert not registry.promotion_gate(learnt, holdout, 1e9, 0.2, 0.01).promoted
    passed = registry.promotion_gate(learnt, holdout, 1e9, 0.2, 0.01, focus=list(cuts))
    assert passed.promoted and passed.reason.startswith("on the drifted sessions' held-out laps"), passed.reason


class Nudged:
    """A model that is `base` moved `toward_truth` of the way to the real lap time on one
    session's laps and `elsewhere` seconds slower on every other lap, its interval left as it
    was: a challenger whose strengths the gate must see where they are."""

    def __init__(self, base, session: str, toward_truth: float, elsewhere: float = 0.0):
        self.base, self.session, self.toward_truth, self.elsewhere = base, session, toward_truth, elsewhere

    def predict(self, laps: pl.DataFrame) -> pl.DataFrame:
        out = self.base.predict(laps)
        error = laps["lap_time_s"].fill_null(out["lap_time"]) - out["lap_time"]
        here = laps["session_key"] == self.session
        moved = pl.select(
            pl.when(here).then(out["lap_time"] + self.toward_truth * error).otherwise(out["lap_time"] + self.elsewhere)
        ).to_series()
        return out.with_columns(moved.alias("lap_time"))


def test_training_job_registers_and_promotes_with_lineage_and_metadata(monkeypatch, tmp_path):
    fill_warehouse(settings.warehouse_path())
    from f1_assets.definitions import defs

    config = {"ops": {"lap_time_model": {"config": {"n_estimators": 150, "cv_folds": 3}}}}
    with dg.instance_for_test() as instance:
        result = defs().resolve_job_def("train_model_job").execute_in_process(instance=instance, run_config=config)
        assert result.success
        checks = {
            e.asset_check_evaluation_data.check_name: e.asset_check_evaluation_data.passed
            for e in result.all_events
            if e.event_type_value == "ASSET_CHECK_EVALUATION"
        }
        assert checks == {"lap_features_expectations": True, "lap_features_pace_rule": True}
        meta = {
            m.asset_key.to_user_string(): m.materialization.metadata for m in result.get_asset_materialization_events()
        }
    import mlflow

    assert meta["lap_time_model"]["model_version"].value == "1"
    removed = meta["lap_features"]["laps_removed_by_rule"].value
    assert list(removed) == list(NOT_CLEAN_RULES) and removed["first_lap"] > 0
    assert meta["champion_model"]["promoted"].value is True, meta["champion_model"]["reason"].value
    assert "PROMOTED" in meta["champion_model"]["report"].value
    run = mlflow.get_run(meta["lap_time_model"]["mlflow_run_id"].value)
    assert run.data.tags["data_version"] == meta["lap_time_model"]["data_version"].value
    assert "code_version" in run.data.tags and run.data.metrics["holdout_mae_clean"] > 0
    artifacts = {a.path for a in mlflow.MlflowClient().list_artifacts(run.info.run_id, "evaluation")}
    assert {"evaluation/residuals_by_lap.png", "evaluation/importance.csv"} <= artifacts
    assert warehouse.query(settings.warehouse_path(), "SELECT count(*) AS n FROM lap_features")["n"][0] > 5000
    assert run.data.tags["retrain_mode"] == "full"

    # `f1 train --incremental` continues the champion and says so, in its output and its run
    import re

    from click.testing import CliRunner

    from f1_assets.cli import main

    # here learning from the newest race as if it had drifted: split in time, judged on its rest
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    newest = "2023-08-canadian-grand-prix-race"
    trained = CliRunner().invoke(main, ["train", "--incremental", "--trees", "20", "--learn-from", newest])
    assert trained.exit_code == 0, trained.output
    assert "model f1-laptime v2 (incremental)" in trained.output
    assert "promotion: " in trained.output and "on the drifted sessions' held-out laps" in trained.output
    tags = mlflow.get_run(re.search(r"\(run (\w+)\)", trained.output).group(1)).data.tags
    assert tags["retrain_mode"] == "incremental" and tags["retrain_base_version"] == "1"
    assert "(continued)" in tags["blend"] and list(json.loads(tags["holdout_cuts"])) == [newest]


def test_incremental_retraining_continues_the_champions_boosters(frame, caplog):
    """The continued model is the champion's trees plus new ones fitted on today's training laps,
    with the champion's calibrated interval; the champion itself is left untouched. Each reports
    its progress, a step at a time up to the total it announced (races only: no one-lap model)."""
    from f1_core.model import _array

    caplog.set_level(logging.INFO, logger="f1.progress")
    early_events = sorted(frame["event"].unique().to_list())[:5]
    champion = train_and_evaluate(frame.filter(pl.col("event").is_in(early_events)), SMALL, folds=2)
    assert [r.progress for r in caplog.records] == [
        ("training", 1, 3, "race laps, cross-validation fold 1 of 2"),
        ("training", 2, 3, "race laps, cross-validation fold 2 of 2"),
        ("training", 3, 3, "race laps, the model on every training event"),
    ]
    caplog.clear()
    old = champion.model.models["race"]
    trees = {name: _trees(m) for name, m in old.point_models.items()}
    result = continue_and_evaluate(frame, champion.model, champion.train_events, 25, SMALL, folds=3)
    assert [r.progress for r in caplog.records] == [("training", 1, 1, "race laps, 25 more trees on the champion's")]
    new = result.model.models["race"]
    assert result.holdout_events == ["2023-07", "2023-08"]
    assert set(result.train_events) == set(champion.train_events) | {f"2023-0{r}" for r in range(1, 7)}
    assert new.blend == old.blend and new.conformal_margin == old.conformal_margin
    assert not any(k.startswith("cv_") for k in result.metrics)  # no cross-validation was run
    x = _array(result.holdout.filter(pl.col("reference_fc_s").is_not_null()), new.categories, new.inputs)
    for name, model in new.point_models.items():
        assert _trees(model) == trees[name] + 25 and _trees(old.point_models[name]) == trees[name]
        # the first trees are the champion's own: cut there, the new model predicts what it did
        assert _predict_first(model, x, trees[name]).tolist() == pytest.approx(
            _predict_first(old.point_models[name], x, trees[name]).tolist(), abs=1e-9
        )
    # the interval is the champion's: its quantile models with the margins calibrated for them
    assert new.quantile_models is old.quantile_models
    # the new trees learnt from the new events: the holdout prediction moved, and got better
    assert result.metrics["holdout_mae_clean"] < registry._score(champion.model, result.holdout)["mae_clean"]


def _trees(model) -> int:
    if hasattr(model, "booster_"):
        return model.booster_.num_trees()
    return model.get_booster().num_boosted_rounds()


def _predict_first(model, x, trees: int):
    if hasattr(model, "booster_"):
        return model.booster_.predict(x, num_iteration=trees)
    return model.get_booster().inplace_predict(x, iteration_range=(0, trees))


def test_shap_contributions_add_up_to_the_prediction(frame):
    result = train_and_evaluate(frame, SMALL, folds=3)
    laps = result.holdout.filter(pl.col("reference_fc_s").is_not_null()).head(50)
    shap = result.model.contributions(laps)
    # TreeSHAP is exact: contributions plus bias give the predicted difference from the reference
    delta = laps["prediction"] - laps["reference_fc_s"] - laps["fuel_kg"].fill_null(0.0) * 0.035
    assert shap.sum_horizontal().to_list() == pytest.approx(delta.to_list(), abs=1e-3)
    importance = result.model.feature_importance()
    assert importance.height == len(result.model.models["race"].inputs)
    assert 0 < importance["gain"][0] < 0.9 and importance["gain"].sum() == pytest.approx(1.0)


def test_fast_prediction_paths_equal_the_libraries_own(frame):
    """Serving predicts from a float matrix: a few rows through `f1_core.trees`, many straight
    into the boosters. On real laps, with an unseen category and missing values, both give
    exactly what the libraries give (their pandas path; their own walk of the same matrix)."""
    from f1_core.features import FUEL_SECONDS_PER_KG
    from f1_core.model import SINGLE_THREAD_ROWS, LapTimeModel, _array, _booster_predict, _matrix

    model = LapTimeModel(params=SMALL).fit(frame)
    laps = frame.tail(300).with_columns(
        pl.when(pl.int_range(pl.len()) % 7 == 0)
        .then(pl.lit("never_seen"))
        .otherwise(pl.col("session_type"))
        .alias("session_type")
    )
    fast, slow = _array(laps, model.categories, model.inputs), _matrix(laps, model.categories, model.inputs)
    # a served batch's feature rows make the same matrix as their frame
    np.testing.assert_array_equal(_array(laps.to_dicts(), model.categories, model.inputs), fast)
    holes = fast.copy()  # missing values in every input, the categorical one included
    holes[np.random.default_rng(3).random(holes.shape) < 0.2] = np.nan
    learners = [*model.point_models.values(), *model.quantile_models.values()]
    # LightGBM and XGBoost point models of two seeds each, two quantile models
    assert sorted(model.point_models) == ["lightgbm", "lightgbm@2", "xgboost", "xgboost@2"] and len(learners) == 6
    assert len(fast) >= SINGLE_THREAD_ROWS
    # the point prediction is the reference pace and fuel plus the mean of every seed's model
    with_reference = laps.filter(pl.col("reference_fc_s").is_not_null())
    x = _array(with_reference, model.categories, model.inputs)
    fuel = with_reference["fuel_kg"].fill_null(0.0).to_numpy() * FUEL_SECONDS_PER_KG
    mean = np.mean([_booster_predict(m, x) for m in model.point_models.values()], axis=0)
    expected = with_reference["reference_fc_s"].to_numpy() + fuel + mean
    np.testing.assert_allclose(model.predict(with_reference, interval=False)["lap_time"].to_numpy(), expected)
    for learner in learners:
        many = _booster_predict(learner, fast)
        assert many.tolist() == pytest.approx(learner.predict(slow).tolist(), abs=1e-9)
        few = np.concatenate([_booster_predict(learner, fast[i : i + 7]) for i in range(0, len(fast), 7)])
        assert few.tolist() == many.tolist()  # bit for bit
        if hasattr(learner, "booster_"):
            own = learner.booster_.predict(holes)
        else:
            own = learner.get_booster().inplace_predict(holes)
        assert (
            np.concatenate([_booster_predict(learner, holes[i : i + 1]) for i in range(len(holes))]).tolist()
            == own.tolist()
        )


def test_the_registry_follows_the_data_folder_and_the_environment_keeps_only_the_users_uri(monkeypatch, tmp_path):
    import os

    import mlflow

    for folder in ("first", "second"):
        monkeypatch.setenv("F1_DATA_DIR", str(tmp_path / folder))
        registry.client()
        assert mlflow.get_tracking_uri() == f"sqlite:///{tmp_path / folder / 'mlflow.db'}"
        assert "MLFLOW_TRACKING_URI" not in os.environ  # MLflow wrote it there; it would pin the first
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'chosen.db'}")
    registry.client()
    assert os.environ["MLFLOW_TRACKING_URI"] == mlflow.get_tracking_uri() == f"sqlite:///{tmp_path / 'chosen.db'}"
