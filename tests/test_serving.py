"""The BentoML service, started as a real process on a free local port: every endpoint and role,
bad input, the hot swap of the champion under load, a model that fails to load, degraded mode."""

import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import dagster as dg
import httpx
import polars as pl
import pytest
from click.testing import CliRunner

from f1_assets.defs.monitoring.assets import live_accuracy
from f1_assets.defs.warehouse.resources import WarehouseResource
from f1_core import prediction_log, registry, settings, warehouse
from f1_core.api_keys import KeyStore
from f1_core.features import FEATURES
from f1_core.live import LapToPredict, features_for, request_for
from f1_core.sources.archive import ArchiveSource
from f1_core.standardize import standardize
from f1_core.training import load_warehouse, train_and_evaluate, training_frame
from f1_serving.local import LocalService
from tests.conftest import ARCHIVE, copy_archive
from tests.test_training import SMALL, register

SPAIN_2023 = "2023-07-spanish-grand-prix-race"  # not among the training races (rounds 1-6)


@pytest.fixture(scope="module")
def spain():
    source = ArchiveSource(ARCHIVE)
    return standardize(source.load(next(r for r in source.catalog() if r.key == SPAIN_2023)))


def requests_for(spain, driver, lap_numbers):
    laps = spain.laps.filter(pl.col("driver") == driver)
    return [
        request_for(
            laps,
            n,
            season=2023,
            event="Spanish Grand Prix",
            session="Race",
            reading=_reading(spain, laps, n),
            total_laps=66,
        ).model_dump(mode="json")
        for n in lap_numbers
    ]


def _reading(spain, laps, lap_number):
    start = laps.filter(pl.col("lap_number") == lap_number)["lap_start_time_s"][0]
    before = spain.weather.filter(pl.col("session_time_s") <= start)
    return before.row(-1, named=True) if before.height else None


def test_predict_answers_one_interval_per_lap_from_the_champion(service, spain):
    laps = requests_for(spain, "VER", [2, 10, 30, 31, 50])
    answer = service.post("/predict", {"laps": laps})
    assert answer.status_code == 200, answer.text
    predictions = answer.json()
    assert len(predictions) == 5
    champion = registry.version_of(registry.CHAMPION)
    for p in predictions:
        assert p["model_version"] == champion and p["degraded"] is False
        assert p["lower"] <= p["lap_time"] <= p["upper"]
        assert 70 < p["lap_time"] < 110  # Barcelona race laps run 76-85 s
    actual = spain.laps.filter((pl.col("driver") == "VER") & pl.col("lap_number").is_in([10, 30, 31, 50]))
    errors = [
        abs(p["lap_time"] - t) for p, t in zip(predictions[1:], actual.sort("lap_number")["lap_time_s"], strict=True)
    ]
    assert sum(errors) / len(errors) < 2.0


def test_without_a_session_state_features_are_the_pipelines_on_the_requests_laps(service, spain):
    """A session the service holds no state for (nothing of it landed in its live folder) is
    answered from the request alone, `context: request`, and logged with the features it was
    predicted from: the pipeline's on exactly the laps and reading the request carries."""
    laps = requests_for(spain, "HAM", [5, 25, 45])
    answer = service.post("/predict", {"laps": laps})
    assert answer.status_code == 200 and {p["context"] for p in answer.json()} == {"request"}
    ham = (pl.col("driver") == "HAM") & (pl.col("event") == "Spanish Grand Prix")
    logged = _wait_for_log(service, lambda rows: rows.filter(ham).height >= 3)
    logged = logged.filter(ham).sort("lap_number")
    assert set(logged["context"]) == {"request"}
    # features_for is the pipeline's feature_rows on the request's laps (tests/test_live.py)
    expected = features_for([LapToPredict(**lap) for lap in laps])
    for served, row in zip(logged.iter_rows(named=True), expected, strict=True):
        for name in FEATURES:
            assert served[name] == pytest.approx(row[name], abs=1e-9, nan_ok=True), name
    assert {"lap_time", "lower", "upper", "model_version", "logged_at"} <= set(logged.columns)


def _wait_for_log(service, ready, timeout=10.0) -> pl.DataFrame:
    deadline = time.monotonic() + timeout
    while True:
        rows = prediction_log.read(service.data / "prediction_log")
        if rows.height and ready(rows):
            return rows
        if time.monotonic() > deadline:
            raise AssertionError(f"the prediction log did not show the predictions: {rows}")
        time.sleep(0.2)


def test_explain_gives_contributions_that_add_up(service, spain):
    lap = requests_for(spain, "VER", [30])[0]
    answer = service.post("/explain", {"lap": lap, "top": len(FEATURES)})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    total = body["reference"] + body["bias"] + sum(c["contribution"] for c in body["contributions"])
    assert total == pytest.approx(body["prediction"]["lap_time"], abs=1e-3)
    top3 = service.post("/explain", {"lap": lap, "top": 3}).json()["contributions"]
    assert len(top3) == 3 and abs(top3[0]["contribution"]) >= abs(top3[2]["contribution"])


@pytest.mark.parametrize(
    "role,path,allowed",
    [
        ("viewer", "/predict", True),
        ("viewer", "/explain", True),
        ("viewer", "/model", False),
        ("viewer", "/reload", False),
        ("engineer", "/model", True),
        ("engineer", "/reload", False),
        ("engineer", "/predict", True),
        ("admin", "/reload", True),
        ("admin", "/model", True),
    ],
)
def test_roles(service, spain, role, path, allowed):
    lap = requests_for(spain, "VER", [10])[0]
    body = {"/predict": {"laps": [lap]}, "/explain": {"lap": lap}, "/reload": {}}.get(path)
    answer = service.get(path, role) if path == "/model" else service.post(path, body, role)
    assert answer.status_code == (200 if allowed else 403), answer.text
    if not allowed:
        assert role in answer.json()["error"]


def test_model_endpoint_describes_the_champion(service):
    card = service.get("/model", "engineer").json()
    assert card["serving"] == registry.version_of(registry.CHAMPION) and not card["degraded"]
    assert card["card"]["metrics"]["holdout_mae_clean"] > 0
    assert card["card"]["data_version"] == "test-data-v1"


def test_missing_or_unknown_key_is_401_and_open_endpoints_need_none(service):
    for headers in ({}, {"Authorization": "Bearer f1k_not-a-key"}, {"Authorization": "Basic abc"}):
        answer = httpx.post(service.url + "/predict", json={"laps": []}, headers=headers)
        assert answer.status_code == 401 and "API key" in answer.json()["error"]
        assert answer.headers["www-authenticate"].startswith("Bearer")
    assert httpx.get(service.url + "/model").status_code == 401
    for path in ("/healthz", "/readyz", "/metrics", "/docs.json"):
        assert httpx.get(service.url + path).status_code == 200, path


def test_a_key_made_by_the_cli_works_at_once_and_revoking_it_locks_it_out(service, spain):
    from f1_assets.cli import main

    made = CliRunner().invoke(main, ["api-key", "create", "--role", "engineer", "--name", "ci"])
    assert made.exit_code == 0, made.output
    key = made.stdout.strip().splitlines()[-1]
    assert key.startswith("f1k_") and key not in settings.api_keys_path().read_text()
    headers = {"Authorization": f"Bearer {key}"}
    assert httpx.get(service.url + "/model", headers=headers).status_code == 200
    key_id = next(r.key_id for r in KeyStore(settings.api_keys_path()).records() if r.name == "ci")
    assert CliRunner().invoke(main, ["api-key", "revoke", key_id]).exit_code == 0
    assert httpx.get(service.url + "/model", headers=headers).status_code == 401
    listed = CliRunner().invoke(main, ["api-key", "list"]).stdout
    assert "viewer" in listed and key_id not in listed


LAP = {
    "season": 2023,
    "event": "Spanish Grand Prix",
    "session": "Race",
    "driver": "VER",
    "lap_number": 12,
    "compound": "MEDIUM",
    "tyre_life": 12,
    "previous_laps": [{"lap_number": 11, "lap_time": 81.2}],
}


def test_a_qualifying_lap_without_intent_is_answered_as_a_push_lap_and_says_so(service):
    quali = {**LAP, "session": "Qualifying", "lap_number": 4, "previous_laps": [{"lap_number": 3, "lap_time": 78.1}]}
    laps = [quali, {**quali, "intent": "cool_down"}, {**quali, "intent": "push"}, LAP, {**LAP, "intent": "push"}]
    answer = service.post("/predict", {"laps": laps})
    assert answer.status_code == 200, answer.text
    got = [(p["intent"], p["intent_assumed"]) for p in answer.json()]
    # in a race the intent is ignored
    assert got == [("push", True), ("cool_down", False), ("push", False), (None, False), (None, False)]


@pytest.mark.parametrize(
    "body,field",
    [
        ({"laps": [{**LAP, "compound": "BANANA"}]}, "laps.0.compound"),
        ({"laps": [{**LAP, "tyre_life": -1}]}, "laps.0.tyre_life"),
        ({"laps": [{**LAP, "intent": "flying"}]}, "laps.0.intent"),
        ({"laps": [{**LAP, "lap_number": 0}]}, "laps.0.lap_number"),
        (
            '{"laps": [{"season": 2023, "event": "x", "session": "Race", "driver": "VER", "lap_number": 3, '
            '"compound": "SOFT", "tyre_life": 2, "air_temp": NaN}]}',
            "laps.0.air_temp",
        ),
        (
            {"laps": [{**LAP, "previous_laps": [{"lap_number": 11, "lap_time": "fast"}]}]},
            "laps.0.previous_laps.0.lap_time",
        ),
        ({"laps": [{**LAP, "previous_laps": [{"lap_number": 12}]}]}, "laps.0"),
        ({"laps": [LAP] * 1001}, "laps"),
        ({"laps": []}, "laps"),
        ('{"laps": [', ""),
        ({"lap": LAP}, "laps"),
    ],
)
def test_bad_input_is_422_naming_the_field(service, body, field):
    content = body if isinstance(body, str) else json.dumps(body)
    answer = httpx.post(
        service.url + "/predict",
        content=content,
        timeout=30,
        headers={"Authorization": f"Bearer {service.keys['viewer']}", "Content-Type": "application/json"},
    )
    assert answer.status_code == 422, answer.text
    fields = {".".join(str(p) for p in e["loc"]) for e in answer.json()["detail"]}
    assert field in fields or (field == "" and answer.json()["detail"][0]["type"] == "json_invalid")


def test_fuzzing_the_openapi_schema_finds_no_server_error(service, tmp_path):
    """Schemathesis generates valid and invalid bodies from the published schema."""
    run = subprocess.run(
        [
            str(Path(sys.executable).with_name("schemathesis")),
            "run",
            f"{service.url}/docs.json",
            "-H",
            f"Authorization: Bearer {service.keys['admin']}",
            "--checks",
            "not_a_server_error,response_schema_conformance",
            "--include-path-regex",
            "^/(predict|explain)$",
            "--max-examples",
            "40",
            "--seed",
            "7",
            "--phases",
            "examples,coverage,fuzzing",
            "--request-timeout",
            "30",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )  # its cache goes there
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "Tested: 2" in run.stdout  # /predict and /explain
    generated = re.search(r"(\d+) generated, (\d+) passed", run.stdout)
    assert generated and int(generated[1]) >= 100 and generated[1] == generated[2], run.stdout[-2000:]


def test_metrics_count_requests_errors_predictions_and_the_model(service, spain):
    service.post("/predict", {"laps": requests_for(spain, "VER", [20, 21])})
    service.post("/predict", {"laps": []})
    text = httpx.get(service.url + "/metrics").text
    assert re.search(r'f1_predictions_total\{context="(session|request)",degraded="false"', text), text[:3000]
    assert "f1_state_seconds_bucket" in text
    assert 'endpoint="/predict",http_response_code="422"' in text
    assert "bentoml_service_request_duration_seconds_bucket" in text
    version = registry.version_of(registry.CHAMPION)
    assert f"f1_champion_version {float(version)}" in text


def test_hot_swap_under_load_fails_no_request(service, spain):
    """A new champion is promoted while requests run: they all succeed, and within seconds every
    worker answers with the new version (each worker swaps on its own poll, so for a moment the
    two answer with different versions)."""
    before = registry.version_of(registry.CHAMPION)
    result = train_and_evaluate(
        training_frame(*load_warehouse(service.data / "warehouse")), SMALL.model_copy(update={"seed": 11}), folds=3
    )
    with pytest.MonkeyPatch.context() as env:
        env.setenv("F1_DATA_DIR", str(service.data))
        new = register(result)
    laps = requests_for(spain, "LEC", [15, 16])
    answers, stop = [], threading.Event()

    def load():
        with httpx.Client(headers={"Authorization": f"Bearer {service.keys['viewer']}"}) as client:
            while not stop.is_set():
                r = client.post(service.url + "/predict", json={"laps": laps}, timeout=30)
                answers.append((r.status_code, r.json()[0]["model_version"] if r.status_code == 200 else r.text))

    threads = [threading.Thread(target=load) for _ in range(4)]
    for t in threads:
        t.start()
    time.sleep(1.0)
    registry.client().set_registered_model_alias(registry.MODEL_NAME, registry.CHAMPION, new)
    deadline = time.monotonic() + 60

    def swapped():  # the workers whose log says they serve the new version
        lines = service.log.read_text().splitlines()
        return {re.search(r":f1_laptime:(\d+)\]", line)[1] for line in lines if f"serving champion v{new} " in line}

    # each worker swapped (a client keeps its connection: the answers may all come from one), and
    # 20 answers in a row from the new version
    while time.monotonic() < deadline and not (
        swapped() == {"1", "2"} and len(answers) > 20 and all(v == new for _, v in answers[-20:])
    ):
        time.sleep(0.2)
    stop.set()
    for t in threads:
        t.join()
    assert all(status == 200 for status, _ in answers), [a for a in answers if a[0] != 200][:3]
    versions = [v for _, v in answers]
    swaps = [line for line in service.log.read_text().splitlines() if "champion v" in line]
    assert versions[0] == before and versions[-20:] == [new] * 20, swaps[-6:]
    assert swapped() == {"1", "2"}, swaps[-6:]
    assert service.get("/model", "engineer").json()["serving"] == new


def test_a_model_that_fails_to_load_is_logged_and_the_old_one_keeps_serving(service, spain):
    serving = registry.version_of(registry.CHAMPION)
    broken = (
        registry.client()
        .create_model_version(registry.MODEL_NAME, source=str(service.data / "no-such-model"), run_id=None)
        .version
    )
    try:
        registry.client().set_registered_model_alias(registry.MODEL_NAME, registry.CHAMPION, broken)
        reloaded = service.post("/reload", {}, role="admin").json()
        assert reloaded["serving"] == serving and f"v{broken} failed to load" in reloaded["last_error"]
        answer = service.post("/predict", {"laps": requests_for(spain, "VER", [40])})
        assert answer.status_code == 200 and answer.json()[0]["model_version"] == serving
        assert f"champion v{broken} failed to load" in service.log.read_text()
    finally:
        registry.client().set_registered_model_alias(registry.MODEL_NAME, registry.CHAMPION, serving)


def test_keys_never_reach_the_log(service):
    text = service.log.read_text()
    assert text and not any(key in text for key in service.keys.values())


def test_with_no_model_the_service_answers_degraded_from_the_baseline(tmp_path, spain):
    _, secret = KeyStore(settings.api_keys_path()).create("viewer")
    laps = requests_for(spain, "VER", [1, 30])
    with LocalService({"F1_DATA_DIR": str(settings.data_dir())}, log_path=tmp_path / "log") as empty:
        assert httpx.get(empty.url + "/healthz").status_code == 200
        assert httpx.get(empty.url + "/readyz").status_code == 503
        answer = httpx.post(
            empty.url + "/predict", json={"laps": laps}, headers={"Authorization": f"Bearer {secret}"}, timeout=30
        )
    assert answer.status_code == 200, answer.text
    first, thirtieth = answer.json()
    assert first == {
        "lap_time": None,
        "lower": None,
        "upper": None,
        "model_version": None,
        "degraded": True,
        "context": "request",
        "intent": None,
        "intent_assumed": False,
    }
    previous = spain.laps.filter((pl.col("driver") == "VER") & (pl.col("lap_number") == 29))["lap_time_s"][0]
    assert thirtieth["degraded"] is True and thirtieth["lap_time"] == pytest.approx(previous)


def test_replay_plays_a_session_through_the_service_into_the_warehouse(service, spain, tmp_path, monkeypatch):
    """`f1 replay` on a copy of the archive: predictions from the service as laps start, source
    rows landing in the live folder as they end, ingested by the pipeline (source `live`), and
    the live accuracy computed from the prediction log."""
    from f1_assets.cli import main

    archive = copy_archive(tmp_path / "archive", [SPAIN_2023])
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    (tmp_path / "dagster_home").mkdir()
    monkeypatch.setenv("F1_API_KEY", service.keys["viewer"])
    played = CliRunner().invoke(
        main,
        [
            "replay",
            SPAIN_2023,
            "--archive",
            str(archive),
            "--speed",
            "5000",
            "--url",
            service.url,
            "--max-laps",
            "150",
            "--ingest-every",
            "1",
        ],
    )
    assert played.exit_code == 0, played.output
    last = played.output.split("\r")[-1]
    assert "laps 150/150" in last and "failed requests 0" in last
    champion = registry.version_of(registry.CHAMPION)
    assert f"model v{champion}" in last
    landed = (settings.live_dir() / "2023/07_spanish-grand-prix/race/laps.csv").read_text().splitlines()
    assert len(landed) == 151  # header and the laps that ended
    session = warehouse.query(
        settings.warehouse_path(), "SELECT source, laps_loaded FROM sessions WHERE session_key = ?", [SPAIN_2023]
    )
    assert session.rows() == [("live", 150)]
    dg.materialize([live_accuracy], resources={"warehouse": WarehouseResource()})
    accuracy = warehouse.query(
        settings.warehouse_path(),
        "SELECT * FROM live_accuracy WHERE session_key = ? "
        "AND driver IS NULL AND compound IS NULL AND model_version = ? AND context = 'session'",
        [SPAIN_2023, champion],
    )
    assert accuracy["laps"][0] >= 100 and 0 < accuracy["mae_all"][0] < 5
    # the progress line's live MAE is the session-context answers' error the monitoring computes
    assert f"live MAE (session) {accuracy['mae_all'][0]:.3f} s" in last, (last, accuracy.row(0, named=True))


def test_replay_names_a_session_the_archive_does_not_have(service, monkeypatch):
    from f1_assets.cli import main

    monkeypatch.setenv("F1_API_KEY", service.keys["viewer"])
    played = CliRunner().invoke(main, ["replay", "2031-01-nowhere-race", "--url", service.url])
    assert played.exit_code == 2 and "2031-01-nowhere-race is not in" in played.output


def test_make_bento_packages_the_service_with_the_locked_packages(tmp_path):
    """`make bento` builds a Bento from bentofile.yaml: the service code and the Python packages
    exactly as uv.lock pins them (into a private BentoML home)."""
    built = subprocess.run(
        ["make", "bento"],
        cwd=settings.PROJECT_ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "BENTOML_HOME": str(tmp_path / "bentoml"), "BENTOML_DO_NOT_TRACK": "true"},
        timeout=300,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    bentos = list((tmp_path / "bentoml" / "bentos" / "f1_laptime").glob("*/bento.yaml"))
    assert len(bentos) == 1, built.stdout
    bento = bentos[0].parent
    assert (bento / "src" / "f1_serving" / "service.py").is_file() and (
        bento / "src" / "f1_core" / "features.py"
    ).is_file()
    requirements = (bento / "env" / "python" / "requirements.txt").read_text()
    lock = (settings.PROJECT_ROOT / "uv.lock").read_text()
    for package in ("bentoml", "lightgbm", "xgboost-cpu", "polars", "mlflow"):
        version = re.search(rf'name = "{package}"\nversion = "([^"]+)"', lock).group(1)
        assert f"{package}=={version}" in requirements, package
    assert "\nxgboost==" not in requirements  # the CPU build only, not the 700 MB CUDA one
