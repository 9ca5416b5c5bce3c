"""f1_core.trees against the libraries on boosters that use every kind of split the walk knows:
numeric and categorical, in LightGBM and XGBoost, with each LightGBM missing-value type.
(The lap-time models of tests/test_training.py happen to make numeric splits only.)"""

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
import xgboost as xgb

from f1_core.trees import (
    LIGHTGBM_CATEGORY,
    LIGHTGBM_NUMERIC,
    MISSING_NAN,
    MISSING_NONE,
    MISSING_ZERO,
    XGBOOST_CATEGORY,
    XGBOOST_NUMERIC,
    flat_trees,
)


@pytest.fixture(scope="module")
def data():
    """A target that moves with a category, a complete column, one with holes and one with zeros."""
    rng = np.random.default_rng(11)
    n = 3000
    category = rng.integers(0, 5, n)
    complete = rng.normal(size=n)
    holes = np.where(rng.random(n) < 0.2, np.nan, rng.normal(size=n))
    zeros = np.where(rng.random(n) < 0.3, 0.0, rng.normal(size=n))
    y = (
        np.array([0.0, 3.0, -2.0, 1.0, 5.0])[category]
        + complete
        + np.nan_to_num(holes) * 2
        + (zeros == 0) * 1.5
        + rng.normal(scale=0.1, size=n)
    )
    frame = pd.DataFrame(
        {
            "category": pd.Categorical(category, categories=range(5)),
            "complete": complete,
            "holes": holes,
            "zeros": zeros,
        }
    )
    x = np.column_stack([category.astype(float), complete, holes, zeros])
    x[::17, 0] = np.nan  # no category
    x[::23, 0] = 7.0  # a category the model never saw
    x[::29, 1:] = np.nan  # holes everywhere
    return frame, y, x


def _models(frame, y):
    common = dict(n_estimators=40, learning_rate=0.2, random_state=7)
    return [
        lgb.LGBMRegressor(num_leaves=15, min_child_samples=5, verbose=-1, **common).fit(frame, y),
        lgb.LGBMRegressor(num_leaves=15, min_child_samples=5, verbose=-1, zero_as_missing=True, **common).fit(frame, y),
        xgb.XGBRegressor(max_depth=4, tree_method="hist", enable_categorical=True, max_cat_to_onehot=1, **common).fit(
            frame, y
        ),
        xgb.XGBRegressor(max_depth=4, tree_method="hist", enable_categorical=True, **common).fit(frame, y),
    ]


def test_the_walk_gives_the_libraries_predictions_bit_for_bit(data):
    frame, y, x = data
    kinds, missing = set(), set()
    for model in _models(frame, y):
        trees = flat_trees(model)
        kinds |= set(trees.kind.tolist())
        missing |= set(trees.missing[trees.kind == LIGHTGBM_NUMERIC].tolist())
        if hasattr(model, "booster_"):
            library = model.booster_.predict(x)
        else:
            library = model.get_booster().inplace_predict(x)
        assert trees.predict(x).tolist() == library.tolist(), type(model).__name__
        # one row at a time, as a served lap is predicted
        assert np.concatenate([trees.predict(x[i : i + 1]) for i in range(200)]).tolist() == library[:200].tolist()
    # every rule of the walk was exercised
    assert {LIGHTGBM_NUMERIC, LIGHTGBM_CATEGORY, XGBOOST_NUMERIC, XGBOOST_CATEGORY} <= kinds
    assert {MISSING_NONE, MISSING_ZERO, MISSING_NAN} <= missing
