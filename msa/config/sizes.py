"""Sizes that cannot be meant: each size and quantity key has a floor (and CPU a ceiling), and a value
past it is refused with the value the user most likely meant.

`storageSize: 10` is a valid Kubernetes quantity (10 bytes), so the grammar alone lets a PVC of 10
bytes through and the broker dies on its first write. A bare number, or a unit far smaller than the
key's own (`k`, `Ki`, `m` = thousandths), is a missing unit: `10` -> "did you mean 10Gi?". A value
with a real unit that is merely too small gets the floor instead (`512Mi` -> "use at least 1Gi").
The floors are listed in the generated configuration reference (msa/config/docs.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Callable, Optional

from pydantic import AfterValidator

from .forms import JvmSize, Quantity, Size, jvm_size_bytes, quantity_value

# Suffixes that, on a size key, say the unit was left out or mistyped rather than chosen.
_MISSING_UNIT = ("", "m", "k", "Ki")
_QUANTITY_PARTS = re.compile(r"^(?P<number>[+-]?[0-9.]+)(?P<suffix>[a-zA-Z]*)$")


@dataclass(frozen=True)
class Floor:
    """The least a size key can mean (and for CPU the most), the unit a bare number lacks, and why."""

    least: str
    unit: str
    what: str
    why: str
    most: Optional[str] = None
    jvm: bool = False  # a JVM size (512m) rather than a Kubernetes quantity (512Mi)

    def bytes(self, text: str) -> Decimal:
        return Decimal(jvm_size_bytes(text)) if self.jvm else quantity_value(text)

    @property
    def shown(self) -> str:
        return f"at least {self.least}" + (f", at most {self.most}" if self.most else "")


def size_problem(text: str, floor: Floor) -> Optional[str]:
    """Why `text` cannot be meant for a key with `floor`, with the likely fix; None when it can."""
    value = floor.bytes(text)
    if value == 0 and not floor.jvm:
        return None  # zero is "no request" (a limit or a volume of zero is refused by its own form)
    parts = _QUANTITY_PARTS.fullmatch(text)
    number, suffix = (parts["number"], parts["suffix"]) if parts else (text, "")
    guess = f"{number}{floor.unit}"
    if value < floor.bytes(floor.least):
        amount = f"{value.normalize():f} {'CPU' if floor.most is not None else 'bytes'}"
        fits = _parses(guess, floor) and floor.bytes(guess) >= floor.bytes(floor.least)
        if suffix in _MISSING_UNIT and fits:
            return f"{text} is {amount}, below the {floor.least} {floor.what} needs ({floor.why}); did you mean {guess}?"
        return f"{text} is below the {floor.least} {floor.what} needs ({floor.why}); use at least {floor.least}"
    if floor.most is not None and value > floor.bytes(floor.most):
        if suffix == "" and _parses(guess, floor) and floor.bytes(guess) <= floor.bytes(floor.most):
            return f"{text} is {value.normalize():f} CPUs, more than {floor.what} can mean here (at most {floor.most}); did you mean {guess}?"
        return f"{text} is more than {floor.what} can mean here; use at most {floor.most}"
    return None


def _parses(text: str, floor: Floor) -> bool:
    try:
        floor.bytes(text)
    except ValueError:
        return False
    return True


def _checked(floor: Floor) -> Callable[[str], str]:
    def check(text: str) -> str:
        problem = size_problem(text, floor)
        if problem:
            raise ValueError(problem)
        return text
    return check


# The floors, one per kind of key; the reference lists them with their reasons.
BROKER_VOLUME = Floor("1Gi", "Gi", "a broker volume", "it must hold at least one log segment, log.segment.bytes: 1 GiB by default")
ZOOKEEPER_VOLUME = Floor("256Mi", "Gi", "a ZooKeeper volume",
                         "ZooKeeper preallocates its transaction log in 64 MiB blocks and keeps snapshots beside it")
MEMORY_REQUEST = Floor("16Mi", "Mi", "a memory request", "every container here runs a JVM; 0 means no request")
MEMORY_LIMIT = Floor("64Mi", "Mi", "a memory limit", "a JVM does not start in less")
CPU = Floor("1m", "m", "a CPU request or limit", "1m is the smallest CPU unit Kubernetes schedules; 0 means no request", most="64")
BROKER_HEAP = Floor("128m", "m", "a broker heap", "the broker's request buffers and caches live in it", jvm=True)
ZOOKEEPER_HEAP = Floor("32m", "m", "a ZooKeeper heap", "the whole data tree and the sessions live in it", jvm=True)
CONTROLLER_VOLUME = Floor("256Mi", "Gi", "a KRaft controller volume",
                          "it holds the __cluster_metadata log and its snapshots (metadata.max.retention.bytes: 100 MiB by default)")
CONTROLLER_HEAP = Floor("64m", "m", "a KRaft controller heap", "the whole metadata image lives in it", jvm=True)
SERVICE_HEAP = Floor("64m", "m", "a Spring Boot heap", "Spring Boot with its Eureka and config clients does not start in less", jvm=True)

BrokerVolume = Annotated[Size, AfterValidator(_checked(BROKER_VOLUME)), BROKER_VOLUME]
ZookeeperVolume = Annotated[Size, AfterValidator(_checked(ZOOKEEPER_VOLUME)), ZOOKEEPER_VOLUME]
MemoryRequest = Annotated[Quantity, AfterValidator(_checked(MEMORY_REQUEST)), MEMORY_REQUEST]
MemoryLimit = Annotated[Quantity, AfterValidator(_checked(MEMORY_LIMIT)), MEMORY_LIMIT]
Cpu = Annotated[Quantity, AfterValidator(_checked(CPU)), CPU]
BrokerHeap = Annotated[JvmSize, AfterValidator(_checked(BROKER_HEAP)), BROKER_HEAP]
ZookeeperHeap = Annotated[JvmSize, AfterValidator(_checked(ZOOKEEPER_HEAP)), ZOOKEEPER_HEAP]
ControllerVolume = Annotated[Size, AfterValidator(_checked(CONTROLLER_VOLUME)), CONTROLLER_VOLUME]
ControllerHeap = Annotated[JvmSize, AfterValidator(_checked(CONTROLLER_HEAP)), CONTROLLER_HEAP]
