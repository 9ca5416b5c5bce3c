"""LightGBM and XGBoost tree ensembles as flat node arrays, walked by one compiled loop
(`tree_kernel.predict`): what a served batch of a few laps is predicted with.

Why not the libraries for a few rows: a call into XGBoost costs far more than its trees. It
walks every node of every tree to find the trees' depths and reads the cgroup CPU quota from /sys
on every call: 0.15 ms for one row of 400 trees, against 0.02 ms here (`make bench-serve-batch`).
LightGBM's own call costs about what the walk does; walking both the same way keeps one path,
which releases the GIL. For thousands of rows the libraries' threads win, and
`model._booster_predict` calls them. Both give the same numbers, bit for bit: the walk reproduces each library's rules
(XGBoost compares float32 values with `<` and sums leaves in float32; LightGBM compares float64
with `<=` and has its own missing-value types and categorical sets), which
`tests/test_trees.py` checks for every kind of split and missing value, and
`tests/test_training.py` on real laps.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from weakref import WeakKeyDictionary

import numpy as np

# node kinds
LEAF, LIGHTGBM_NUMERIC, XGBOOST_NUMERIC, LIGHTGBM_CATEGORY, XGBOOST_CATEGORY = 0, 1, 2, 3, 4
# LightGBM's missing-value types
MISSING_NONE, MISSING_ZERO, MISSING_NAN = 0, 1, 2
MISSING = {"None": MISSING_NONE, "Zero": MISSING_ZERO, "NaN": MISSING_NAN}


@dataclass(frozen=True)
class FlatTrees:
    roots: np.ndarray
    kind: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray
    left: np.ndarray
    right: np.ndarray
    default_left: np.ndarray
    missing: np.ndarray
    value: np.ndarray
    category_begin: np.ndarray
    category_end: np.ndarray
    categories: np.ndarray
    base: float
    float32_sum: bool

    def predict(self, x: np.ndarray) -> np.ndarray:
        from f1_core import tree_kernel

        # the fields in the kernel's order (a dataclass keeps them in its __dict__ in that order)
        return tree_kernel.predict(np.ascontiguousarray(x, dtype=np.float64), *self.__dict__.values())


class _Builder:
    def __init__(self):
        self.columns = {
            name: []
            for name in (
                "kind",
                "feature",
                "threshold",
                "left",
                "right",
                "default_left",
                "missing",
                "value",
                "category_begin",
                "category_end",
            )
        }
        self.categories: list[int] = []
        self.roots: list[int] = []

    def node(
        self,
        kind: int,
        feature: int = -1,
        threshold: float = 0.0,
        default_left: bool = False,
        missing: int = 0,
        value: float = 0.0,
        categories=(),
    ) -> int:
        begin = len(self.categories)
        self.categories.extend(int(c) for c in categories)
        for name, item in zip(
            self.columns,
            (kind, feature, threshold, -1, -1, default_left, missing, value, begin, len(self.categories)),
            strict=True,
        ):
            self.columns[name].append(item)
        return len(self.columns["kind"]) - 1

    def link(self, parent: int, left: int, right: int) -> None:
        self.columns["left"][parent] = left
        self.columns["right"][parent] = right

    def build(self, base: float, float32_sum: bool) -> FlatTrees:
        types = {
            "kind": np.int8,
            "feature": np.int32,
            "threshold": np.float64,
            "left": np.int32,
            "right": np.int32,
            "default_left": np.bool_,
            "missing": np.int8,
            "value": np.float64,
            "category_begin": np.int32,
            "category_end": np.int32,
        }
        arrays = {name: np.array(values, dtype=types[name]) for name, values in self.columns.items()}
        return FlatTrees(
            roots=np.array(self.roots, np.int32),
            **arrays,
            categories=np.array(self.categories, np.int32),
            base=base,
            float32_sum=float32_sum,
        )


def from_lightgbm(booster) -> FlatTrees:
    """A `lightgbm.Booster` (its `dump_model()`; leaf values already hold the initial score)."""
    builder = _Builder()

    def add(node: dict) -> int:
        if "split_index" not in node:
            return builder.node(LEAF, value=float(node["leaf_value"]))
        if node["decision_type"] == "==":  # the threshold lists the categories that go left
            index = builder.node(
                LIGHTGBM_CATEGORY, node["split_feature"], categories=str(node["threshold"]).split("||")
            )
        else:
            index = builder.node(
                LIGHTGBM_NUMERIC,
                node["split_feature"],
                float(node["threshold"]),
                node["default_left"],
                MISSING[node["missing_type"]],
            )
        builder.link(index, add(node["left_child"]), add(node["right_child"]))
        return index

    for tree in booster.dump_model()["tree_info"]:
        builder.roots.append(add(tree["tree_structure"]))
    return builder.build(base=0.0, float32_sum=False)


def from_xgboost(booster) -> FlatTrees:
    """An `xgboost.Booster` of scalar trees (its JSON model), predicting the margin: the
    prediction for the identity-link objectives the models use."""
    learner = json.loads(booster.save_raw("json"))["learner"]
    builder = _Builder()
    for tree in learner["gradient_booster"]["model"]["trees"]:
        if int(tree["tree_param"]["size_leaf_vector"]) > 1:
            raise ValueError("multi-target XGBoost trees are not supported")
        listed = {
            node: tree["categories"][start : start + size]
            for node, start, size in zip(
                tree["categories_nodes"], tree["categories_segments"], tree["categories_sizes"], strict=True
            )
        }
        offset = len(builder.columns["kind"])
        lefts, rights = tree["left_children"], tree["right_children"]
        for node, left in enumerate(lefts):
            condition = float(np.float32(tree["split_conditions"][node]))  # a leaf's value
            if left == -1:
                builder.node(LEAF, value=condition)
            elif tree["split_type"][node] == 1:
                builder.node(
                    XGBOOST_CATEGORY,
                    tree["split_indices"][node],
                    default_left=bool(tree["default_left"][node]),
                    categories=listed[node],
                )
            else:
                builder.node(XGBOOST_NUMERIC, tree["split_indices"][node], condition, bool(tree["default_left"][node]))
        for node, left in enumerate(lefts):
            if left != -1:
                builder.link(offset + node, offset + left, offset + rights[node])
        builder.roots.append(offset)
    # "[0.5]" since XGBoost 3 (a value per target), "0.5" before
    base = float(np.float32(np.atleast_1d(json.loads(learner["learner_model_param"]["base_score"]))[0]))
    return builder.build(base=base, float32_sum=True)


_flat: WeakKeyDictionary = WeakKeyDictionary()


def flat_trees(model) -> FlatTrees:
    """The flat trees of a fitted `LGBMRegressor` or `XGBRegressor`, made once per model."""
    trees = _flat.get(model)
    if trees is None:
        trees = from_lightgbm(model.booster_) if hasattr(model, "booster_") else from_xgboost(model.get_booster())
        _flat[model] = trees
    return trees
