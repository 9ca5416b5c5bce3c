"""Evaluation artifacts: residual plots and feature importance (gain and SHAP)."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import polars as pl

from f1_core.model import SessionFamilyModel


def residual_plots(holdout: pl.DataFrame) -> dict:
    """Figures of the holdout residuals (actual minus predicted, clean laps) by lap and compound."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    clean = holdout.filter(pl.col("clean")).with_columns(
        (pl.col("lap_time_s") - pl.col("prediction")).alias("residual")
    )
    by_lap, ax = plt.subplots(figsize=(8, 4))
    ax.scatter(clean["lap_number"], clean["residual"], s=3, alpha=0.4)
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set(xlabel="lap number", ylabel="actual − predicted (s)", title="Holdout residuals by lap", ylim=(-5, 5))
    by_compound, ax = plt.subplots(figsize=(6, 4))
    groups = clean.group_by("compound").agg(pl.col("residual")).sort("compound")
    ax.boxplot(groups["residual"].to_list(), showfliers=False)
    ax.set_xticks(range(1, groups.height + 1), [str(c) for c in groups["compound"].to_list()])
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set(ylabel="actual − predicted (s)", title="Holdout residuals by compound")
    return {"residuals_by_lap.png": by_lap, "residuals_by_compound.png": by_compound}


def importance_figure(importance: pl.DataFrame):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    top = importance.head(20).reverse()
    figure, ax = plt.subplots(figsize=(7, 6))
    ax.barh(top["feature"], top["mean_abs_shap"])
    ax.set(xlabel="mean |SHAP| (s)", title="Feature importance (race model, holdout laps)")
    figure.tight_layout()
    return figure


def feature_importance(model: SessionFamilyModel, sample: pl.DataFrame, rows: int = 2000) -> pl.DataFrame:
    """Gain, and mean |SHAP| in seconds on the first `rows` laps of `sample` that have a reference."""
    laps = sample.filter(pl.col("reference_fc_s").is_not_null()).head(rows)
    shap = model.contributions(laps).drop("bias")
    mean_abs = pl.DataFrame(
        {"feature": shap.columns, "mean_abs_shap": [float(shap[c].abs().mean()) for c in shap.columns]}
    )
    return model.feature_importance().join(mean_abs, on="feature", how="left").sort("mean_abs_shap", descending=True)


def code_version(root: Path) -> str:
    """The git commit (with `-dirty` when the tree has changes), else a hash of the package source."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        return commit + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        digest = hashlib.sha256()
        for path in sorted((root / "f1_core").rglob("*.py")):
            digest.update(path.read_bytes())
        return "src-" + digest.hexdigest()[:16]
