"""How many xdist workers, and longest test files first across them (pytest.ini: `-n auto --dist loadfile`).

Workers: the fast tests are pure Python and keep a core busy each, so one worker per core (more only adds
interpreter start-up and contention: measured on 2 cores, 4 workers took 81 s and 146 CPU-s where 2 took 58 s
and 99). The tests against real servers mostly wait on them (a JVM starting, a client's timeout): with them in
the run, two workers per core and one more keep the cores busy (2 cores: 31 -> 20 minutes at 4 workers, 91% busy;
once the renders and the fast tests got cheaper, 4 workers left them 88% busy in 903-988 s, and 5 workers kept them
93% busy in 934 and 893 s), as many as the memory allows (one per MEMORY_PER_WORKER_GIB: a worker's Kafka cluster
or control plane).

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
MEMORY_PER_WORKER_GIB = 4


def worker_count(cpus: int, memory_gib: float, servers: bool) -> int:
    """xdist workers for a run on `cpus` cores with `memory_gib` of memory; `servers`: the run includes the
    tests against real servers (integration, engine)."""
    if not servers:
        return max(1, cpus)
    return max(1, min(2 * cpus + 1, int(memory_gib // MEMORY_PER_WORKER_GIB)))


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
