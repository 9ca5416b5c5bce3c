"""A small `f1 run` in a terminal, then a race played through the service: what the terminal
shows (one line per step, a progress line on the long ones, no library chatter), and the
analysts' notebooks executed on what it left, as an analyst would run them."""

from __future__ import annotations

import os
import pty
import re
import select
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import nbformat
import pytest
from nbclient import NotebookClient

from f1_core import settings
from tests.conftest import BIN

NOTEBOOKS = settings.PROJECT_ROOT / "notebooks"
RACES = [f"2023-{n}-grand-prix-race" for n in ("13-dutch", "14-italian", "15-singapore", "16-japanese")]
PLAYED = "2023-15-singapore-grand-prix-race"  # through the service: live predictions to read
# every line `f1 run` may leave on the screen
LINES = [
    r"sources: archive",
    r"\[ *\d+/\d+\] \S+ +ok  \(run [0-9a-f]{8}\)",
    r"warehouse \S+: \d+ sessions, \d+ laps \(\d+ quarantined of \d+\), \d+ weather rows; \d+ runs in \d+ s",
    r"model f1-laptime v\d+ \(full\) in \d+ s: holdout clean-lap MAE [\d.]+ s \(best baseline [\d.]+ s\), "
    r"90% interval coverage [\d.]+",
    r"promotion: PROMOTED: .*; champion is v\d+",
    r"MLflow: sqlite:///\S+  \(run [0-9a-f]{32}\)",
    r"drift: \d+ session\(s\) compared with champion v\d+ in \d+ s, \d+ drifted( \(alerts in \S+\))?; "
    r"reports in \S+, numbers in drift_history",
    r"Dagster instance: \S+  \(make ui, then http://127\.0\.0\.1:3000\)",
    r"query it: .*",
]


def without_project_variables(patch: pytest.MonkeyPatch) -> None:
    """None of the developer's configuration: every variable the project, MLflow or Dagster reads."""
    for name in [name for name in os.environ if name.startswith(("F1_", "MLFLOW_", "DAGSTER_"))]:
        patch.delenv(name)


@dataclass
class SmallRun:
    data: Path
    terminal: str  # what the terminal received, control characters and all
    screen: list[str]  # the lines it shows once every redrawn line is drawn


def in_terminal(command: list[str], env: dict, timeout: float) -> tuple[int, str]:
    """Runs `command` with a pseudo-terminal as its stdout and stderr, as a user's shell would."""
    main_fd, child_fd = pty.openpty()
    process = subprocess.Popen(
        command, stdin=child_fd, stdout=child_fd, stderr=child_fd, env=env, cwd=settings.PROJECT_ROOT
    )
    os.close(child_fd)
    received, deadline = [], time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if select.select([main_fd], [], [], 1.0)[0]:
                try:
                    chunk = os.read(main_fd, 65536)
                except OSError:  # EIO: the command ended and closed the terminal
                    break
                if not chunk:
                    break
                received.append(chunk)
            elif process.poll() is not None:  # ended, though a process it left holds the terminal
                break
        else:
            raise AssertionError(f"{command} still running after {timeout} s")
        return process.wait(timeout=60), b"".join(received).decode(errors="replace")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(main_fd)


def screen_of(terminal: str) -> list[str]:
    """The lines left on the screen: of each line, what follows its last carriage return, erased
    (ESC [K) where the program erased it, without the colour codes (ESC [...m) that show no text."""
    lines = terminal.replace("\r\n", "\n").split("\n")
    return [re.sub(r"\x1b\[[0-9;]*m", "", line.split("\r")[-1].replace("\x1b[K", "")) for line in lines]


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    from f1_assets.defs.monitoring.assets import live_accuracy
    from f1_assets.defs.warehouse.resources import WarehouseResource
    from f1_core.api_keys import KeyStore
    from f1_serving.local import LocalService

    data = tmp_path_factory.mktemp("small_run")
    (data / "dagster_home").mkdir()
    # as make run has it (its own instance: the checkout's stays untouched)
    shutil.copy(settings.PROJECT_ROOT / "dagster_home" / "dagster.yaml", data / "dagster_home")
    with pytest.MonkeyPatch.context() as patch:
        without_project_variables(patch)  # this fixture runs before isolated_data's
        for name, value in (("F1_DATA_DIR", str(data)), ("DAGSTER_HOME", str(data / "dagster_home"))):
            patch.setenv(name, value)
        env = {**os.environ, "F1_SOURCES": "archive", "COLUMNS": "200", "TERM": "xterm"}
        sessions = [arg for race in RACES for arg in ("--session", race)]
        command = [str(BIN / "f1"), "run", *sessions, "--n-estimators", "60", "--cv-folds", "2"]
        code, terminal = in_terminal(command, env, timeout=900)
        assert code == 0, terminal[-4000:]
        key = KeyStore(settings.api_keys_path()).create("viewer", "notebooks")[1]
        with LocalService(env, log_path=data / "service.log") as service:
            played = subprocess.run(
                [str(BIN / "f1"), "replay", PLAYED, "--speed", "5000", "--url", service.url]
                + ["--max-laps", "100", "--ingest-every", "1"],
                env={**env, "F1_API_KEY": key},
                capture_output=True,
                text=True,
                timeout=600,
            )
        assert played.returncode == 0, played.stdout[-3000:] + played.stderr[-3000:]
        assert dg.materialize([live_accuracy], resources={"warehouse": WarehouseResource()}).success
    (data / "terminal.txt").write_text(terminal)
    return SmallRun(data, terminal, screen_of(terminal))


def test_the_terminal_shows_one_line_per_step_and_the_summary(small_run):
    shown = [line for line in small_run.screen if line.strip()]
    strays = [line for line in shown if not any(re.fullmatch(pattern, line) for pattern in LINES)]
    assert not strays, strays  # no library notice, warning or progress bar left behind
    assert sum(bool(re.fullmatch(LINES[1], line)) for line in shown) == len(RACES)
    summary = ["warehouse ", "model f1-laptime", "promotion:", "MLflow:", "drift:", "Dagster instance:", "query it:"]
    after = shown[len(RACES) + 1 :]
    assert len(after) == len(summary) and all(map(str.startswith, after, summary)), after


def test_long_steps_draw_a_progress_line_that_is_erased_before_the_summary(small_run):
    drawn = re.findall(r"\x1b\[K([^\r\n]+)", small_run.terminal)
    folds = [line for line in drawn if line.startswith("training [")]
    # two folds of the race model, then the model on every training event: 3 steps
    assert folds == [
        "training [1/3] race laps, cross-validation fold 1 of 2",
        "training [2/3] race laps, cross-validation fold 2 of 2",
        "training [3/3] race laps, the model on every training event",
    ], drawn
    drift = [line for line in drawn if line.startswith("drift [")]
    assert drift == [f"drift [{n}/{len(RACES)}] {key}" for n, key in enumerate(sorted(RACES), 1)], drawn
    assert not any(line.startswith(("training [", "drift [")) for line in small_run.screen)


EXPECTED_PLOTS = {
    "drift_and_live_accuracy.ipynb": 2,
    "model_errors.ipynb": 4,
    "session_pace.ipynb": 3,
    "warehouse_tour.ipynb": 2,
}


def test_every_notebook_is_tested():
    assert sorted(path.name for path in NOTEBOOKS.glob("*.ipynb")) == sorted(EXPECTED_PLOTS)


@pytest.mark.parametrize("name", sorted(EXPECTED_PLOTS))
def test_notebook_runs_on_the_small_runs_warehouse(small_run, name, monkeypatch):
    """Each cell runs without an error or a warning, and each plot is drawn."""
    without_project_variables(monkeypatch)  # the kernel inherits this environment
    monkeypatch.setenv("F1_DATA_DIR", str(small_run.data))
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}
    ).execute()
    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]
    assert not [output["text"] for output in outputs if output.get("name") == "stderr"]
    assert sum("image/png" in output.get("data", {}) for output in outputs) == EXPECTED_PLOTS[name]
