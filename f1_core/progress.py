"""Progress of long steps (cross-validation folds, drift reports), as records of the logger
`f1.progress`: whoever runs the step shows them as suits it (`f1 run` draws one line on a
terminal); with no handler they cost a level check."""

from __future__ import annotations

import logging

logger = logging.getLogger("f1.progress")


class Progress:
    """`total` units of one step; `advance(detail)` as each starts, `detail` saying what it is."""

    def __init__(self, step: str, total: int):
        self.step, self.total, self.done = step, total, 0

    def advance(self, detail: str = "") -> None:
        self.done += 1
        logger.info(
            "%s %d/%d %s",
            self.step,
            self.done,
            self.total,
            detail,
            extra={"progress": (self.step, self.done, self.total, detail)},
        )
