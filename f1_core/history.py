"""How the served predictions fared, after the fact: error by circuit, compound, tyre age and lap,
the worst-predicted laps, and two model versions on the same laps. Read from `live_predictions`
(what `/predict` answered, next to the observed laps), one context at a time: answers made from a
session's state and from a request alone are never pooled.
"""

from __future__ import annotations

import polars as pl

# the groupings the history offers, and how each one's key is made from a row
BREAKDOWNS = {
    "circuit": pl.col("circuit_ref"),
    "compound": pl.col("compound").fill_null("UNKNOWN"),
    # tyre age in bands of 5 laps: 1-5, 6-10, ...
    "tyre_age": ((pl.col("tyre_life") - 1) // 5 * 5 + 1),
    "lap": ((pl.col("lap_number") - 1) // 5 * 5 + 1),
}


def abs_error(prediction: str = "prediction", observed: str = "observed") -> pl.Expr:
    """`abs_error`, what the breakdowns average: how far `prediction` was from the lap."""
    return (pl.col(prediction) - pl.col(observed)).abs().alias("abs_error")


def covered(observed: str = "observed") -> pl.Expr:
    """`covered`: whether the lap fell within the interval (`lower`, `upper`)."""
    return ((pl.col(observed) >= pl.col("lower")) & (pl.col(observed) <= pl.col("upper"))).alias("covered")


def select(
    live: pl.DataFrame, context: str, session_key: str | None = None, model_version: str | None = None
) -> pl.DataFrame:
    """The rows of one context (and session, model version when given)."""
    rows = live.filter(pl.col("context") == context)
    if session_key is not None:
        rows = rows.filter(pl.col("session_key") == session_key)
    if model_version is not None:
        rows = rows.filter(pl.col("model_version") == model_version)
    return rows


def breakdown(rows: pl.DataFrame, by: str) -> pl.DataFrame:
    """Clean-lap MAE, coverage of the interval and lap counts per group of `by` (BREAKDOWNS)."""
    if by not in BREAKDOWNS:
        raise ValueError(f"unknown breakdown {by!r}; expected one of {', '.join(BREAKDOWNS)}")
    return (
        rows.filter(pl.col("clean"))
        .with_columns(BREAKDOWNS[by].cast(pl.String).alias("group"))
        .filter(pl.col("group").is_not_null())
        .group_by("group")
        .agg(
            pl.len().alias("clean_laps"),
            pl.col("abs_error").mean().alias("mae_clean"),
            pl.col("covered").cast(pl.Float64).mean().alias("coverage_clean"),
            (pl.col("prediction") - pl.col("observed")).mean().alias("bias"),
        )
        .sort(pl.col("group").cast(pl.Int64, strict=False) if by in ("tyre_age", "lap") else "group")
    )


def worst_laps(rows: pl.DataFrame, n: int = 20) -> pl.DataFrame:
    """The clean laps predicted worst, largest error first."""
    return (
        rows.filter(pl.col("clean"))
        .sort("abs_error", descending=True)
        .head(n)
        .select(
            "session_key",
            "driver",
            "lap_number",
            "compound",
            "tyre_life",
            "model_version",
            "prediction",
            "lower",
            "upper",
            "observed",
            "abs_error",
            "covered",
        )
    )


def versions(live: pl.DataFrame, session_key: str, context: str) -> list[str]:
    """The model versions with predictions of the session: served, or predicted in the shadow."""
    rows = select(live, context, session_key)
    found = set(rows["model_version"].drop_nulls()) | set(rows["shadow_version"].drop_nulls())
    return sorted(found, key=lambda v: (len(v), v))


def _predictions_of(rows: pl.DataFrame, version: str) -> pl.DataFrame:
    """A version's prediction of each lap: as served, else as the shadow of the served version."""
    served = rows.filter(pl.col("model_version") == version).select(
        "driver", "lap_number", "observed", "clean", "prediction"
    )
    shadow = rows.filter((pl.col("shadow_version") == version) & pl.col("shadow_prediction").is_not_null()).select(
        "driver", "lap_number", "observed", "clean", pl.col("shadow_prediction").alias("prediction")
    )
    return pl.concat([served, shadow.join(served, on=["driver", "lap_number"], how="anti")]).unique(
        ["driver", "lap_number"], keep="first"
    )


def compare(live: pl.DataFrame, session_key: str, a: str, b: str, context: str) -> pl.DataFrame:
    """Versions `a` and `b` on the laps of the session both predicted, lap by lap."""
    rows = select(live, context, session_key)
    known = versions(live, session_key, context)
    for version in (a, b):
        if version not in known:
            raise KeyError(
                f"model version {version!r} predicted no lap of {session_key} ({context}); "
                f"versions there: {', '.join(known) or 'none'}"
            )
    left = _predictions_of(rows, a).rename({"prediction": "prediction_a"})
    right = _predictions_of(rows, b).select("driver", "lap_number", pl.col("prediction").alias("prediction_b"))
    return (
        left.join(right, on=["driver", "lap_number"], how="inner")
        .with_columns(
            (pl.col("prediction_a") - pl.col("observed")).abs().alias("abs_error_a"),
            (pl.col("prediction_b") - pl.col("observed")).abs().alias("abs_error_b"),
        )
        .sort("driver", "lap_number")
    )
