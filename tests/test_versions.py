"""Versions Dagster can see: each ingestion reports the source's data version, and each asset a
code version that changes with the code it may run (not with a comment or a reformat)."""

import shutil

import dagster as dg

from f1_assets.definitions import defs as load_defs
from f1_assets.defs import metadata
from f1_core.sources import SessionCatalog, build_source
from tests.conftest import JAPAN_2023, copy_archive
from tests.test_pipeline import ingest


def test_every_asset_has_a_code_version():
    graph = load_defs().resolve_asset_graph()
    versions = {key.to_user_string(): graph.get(key).code_version for key in graph.materializable_asset_keys}
    assert versions and all(versions.values()), versions


def test_a_code_version_follows_imported_code_and_ignores_comments(tmp_path, monkeypatch):
    for package in metadata.OWN_PACKAGES:
        shutil.copytree(metadata.PROJECT_ROOT / package, tmp_path / package)
    monkeypatch.setattr(metadata, "PROJECT_ROOT", tmp_path)

    def versions():
        metadata._tree.cache_clear()
        return {m: metadata.asset_code_version(f"f1_assets.defs.{m}.assets") for m in ("ingestion", "training")}

    before = versions()
    model = tmp_path / "f1_core" / "model.py"
    model.write_text("# a comment\n" + model.read_text().replace("\n\n\n", "\n\n\n\n", 1))
    assert versions() == before
    model.write_text(model.read_text() + "\nADDED = 1\n")  # training imports the model; ingestion does not
    after = versions()
    assert after["training"] != before["training"] and after["ingestion"] == before["ingestion"]
    (tmp_path / "f1_core" / "standardize.py").write_text(
        (tmp_path / "f1_core" / "standardize.py").read_text() + "\nX = 2\n"
    )
    assert versions()["ingestion"] != after["ingestion"]


def latest_tags(instance, asset: str, key: str) -> dict:
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=[key]), limit=1
    ).records
    return records[0].asset_materialization.tags


def test_ingestion_reports_the_source_data_version(tmp_path, monkeypatch):
    archive = copy_archive(tmp_path / "archive", [JAPAN_2023])
    monkeypatch.setenv("F1_ARCHIVE_DIR", str(archive))
    monkeypatch.setenv("F1_SOURCES", "archive")
    source_version = SessionCatalog([build_source("archive")]).load(JAPAN_2023).data_version
    with dg.instance_for_test() as instance:

        def versions():
            raw = latest_tags(instance, "raw_session", JAPAN_2023)["dagster/data_version"]
            seen_by_standardized = latest_tags(instance, "standardized_session", JAPAN_2023)
            return raw, seen_by_standardized["dagster/input_data_version/raw_session"]

        assert ingest(instance, JAPAN_2023).success
        first = versions()
        assert first[0] == source_version
        assert ingest(instance, JAPAN_2023).success
        assert versions() == first  # same input, same versions
        laps_csv = next(archive.rglob("laps.csv"))
        laps_csv.write_text(laps_csv.read_text().replace("SOFT", "MEDIUM", 1))  # the source corrected a lap
        assert ingest(instance, JAPAN_2023).success
        second = versions()
        assert second[0] != first[0] and second[1] != first[1]
