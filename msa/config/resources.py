"""Container requests/limits and the rule that a JVM heap fits its container: shared by the Kafka
objects (kafka_model.py) and the Spring services (model.py)."""

from __future__ import annotations

from decimal import Decimal
from typing import Optional

from pydantic import model_validator

from .fields import KeyProblem, StrictModel
from .forms import quantity_value
from .sizes import Cpu, MemoryLimit, MemoryRequest

# Part of the heap's container the JVM needs beyond the heap (metaspace, threads, buffers, GC).
JVM_HEADROOM = Decimal("0.25")


class Resources(StrictModel):
    """Container requests/limits; limits.cpu stays generous because JVMs JIT-compile at start."""

    cpu: Cpu = "250m"
    """CPU request."""
    memory: MemoryRequest = "512Mi"
    """Memory request."""
    cpu_limit: Cpu = "1"
    """CPU limit (at least the request)."""
    memory_limit: MemoryLimit = "768Mi"
    """Memory limit (at least the request)."""

    @model_validator(mode="after")
    def _requests_within_limits(self) -> "Resources":
        if quantity_value(self.memory_limit) <= 0:
            raise KeyProblem("memoryLimit", f"{self.memory_limit!r} is not above zero; use e.g. 768Mi")
        for request, limit, request_key, limit_key in (
            (self.cpu, self.cpu_limit, "cpu", "cpuLimit"), (self.memory, self.memory_limit, "memory", "memoryLimit"),
        ):
            if quantity_value(request) > quantity_value(limit):
                raise KeyProblem(request_key, f"{request} is above the limit {limit_key}: {limit}; lower the request or raise the limit")
        return self

def heap_problem(heap_bytes: int, heap: str, resources: Resources, resources_key: str) -> Optional[str]:
    """Why a JVM heap does not fit its container's memory limit with headroom, or None."""
    most = int(quantity_value(resources.memory_limit) * (1 - JVM_HEADROOM)) // 2**20
    if heap_bytes <= most * 2**20:
        return None
    return (f"{heap} does not fit its container: {resources_key}.memoryLimit is {resources.memory_limit} and the JVM needs "
            f"about {int(JVM_HEADROOM * 100)} % beyond the heap; use at most {most}m or raise {resources_key}.memoryLimit")
