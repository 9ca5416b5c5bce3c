"""Tyre degradation the field has shown so far in the session, per compound: the slope of
fuel-corrected lap time against tyre life within stints, pooled over every driver's stints on
that compound (each stint centred on its own mean, so a faster car is not a slower tyre), as of
each moment. One driver's few laps give a noisy slope; the field's twenty cars give a steady
one within a few laps, updated as the session goes.
"""

from __future__ import annotations

from bisect import bisect_right
from typing import NamedTuple

# a pooled slope needs this much spread of tyre life (sum of squared deviations, laps²)
MIN_SPREAD = 20.0


class Degradation(NamedTuple):
    """Per compound: the session times of its representative laps' ends and the pooled slope
    (s per lap of tyre life) after each, None while the spread is under `MIN_SPREAD`."""

    times: dict[str, list[float]]
    slopes: dict[str, list[float | None]]


NO_DEGRADATION = Degradation({}, {})


def degradation_index(rows: list[dict]) -> Degradation:
    """From one session's prepared lap rows (`representative`, `_fc`, `tyre_life`, `stint`)."""
    laps = sorted(
        (
            lap
            for lap in rows
            if lap["representative"]
            and lap["session_time_s"] is not None
            and lap["compound"]
            and lap["tyre_life"] is not None
        ),
        key=lambda lap: (lap["session_time_s"], lap["driver"] or ""),
    )
    stints: dict = {}  # (driver, stint) -> [n, sum x, sum y, sum xy, sum xx]
    pooled: dict = {}  # compound -> [centred sum xy, centred sum xx]
    times: dict = {}
    slopes: dict = {}
    for lap in laps:
        compound, x, y = lap["compound"], lap["tyre_life"], lap["_fc"]
        sums = stints.setdefault((lap["driver"], lap["stint"], compound), [0, 0.0, 0.0, 0.0, 0.0])
        total = pooled.setdefault(compound, [0.0, 0.0])
        before = _centred(sums)
        sums[0] += 1
        sums[1] += x
        sums[2] += y
        sums[3] += x * y
        sums[4] += x * x
        after = _centred(sums)
        total[0] += after[0] - before[0]
        total[1] += after[1] - before[1]
        times.setdefault(compound, []).append(lap["session_time_s"])
        slopes.setdefault(compound, []).append(total[0] / total[1] if total[1] >= MIN_SPREAD else None)
    return Degradation(times, slopes)


def _centred(sums: list) -> tuple[float, float]:
    n, sx, sy, sxy, sxx = sums
    if n == 0:
        return 0.0, 0.0
    return sxy - sx * sy / n, sxx - sx * sx / n


def field_degradation(compound: str | None, start: float | None, index: Degradation) -> float | None:
    """The pooled slope of `compound` from the laps that ended at or before `start`."""
    if compound is None or start is None or compound not in index.times:
        return None
    seen = bisect_right(index.times[compound], start)
    return index.slopes[compound][seen - 1] if seen else None
