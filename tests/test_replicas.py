"""Service replicas behind HAProxy, sharing their live session states in Redis: a promotion
reaches every replica, and a replica killed under load costs no request at the balancer."""

import json
import threading
import time
import uuid
from contextlib import ExitStack

import httpx
import pytest

from f1_core import registry, settings
from f1_core.api_keys import KeyStore
from f1_core.sources.archive import ArchiveSource
from f1_core.standardize import standardize
from f1_core.training import load_warehouse, train_and_evaluate, training_frame
from f1_production.balancer import BUFFER_BYTES, Balancer
from f1_serving.local import LocalService
from tests.conftest import ARCHIVE
from tests.test_serving import SPAIN_2023, requests_for
from tests.test_training import SMALL, fill_warehouse, register

REPLICAS = 3


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    data = tmp_path_factory.mktemp("replicas")
    with pytest.MonkeyPatch.context() as env, ExitStack() as stack:
        env.setenv("F1_DATA_DIR", str(data))
        env.setenv("F1_WAREHOUSE", str(data / "warehouse"))
        fill_warehouse(settings.warehouse_path(), rounds=range(1, 7))
        trained = train_and_evaluate(training_frame(*load_warehouse(settings.warehouse_path())), SMALL, folds=3)
        first, second = register(trained), register(trained)
        registry.client().set_registered_model_alias(registry.MODEL_NAME, registry.CHAMPION, first)
        keys = KeyStore(settings.api_keys_path())
        viewer, engineer = keys.create("viewer", "replicas")[1], keys.create("engineer", "replicas")[1]
        shared = {"F1_DATA_DIR": str(data), "F1_SERVING_POLL_SECONDS": "0.5", "F1_SERVING_WORKERS": "1",
                  "F1_ONLINE_STORE": "redis://127.0.0.1:6379/0",
                  "F1_ONLINE_STORE_PREFIX": f"f1:test-replicas-{uuid.uuid4().hex[:8]}:"}
        replicas = [stack.enter_context(LocalService(shared, log_path=data / f"replica{n}.log"))
                    for n in range(REPLICAS)]
        balancer = stack.enter_context(Balancer([f"127.0.0.1:{r.port}" for r in replicas],
                                                log_path=data / "haproxy.log"))
        yield {"balancer": balancer, "replicas": replicas, "viewer": viewer, "engineer": engineer,
               "versions": (first, second), "data": data}


@pytest.fixture(scope="module")
def laps():
    source = ArchiveSource(ARCHIVE)
    spain = standardize(source.load(next(r for r in source.catalog() if r.key == SPAIN_2023)))
    # batches long enough that a replica killed under load is killed mid-request, small enough
    # to be taken again by the balancer (BUFFER_BYTES)
    batch = [lap for driver in ("VER", "HAM") for lap in requests_for(spain, driver, range(5, 18))]
    assert len(json.dumps({"laps": batch})) < BUFFER_BYTES
    return batch


def _predict(url: str, key: str, laps: list[dict]) -> httpx.Response:
    return httpx.post(url + "/predict", json={"laps": laps}, headers={"Authorization": f"Bearer {key}"}, timeout=30)


def _served_version(url: str, key: str) -> str | None:
    answer = httpx.get(url + "/model", headers={"Authorization": f"Bearer {key}"}, timeout=30)
    return answer.json().get("serving") if answer.status_code == 200 else None


def test_a_promotion_reaches_every_replica(fleet, laps, monkeypatch):
    monkeypatch.setenv("F1_DATA_DIR", str(fleet["data"]))  # the fleet's registry
    first, second = fleet["versions"]
    answered = _predict(fleet["balancer"].url, fleet["viewer"], laps)
    assert answered.status_code == 200 and {p["model_version"] for p in answered.json()} == {first}
    registry.client().set_registered_model_alias(registry.MODEL_NAME, registry.CHAMPION, second)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        versions = [_served_version(r.url, fleet["engineer"]) for r in fleet["replicas"]]
        if versions == [second] * REPLICAS:
            break
        time.sleep(0.5)
    assert versions == [second] * REPLICAS
    for _ in range(REPLICAS):  # round robin: each replica answers one
        answered = _predict(fleet["balancer"].url, fleet["viewer"], laps)
        assert {p["model_version"] for p in answered.json()} == {second}


def test_a_replica_killed_under_load_costs_no_request(fleet, laps):
    balancer, victim = fleet["balancer"], fleet["replicas"][0]
    statuses: list[int] = []
    stop = threading.Event()

    def client():
        with httpx.Client(timeout=30) as session:
            while not stop.is_set():
                try:
                    answer = session.post(balancer.url + "/predict", json={"laps": laps},
                                          headers={"Authorization": f"Bearer {fleet['viewer']}"})
                    statuses.append(answer.status_code)
                except httpx.HTTPError as exc:  # the balancer itself failed the client
                    statuses.append(repr(exc))

    clients = [threading.Thread(target=client) for _ in range(6)]
    for thread in clients:
        thread.start()
    try:
        time.sleep(2)
        before = len(statuses)
        victim.kill()  # the replica and its worker, at once
        time.sleep(4)
    finally:
        stop.set()
        for thread in clients:
            thread.join(60)
    assert before > 5 and len(statuses) - before > 5, (before, len(statuses))
    failed = [s for s in statuses if s != 200]
    assert failed == [], f"{len(failed)} of {len(statuses)} requests failed: {failed[:5]}"
    with pytest.raises(httpx.ConnectError):  # it really died, workers and all
        httpx.get(victim.url + "/readyz", timeout=5)
