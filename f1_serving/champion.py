"""The model the service answers with: the registry's `champion`, swapped in the background.

A watcher thread polls the alias; when it moves, the new version is loaded off the request path
and published by one reference assignment, so a request that already took the old model
finishes on it. A version that fails to load is logged and retried only after a pause, while the
model already loaded keeps serving. With no model at all the service answers `degraded`, and
tries again at every poll.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass

from f1_core import registry
from f1_core.live import LapToPredict, features_for
from f1_core.model import SessionFamilyModel

logger = logging.getLogger("f1_serving.champion")

# Laps every model must predict, one per session family (a race lap, a qualifying lap). A loaded
# model predicts them before it is swapped in: one that cannot, or predicts a lap time that is not
# a finite number, is never served, and the first request after a swap does not pay the
# libraries' lazy set-up (measured in process: 16 ms for the first prediction of both, 3-4 ms after).
WARM_UP = [
    LapToPredict(
        season=2024,
        event="Bahrain Grand Prix",
        session=session,
        driver="VER",
        lap_number=3,
        compound="MEDIUM",
        tyre_life=3,
        total_laps=57 if session == "Race" else None,
        previous_laps=[
            {"lap_number": 1, "lap_time": 98.0, "compound": "MEDIUM", "tyre_life": 1},
            {"lap_number": 2, "lap_time": 96.5, "compound": "MEDIUM", "tyre_life": 2},
        ],
    )
    for session in ("Race", "Qualifying")
]


def load_checked(version: str) -> SessionFamilyModel:
    """Registry version `version`, once it has predicted `WARM_UP` (raises what went wrong)."""
    model = registry.load(version)
    predicted = model.predict(features_for(WARM_UP))["lap_time"].to_list()
    if not all(isinstance(value, float) and math.isfinite(value) for value in predicted):
        raise ValueError(f"v{version} predicted {predicted} for the warm-up laps")
    return model


@dataclass(frozen=True)
class LoadedModel:
    version: str
    model: SessionFamilyModel
    card: dict
    # the champion before this one, predicting the same laps in the shadow so a promotion can be
    # judged on live laps (and rolled back); not loadable or none: None
    shadow_version: str | None = None
    shadow: SessionFamilyModel | None = None


class Champion:
    def __init__(self, poll_seconds: float = 2.0, retry_seconds: float = 30.0):
        self.poll_seconds = poll_seconds
        self.retry_seconds = retry_seconds
        self.current: LoadedModel | None = None
        self.last_error: str | None = None
        self._failed: dict[str, float] = {}  # version -> when it failed to load
        self._refresh_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="champion-watcher", daemon=True)

    def start(self) -> Champion:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def refresh(self, force: bool = False) -> LoadedModel | None:
        """Loads the champion if the alias moved (`force`: even a version that failed lately)."""
        with self._refresh_lock:
            try:
                version = registry.version_of(registry.CHAMPION)
            except Exception as exc:  # the registry is down: keep serving what is loaded
                self._error(f"cannot read the champion alias: {exc}")
                return self.current
            current = self.current
            if version is None or (current is not None and current.version == version):
                return current
            failed_at = self._failed.get(version)
            # the pause spares a model being served from reloads of a broken version; a worker
            # serving the baseline has nothing to spare, and tries again at every poll
            paused = current is not None and failed_at is not None and time.monotonic() - failed_at < self.retry_seconds
            if not force and paused:
                return current
            started = time.monotonic()
            try:
                loaded = LoadedModel(
                    version, load_checked(version), registry.model_card(version), *self._shadow(version, current)
                )
            except Exception as exc:
                self._failed[version] = time.monotonic()
                self._error(
                    f"champion v{version} failed to load, still serving "
                    f"{'v' + current.version if current else 'the baseline'}: {exc!r}"
                )
                return current
            self.current = loaded  # the swap: one reference assignment
            self._failed.pop(version, None)
            self.last_error = None
            logger.info(
                "now serving champion v%s (was %s), loaded in %.1f s",
                version,
                f"v{current.version}" if current else "no model",
                time.monotonic() - started,
            )
            return loaded

    def _shadow(self, champion: str, current: LoadedModel | None) -> tuple[str | None, SessionFamilyModel | None]:
        try:
            previous = registry.previous_champion(champion)
            if previous is None:
                return None, None
            if current is not None and current.version == previous:
                return previous, current.model
            return previous, load_checked(previous)
        except Exception as exc:  # serving the champion matters more than its shadow
            logger.error("previous champion not loaded as shadow: %r", exc)
            return None, None

    def _error(self, message: str) -> None:
        self.last_error = message
        logger.error(message)

    def _watch(self) -> None:
        while True:
            self.refresh()
            if self._stop.wait(self.poll_seconds):
                return
