"""Longest test files first across the xdist workers (pytest.ini: `-n 2 --dist loadfile`).

xdist's loadfile hands out whole files in order of their number of tests, most first: the files with one or two
slow tests against real servers (minutes each) came last, and the run waited for one worker to finish them
while the other sat idle. Here a worker that needs work gets the file that costs the most of those left
(longest-processing-time first): a file not in `file_seconds.json` first (a new file is likely a slow
integration one; a fast one costs nothing there), then the measured ones, longest first. Files stay whole
units, so module fixtures keep being shared within a file exactly as before.

`file_seconds.json` holds each file's measured seconds (the sum of its tests' times in a junit report):
`venv/bin/python benchmarks/test_times.py junit REPORT.xml --write tests/file_seconds.json` after a run.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from pathlib import Path
from typing import Callable

COSTS = Path(__file__).resolve().with_name("file_seconds.json")
UNKNOWN = float("inf")


def file_seconds(path: Path = COSTS) -> dict[str, float]:
    try:
        return {k: float(v) for k, v in json.loads(path.read_text()).items()}
    except (OSError, ValueError):
        return {}


def scope_cost(costs: dict[str, float]) -> Callable[[str], float]:
    """A work unit's (file's) expected seconds: measured, or UNKNOWN (first) for a file never measured."""
    return lambda scope: costs.get(scope.split("::", 1)[0], UNKNOWN)


class CostOrderedQueue(OrderedDict):
    """xdist's work queue, whose `popitem(last=False)` (the next unit to hand out) is the costliest one left;
    ties keep collection order."""

    def __init__(self, cost: Callable[[str], float]):
        super().__init__()
        self.cost = cost

    def popitem(self, last: bool = True):
        if last or not self:
            return super().popitem(last)
        scope = max(self, key=self.cost)     # max() keeps the first of equal costs: collection order
        return scope, self.pop(scope)


def longest_first(scheduler, costs: dict[str, float]):
    """Make an xdist scope scheduler hand out its units costliest first."""
    scheduler.workqueue = CostOrderedQueue(scope_cost(costs))
    return scheduler
