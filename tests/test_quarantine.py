"""Corrupt input: each bad row lands in quarantine with its rule; unreadable files fail clearly."""

import json

import polars as pl
import pytest

from f1_core.errors import SessionReadError
from f1_core.sources.archive import ArchiveSource
from f1_core.standardize import standardize
from tests.conftest import JAPAN_2023, copy_archive


@pytest.fixture
def archive(tmp_path):
    return copy_archive(tmp_path / "archive", [JAPAN_2023])


def laps_file(archive):
    source = ArchiveSource(archive)
    return source, source.catalog()[0], archive / source.catalog()[0].locator / "laps.csv"


def edit_laps(path, edit):
    """Rewrites the CSV text of laps.csv line by line (line 0 is the header)."""
    lines = path.read_text().splitlines(keepends=True)
    edit(lines)
    path.write_text("".join(lines))


def set_field(line: str, header: str, column: str, value: str) -> str:
    names = header.rstrip("\n").split(",")
    fields = line.rstrip("\n").split(",")
    fields[names.index(column)] = value
    return ",".join(fields) + "\n"


def ingest(archive):
    source, ref, _ = laps_file(archive)
    return standardize(source.load(ref))


def test_negative_lap_time_is_quarantined_with_its_value(archive):
    _, _, path = laps_file(archive)
    edit_laps(
        path, lambda lines: lines.__setitem__(5, set_field(lines[5], lines[0], "LapTime", "-1 days +23:59:55.000000"))
    )
    standard = ingest(archive)
    row = standard.quarantine.row(0, named=True)
    assert standard.quarantine.height == 1
    assert (row["rule"], row["column_name"], row["source_row"]) == ("lap_time_out_of_range", "LapTime", 5)
    assert row["value"] == "-1 days +23:59:55.000000"
    assert json.loads(row["record"])["LapTime"] == "-1 days +23:59:55.000000"
    assert standard.laps.height == 879
    assert 5 not in standard.laps["source_row"].to_list()


def test_non_numeric_value_is_quarantined(archive):
    _, _, path = laps_file(archive)
    edit_laps(path, lambda lines: lines.__setitem__(10, set_field(lines[10], lines[0], "TyreLife", "twelve")))
    standard = ingest(archive)
    assert standard.quarantine.select("rule", "column_name", "value", "source_row").rows() == [
        ("unparseable_value", "TyreLife", "twelve", 10)
    ]


def test_unknown_compound_and_duplicated_lap_are_quarantined(archive):
    _, _, path = laps_file(archive)

    def edit(lines):
        lines[3] = set_field(lines[3], lines[0], "Compound", "SUPERDUPERSOFT")
        lines.append(lines[7])  # the same driver and lap again, at the end of the file

    edit_laps(path, edit)
    standard = ingest(archive)
    quarantine = standard.quarantine.sort("source_row")
    assert quarantine.select("rule", "source_row").rows() == [("unknown_compound", 3), ("duplicate_lap", 881)]
    assert standard.laps.height == 881 - 2
    assert standard.laps.select("driver", "lap_number").is_duplicated().sum() == 0


def test_a_row_breaking_several_rules_is_listed_once_with_every_reason(archive):
    _, _, path = laps_file(archive)

    def edit(lines):
        line = set_field(lines[4], lines[0], "LapTime", "5.0")
        lines[4] = set_field(line, lines[0], "Compound", "BANANA")

    edit_laps(path, edit)
    standard = ingest(archive)
    assert standard.quarantine.height == 1
    details = standard.quarantine["details"][0]
    assert "lap_time_out_of_range(LapTime=5.0)" in details and "unknown_compound(Compound=BANANA)" in details


def test_truncated_csv_quarantines_the_cut_row_and_keeps_the_rest(archive):
    _, _, path = laps_file(archive)
    text = path.read_text()
    path.write_text(text[: len(text) - 250])  # cut in the middle of the last line
    standard = ingest(archive)
    cut = standard.quarantine.row(0, named=True)
    assert standard.quarantine.height == 1 and cut["source_row"] == 880
    assert cut["rule"] in {"unparseable_value", "missing_identity"}
    assert standard.laps.height == 879


def test_missing_column_fails_naming_session_file_and_column(archive):
    _, ref, path = laps_file(archive)
    frame = pl.read_csv(path, infer_schema=False)
    frame.drop("Compound").write_csv(path)
    with pytest.raises(SessionReadError) as error:
        ArchiveSource(archive).load(ref)
    assert error.value.column == "Compound"
    assert JAPAN_2023 in str(error.value) and str(path) in str(error.value)


def test_file_that_is_not_csv_fails_naming_the_file(archive):
    _, ref, path = laps_file(archive)
    path.write_bytes(b"")
    with pytest.raises(SessionReadError, match=rf"{JAPAN_2023}: cannot read .*laps.csv"):
        ArchiveSource(archive).load(ref)


def test_bad_weather_rows_are_quarantined_separately(archive):
    _, ref, path = laps_file(archive)
    weather = path.parent / "weather.csv"
    lines = weather.read_text().splitlines(keepends=True)
    lines[2] = set_field(lines[2], lines[0], "Humidity", "140.0")
    weather.write_text("".join(lines))
    standard = ingest(archive)
    assert standard.quarantine.select("source_table", "rule", "column_name", "source_row").rows() == [
        ("weather", "value_out_of_range", "Humidity", 2)
    ]
    assert standard.laps.height == 880
    assert standard.session["laps_quarantined"][0] == 0
