import dagster as dg

# Features from the whole warehouse → a trained, evaluated, registered model → the promotion gate.
train_model_job = dg.define_asset_job(
    "train_model_job",
    selection=dg.AssetSelection.groups("training"),
    description="Builds lap_features, trains and registers a model, and decides its promotion.",
)
