"""Service replicas behind HAProxy, sharing their live session states in Redis: a promotion
reaches every replica, Redis restarted under load costs no request (answers come from the
requests alone while it is down, from the shared state again once it is back), and a replica
killed under load costs no request at the balancer."""

import json
import threading
import time
from contextlib import ExitStack

import httpx
import pytest

from f1_core import registry, settings
from f1_core.api_keys import KeyStore
from f1_core.replay import replay, service_client
from f1_core.sources.archive import ArchiveSource
from f1_core.standardize import standardize
from f1_core.training import load_warehouse, train_and_evaluate, training_frame
from f1_production.balancer import BUFFER_BYTES, Balancer
from f1_serving.local import LocalService
from tests.conftest import ARCHIVE
from tests.test_live_state import RedisServer
from tests.test_serving import SPAIN_2023, requests_for
from tests.test_training import SMALL, fill_warehouse, register

# serial: "no failed request under load" needs the machine's cores to itself
pytestmark = [pytest.mark.production, pytest.mark.serial]
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
        # a Redis of the fleet's own, so that a test can restart it
        redis_server = RedisServer(data).start()
        stack.callback(redis_server.stop)
        keys = KeyStore(settings.api_keys_path())
        viewer, engineer = keys.create("viewer", "replicas")[1], keys.create("engineer", "replicas")[1]
        shared = {
            "F1_DATA_DIR": str(data),
            "F1_SERVING_POLL_SECONDS": "0.5",
            "F1_SERVING_WORKERS": "1",
            "F1_ONLINE_STORE": redis_server.url,
        }
        replicas = [
            stack.enter_context(LocalService(shared, log_path=data / f"replica{n}.log")) for n in range(REPLICAS)
        ]
        balancer = stack.enter_context(
            Balancer([f"127.0.0.1:{r.port}" for r in replicas], log_path=data / "haproxy.log")
        )
        yield {
            "balancer": balancer,
            "replicas": replicas,
            "viewer": viewer,
            "engineer": engineer,
            "versions": (first, second),
            "data": data,
            "redis": redis_server,
        }


@pytest.fixture(scope="module")
def laps():
    source = ArchiveSource(ARCHIVE)
    raw = source.load(next(r for r in source.catalog() if r.key == SPAIN_2023))
    spain = standardize(raw)
    # batches long enough that a replica killed under load is killed mid-request, small enough
    # to be taken again by the balancer (BUFFER_BYTES)
    batch = [lap for driver in ("VER", "HAM") for lap in requests_for(spain, driver, range(5, 18))]
    assert len(json.dumps({"laps": batch})) < BUFFER_BYTES
    return {"batch": batch, "raw": raw}


def _predict(url: str, key: str, laps: list[dict]) -> httpx.Response:
    return httpx.post(url + "/predict", json={"laps": laps}, headers={"Authorization": f"Bearer {key}"}, timeout=30)


def _served_version(url: str, key: str) -> str | None:
    answer = httpx.get(url + "/model", headers={"Authorization": f"Bearer {key}"}, timeout=30)
    return answer.json().get("serving") if answer.status_code == 200 else None


def test_a_promotion_reaches_every_replica(fleet, laps, monkeypatch):
    monkeypatch.setenv("F1_DATA_DIR", str(fleet["data"]))  # the fleet's registry
    first, second = fleet["versions"]
    answered = _predict(fleet["balancer"].url, fleet["viewer"], laps["batch"])
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
        answered = _predict(fleet["balancer"].url, fleet["viewer"], laps["batch"])
        assert {p["model_version"] for p in answered.json()} == {second}


class Load:
    """Clients posting the batch through the balancer until stopped: each answer's status, and
    the contexts its laps were answered from."""

    def __init__(self, url: str, key: str, batch: list[dict], clients: int = 6):
        self.answers: list[tuple[int | str, set[str]]] = []
        self._stop = threading.Event()
        self._args = (url, key, batch)
        self._threads = [threading.Thread(target=self._client) for _ in range(clients)]

    def _client(self):
        url, key, batch = self._args
        with httpx.Client(timeout=30) as session:
            while not self._stop.is_set():
                try:
                    answer = session.post(
                        url + "/predict", json={"laps": batch}, headers={"Authorization": f"Bearer {key}"}
                    )
                    contexts = {p["context"] for p in answer.json()} if answer.status_code == 200 else set()
                    self.answers.append((answer.status_code, contexts))
                except httpx.HTTPError as exc:  # the balancer itself failed the client
                    self.answers.append((repr(exc), set()))

    def __enter__(self) -> "Load":
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        for thread in self._threads:
            thread.join(60)

    def failed(self) -> list:
        return [status for status, _ in self.answers if status != 200]


def test_redis_restarted_under_load_costs_no_request_and_the_shared_state_comes_back(fleet, laps):
    balancer, batch = fleet["balancer"], laps["batch"]
    with service_client(balancer.url, fleet["viewer"]) as (predict, _):
        # the race's first 400 laps land in the live folder; each replica feeds them into Redis
        replay(laps["raw"].ref, laps["raw"], fleet["data"] / "live", predict, speed=1e9, tick=30.0, max_laps=400)
        deadline = time.monotonic() + 20
        while {p["context"] for p in predict(batch)} != {"session"}:
            assert time.monotonic() < deadline, "the replicas never served the session's shared state"
            time.sleep(0.3)
    with Load(balancer.url, fleet["viewer"], batch) as load:
        time.sleep(1)
        fleet["redis"].stop()  # killed: it keeps nothing, as the machine's Redis keeps nothing
        time.sleep(3)
        down = len(load.answers)
        fleet["redis"].start()
        deadline = time.monotonic() + 30
        # back once the last 20 answers (every replica's workers, in turn) come from the shared state
        while len(load.answers) < 20 or any(context != {"session"} for _, context in load.answers[-20:]):
            assert time.monotonic() < deadline, "the replicas did not serve the shared state again"
            time.sleep(0.2)
        back = len(load.answers)
        time.sleep(1)
    assert load.failed() == [], f"{len(load.failed())} of {len(load.answers)} requests failed: {load.failed()[:5]}"
    contexts = [context for _, context in load.answers]
    assert {"request"} in contexts[:down]  # while it was down: from the requests alone
    assert all(context == {"session"} for context in contexts[back:])  # back, refilled by the feeds


def test_a_replica_killed_under_load_costs_no_request(fleet, laps):
    balancer, victim = fleet["balancer"], fleet["replicas"][0]
    with Load(balancer.url, fleet["viewer"], laps["batch"]) as load:
        time.sleep(2)
        before = len(load.answers)
        victim.kill()  # the replica and its worker, at once
        time.sleep(4)
    assert before > 5 and len(load.answers) - before > 5, (before, len(load.answers))
    failed = load.failed()
    assert failed == [], f"{len(failed)} of {len(load.answers)} requests failed: {failed[:5]}"
    with pytest.raises(httpx.ConnectError):  # it really died, workers and all
        httpx.get(victim.url + "/readyz", timeout=5)
