"""The production profile's MLflow: a tracking server with its runs and registry in PostgreSQL,
artifacts served by the server, MLflow's basic auth. Training, the gate and rollback go through
it unchanged; without a password nothing is answered; a server that is down fails training
with its address named."""

import time
import uuid

import httpx
import pytest

from f1_core import registry
from f1_core.api_keys import KeyStore
from f1_core.sources.archive import ArchiveSource
from f1_core.standardize import standardize
from f1_core.training import load_warehouse, train_and_evaluate, training_frame
from f1_production import postgres
from f1_production.mlflow_server import MlflowServer
from f1_serving.local import LocalService, free_port
from tests.conftest import ARCHIVE
from tests.test_serving import SPAIN_2023, requests_for
from tests.test_training import SMALL, fill_warehouse, register

pytestmark = pytest.mark.production
PASSWORD = "a-long-enough-password"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mlflow-server")
    tag = uuid.uuid4().hex[:10]
    backend, auth = f"f1_test_mlflow_{tag}", f"f1_test_mlflow_auth_{tag}"
    try:
        with MlflowServer(
            backend_db=backend,
            auth_db=auth,
            artifacts=folder / "artifacts",
            admin_password=PASSWORD,
            secret_key=uuid.uuid4().hex,
            log_path=folder / "server.log",
        ) as running:
            yield running
    finally:
        for name in (backend, auth):
            postgres.drop_database(name)


def test_nothing_is_answered_without_the_password(server):
    search = f"{server.url}/api/2.0/mlflow/experiments/search?max_results=1"
    assert httpx.get(search, timeout=30).status_code == 401
    assert httpx.get(search, auth=("admin", "not-the-password"), timeout=30).status_code == 401
    assert httpx.get(search, auth=("admin", PASSWORD), timeout=30).status_code == 200


def test_wrong_credentials_fail_training_saying_so(server, monkeypatch):
    for name, value in server.client_env(password="not-the-password").items():
        monkeypatch.setenv(name, value)
    with pytest.raises(registry.RegistryUnavailable, match="refused the credentials"):
        registry.ensure_experiment()


def test_training_the_gate_and_rollback_go_through_the_server(server, monkeypatch, tmp_path):
    for name, value in server.client_env().items():
        monkeypatch.setenv(name, value)
    warehouse = tmp_path / "warehouse"
    fill_warehouse(warehouse, rounds=range(1, 7))
    frame = training_frame(*load_warehouse(warehouse))
    trained = train_and_evaluate(frame, SMALL, folds=3)
    baseline = min(v for k, v in trained.metrics.items() if k.startswith("holdout_baseline") and k.endswith("clean"))
    first = register(trained)
    assert registry.promotion_gate(first, trained.holdout, baseline, 0.02, 0.01).promoted
    second = register(trained)
    assert registry.promotion_gate(second, trained.holdout, baseline, 0.0, 0.01).promoted
    assert registry.version_of(registry.CHAMPION) == second
    assert registry.rollback() == (second, first)
    assert registry.version_of(registry.CHAMPION) == first
    champion = registry.load(registry.CHAMPION)  # its artifacts downloaded from the server
    assert champion.predict(trained.holdout.head(5)).height == 5
    # the artifacts live on the server's side only: a client needs no shared disk
    assert any((server.artifacts).rglob("MLmodel"))
    assert not (tmp_path / "data" / "mlartifacts").exists()


def test_with_the_server_down_training_fails_naming_it(monkeypatch):
    url = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", url)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    with pytest.raises(registry.RegistryUnavailable, match=url.replace(".", r"\.")):
        registry.ensure_experiment()


def test_with_the_server_gone_the_service_keeps_serving_its_champion(server, tmp_path, monkeypatch):
    """Last in this module: it stops the server."""
    for name, value in server.client_env().items():
        monkeypatch.setenv(name, value)
    source = ArchiveSource(ARCHIVE)
    spain = standardize(source.load(next(r for r in source.catalog() if r.key == SPAIN_2023)))
    keys = KeyStore(tmp_path / "api_keys.json")
    viewer, engineer = keys.create("viewer", "test")[1], keys.create("engineer", "test")[1]
    env = {
        **server.client_env(),
        "F1_DATA_DIR": str(tmp_path),
        "F1_API_KEYS": str(tmp_path / "api_keys.json"),
        "F1_SERVING_POLL_SECONDS": "0.5",
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
    }
    body = {"laps": requests_for(spain, "VER", [10, 11])}
    with LocalService(env, log_path=tmp_path / "service.log") as service:

        def predict():
            return httpx.post(
                service.url + "/predict", json=body, headers={"Authorization": f"Bearer {viewer}"}, timeout=30
            )

        champion = registry.version_of(registry.CHAMPION)
        # every worker serves the champion before the server goes (a worker whose first load
        # failed serves the baseline and tries again at every poll): eight answers in a row
        deadline, in_a_row = time.monotonic() + 60, 0
        while in_a_row < 8 and time.monotonic() < deadline:
            served = predict()
            assert served.status_code == 200, served.text
            in_a_row = in_a_row + 1 if served.json()[0]["model_version"] == champion else 0
        assert in_a_row == 8
        server.stop()
        deadline = time.monotonic() + 60
        while True:
            card = httpx.get(service.url + "/model", headers={"Authorization": f"Bearer {engineer}"}, timeout=30).json()
            if card.get("last_error") or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert "cannot read the champion alias" in (card.get("last_error") or ""), card
        answer = predict()
        assert answer.status_code == 200 and [p["model_version"] for p in answer.json()] == [champion] * 2
