"""prod through the real engine: three brokers, a three-member ZooKeeper ensemble, two replicas of each
Spring service; `up` from empty with real awaits, then a no-op `up`."""

from __future__ import annotations

import pytest

from engine.checks import assert_cluster_holds_rendering, assert_verification_last
from engine.stack import CANARIES

pytestmark = [pytest.mark.engine, pytest.mark.integration]


def test_prod_up_from_empty_then_no_op(engine_stack, control_plane):
    stack = engine_stack("prod")

    first = stack.up()
    assert set(first.changes) <= {"create"}, first.changes

    assert_cluster_holds_rendering(control_plane, stack.rendered_objects())
    assert control_plane.get("service", "user-service")["spec"]["clusterIP"] == "10.104.193.23"
    assert control_plane.get("service", "store-service")["spec"]["clusterIP"] == "10.104.193.24"
    for name in ("kafka", "zookeeper"):
        assert control_plane.get("statefulset", name)["status"].get("readyReplicas") == 3, name
        assert control_plane.get("poddisruptionbudget", name) is not None, name
    claims = control_plane.names("persistentvolumeclaims")
    assert {f"data-{s}-{i}" for s in ("kafka", "zookeeper") for i in range(3)} <= claims
    for claim in control_plane.items("persistentvolumeclaims"):
        assert claim["status"]["phase"] == "Bound", claim["metadata"]["name"]
    for job in control_plane.items("jobs"):
        assert job["status"].get("succeeded") == 1, job["metadata"]["name"]
    assert_verification_last(first)

    second = stack.up()
    assert set(second.changes) == {"same"}, second.changes

    state = stack.state_text()
    assert not [key for key, canary in CANARIES.items() if canary in state]
