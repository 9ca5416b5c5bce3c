import polars as pl
import pytest

from f1_core.errors import SessionReadError, UnknownSessionError
from f1_core.raw import LAP_COLUMNS
from f1_core.schemas import laps_schema, raw_laps_schema, weather_schema
from f1_core.sources import SessionCatalog
from f1_core.sources.archive import ArchiveSource
from f1_core.standardize import standardize
from tests.conftest import ARCHIVE, JAPAN_2023, copy_archive


def test_catalog_lists_every_manifest_session():
    refs = ArchiveSource(ARCHIVE).catalog()
    manifest = pl.read_csv(ARCHIVE / "manifest.csv")
    assert len(refs) == manifest.height == 25
    assert len({ref.key for ref in refs}) == 25
    japan = next(ref for ref in refs if ref.key == JAPAN_2023)
    assert (japan.circuit_ref, japan.session_type, japan.source) == ("suzuka", "race", "archive")


def test_loads_a_session_as_fastf1_text_columns():
    source = ArchiveSource(ARCHIVE)
    raw = source.load(next(r for r in source.catalog() if r.key == JAPAN_2023))
    assert raw.laps.height == 880
    assert raw.weather is not None and raw.weather.height == 158
    assert set(LAP_COLUMNS) <= set(raw.laps.columns)
    raw_laps_schema.validate(raw.laps)


def test_every_archive_session_standardizes_with_all_laps_accounted_for():
    source = ArchiveSource(ARCHIVE)
    manifest = {r["path"]: r for r in pl.read_csv(ARCHIVE / "manifest.csv").iter_rows(named=True)}
    for ref in source.catalog():
        standard = standardize(source.load(ref))
        expected = manifest[ref.locator]
        assert (
            standard.laps.height + standard.quarantine.filter(pl.col("source_table") == "laps").height
            == expected["laps"]
        ), ref.key
        assert standard.weather.height <= expected["weather_rows"]
        laps_schema.validate(standard.laps)
        weather_schema.validate(standard.weather)


def test_standardized_laps_are_typed_in_seconds():
    source = ArchiveSource(ARCHIVE)
    standard = standardize(source.load(next(r for r in source.catalog() if r.key == JAPAN_2023)))
    ver6 = standard.laps.filter((pl.col("driver") == "VER") & (pl.col("lap_number") == 6)).row(0, named=True)
    # laps.csv: LapTime 0 days 00:01:37.837000, Sector1Time 0 days 00:00:35.176000, TyreLife 6.0
    assert ver6["lap_time_s"] == pytest.approx(97.837)
    assert ver6["sector1_s"] == pytest.approx(35.176)
    assert (ver6["tyre_life"], ver6["compound"], ver6["fresh_tyre"], ver6["position"]) == (6, "MEDIUM", True, 1)
    assert ver6["track_status"] == "1"
    session = standard.session.row(0, named=True)
    assert (session["season"], session["round"], session["laps_in_source"]) == (2023, 16, 880)


def test_catalog_find_names_unknown_sessions():
    catalog = SessionCatalog([ArchiveSource(ARCHIVE)])
    with pytest.raises(UnknownSessionError, match="2031-01-nowhere-race.*archive"):
        catalog.find("2031-01-nowhere-race")


def test_missing_session_file_names_the_file(tmp_path):
    archive = copy_archive(tmp_path, [JAPAN_2023])
    source = ArchiveSource(archive)
    ref = source.catalog()[0]
    (archive / ref.locator / "laps.csv").unlink()
    with pytest.raises(SessionReadError, match=rf"{JAPAN_2023}.*laps.csv.*file not found"):
        source.load(ref)


def test_missing_manifest_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="manifest.csv"):
        ArchiveSource(tmp_path).catalog()
