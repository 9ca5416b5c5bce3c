"""The loop that walks `f1_core.trees`' flat tree ensembles, compiled by numba (imported only
when a small batch is first predicted: numba takes a second to import)."""

import numba
import numpy as np

# numba reads these module globals as compile-time constants
from f1_core.trees import LEAF, LIGHTGBM_CATEGORY, LIGHTGBM_NUMERIC, MISSING_NAN, MISSING_ZERO, XGBOOST_NUMERIC

ZERO_THRESHOLD = 1e-35  # LightGBM's kZeroThreshold


@numba.njit(nogil=True, cache=True)
def predict(
    x,
    roots,
    kind,
    feature,
    threshold,
    left,
    right,
    default_left,
    missing,
    value,
    category_begin,
    category_end,
    categories,
    base,
    float32_sum,
):
    """The sum of each row's leaf values over all trees, plus `base`. Tree by tree, so that a
    tree's nodes stay in cache over the rows; XGBoost sums in float32, LightGBM in float64."""
    rows = x.shape[0]
    total = np.full(rows, base)
    total32 = np.full(rows, np.float32(base), dtype=np.float32)
    for tree in range(roots.shape[0]):
        for row in range(rows):
            node = roots[tree]
            while kind[node] != LEAF:
                v = x[row, feature[node]]
                k = kind[node]
                if k == XGBOOST_NUMERIC:  # float32(v) < threshold goes left; NaN: the default side
                    if np.isnan(v):
                        node = left[node] if default_left[node] else right[node]
                    elif np.float32(v) < np.float32(threshold[node]):
                        node = left[node]
                    else:
                        node = right[node]
                elif k == LIGHTGBM_NUMERIC:  # v <= threshold goes left
                    m = missing[node]
                    if np.isnan(v) and m != MISSING_NAN:
                        v = 0.0
                    if (m == MISSING_ZERO and -ZERO_THRESHOLD <= v <= ZERO_THRESHOLD) or (
                        m == MISSING_NAN and np.isnan(v)
                    ):
                        node = left[node] if default_left[node] else right[node]
                    elif v <= threshold[node]:
                        node = left[node]
                    else:
                        node = right[node]
                elif k == LIGHTGBM_CATEGORY:  # a listed category goes left; NaN or negative right
                    listed = False
                    if not np.isnan(v) and v >= 0:
                        code = int(v)
                        for i in range(category_begin[node], category_end[node]):
                            listed = listed or categories[i] == code
                    node = left[node] if listed else right[node]
                else:  # XGBOOST_CATEGORY: a listed category goes right; NaN the default side
                    if np.isnan(v):
                        node = left[node] if default_left[node] else right[node]
                    else:
                        listed = False
                        if np.float32(v) >= 0:
                            code = int(np.float32(v))
                            for i in range(category_begin[node], category_end[node]):
                                listed = listed or categories[i] == code
                        node = right[node] if listed else left[node]
            if float32_sum:
                total32[row] += np.float32(value[node])
            else:
                total[row] += value[node]
    return total32.astype(np.float64) if float32_sum else total
