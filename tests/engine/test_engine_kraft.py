"""dev with `mode: kraft` through the real engine: `up` from empty (one Kafka pod, no ZooKeeper object,
authenticated: the Secrets, the format-time users and the users Job applied), a second `up` that changes
nothing and keeps the cluster id, a `pulumi refresh` that keeps it too, and a quorum change, a return to
ZooKeeper, a new seed and turning authentication off refused before anything changes; an open KRaft
cluster moving to sasl in place is refused in one line."""

from __future__ import annotations

import re

import pytest

from pulumi import automation as auto

from engine.checks import assert_cluster_holds_rendering
from engine.stack import CANARIES

pytestmark = [pytest.mark.engine, pytest.mark.integration]


def _cluster_id(stack) -> str:
    (resource,) = [r for r in stack.resources() if r["urn"].endswith("::kafka-cluster-id")]
    return resource["outputs"]["clusterId"]


def _pod_cluster_id(control_plane) -> str:
    (container,) = control_plane.get("statefulset", "kafka")["spec"]["template"]["spec"]["containers"]
    return next(e["value"] for e in container["env"] if e["name"] == "CLUSTER_ID")


def test_kraft_dev_up_keeps_its_cluster_id_and_refuses_a_new_quorum(engine_stack, control_plane):
    stack = engine_stack("dev", lambda c: c["msa:kafka"].update(mode="kraft", authentication="sasl"))

    first = stack.up()
    assert set(first.changes) <= {"create"}, first.changes
    assert_cluster_holds_rendering(control_plane, stack.rendered_objects())
    assert control_plane.get("statefulset", "kafka")["status"].get("readyReplicas") == 1
    assert not [s for s in control_plane.items("statefulsets") if s["metadata"]["name"] != "kafka"]
    assert not [s for s in control_plane.items("services") if "zookeeper" in s["metadata"]["name"]]
    cluster_id = _cluster_id(stack)
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", cluster_id)
    assert _pod_cluster_id(control_plane) == cluster_id

    second = stack.up()
    assert set(second.changes) == {"same"}, second.changes
    stack.refresh()
    assert _cluster_id(stack) == cluster_id and _pod_cluster_id(control_plane) == cluster_id

    # Growing dev to 3 brokers with the defaults would mean 3 dedicated controllers: refused, nothing changes.
    stack.edit(lambda c: c["msa:kafka"].update(brokers=3))
    with pytest.raises(Exception) as refused:
        stack.up()
    assert "msa:kafka.combined: the controller quorum of this stack is 1 controller(s) combined" in str(refused.value)
    assert control_plane.get("statefulset", "kafka")["spec"]["replicas"] == 1
    stack.edit(lambda c: c["msa:kafka"].update(mode="zookeeper", brokers=1))
    with pytest.raises(Exception) as refused:
        stack.up()
    assert "msa:kafka.mode: this stack's Kafka runs in KRaft mode" in str(refused.value)
    assert _cluster_id(stack) == cluster_id

    # Authenticated KRaft: the users Job ran after the brokers; a new seed and turning authentication off are refused.
    assert control_plane.get("job", "kafka-scram-users")["status"].get("succeeded") == 1
    stack.edit(lambda c: c["msa:kafka"].update(mode="kraft"))
    stack.stack.set_config("msa:kafkaAuthSecret", auto.ConfigValue("Canary-KafkaAuth-rotated", secret=True))
    with pytest.raises(Exception) as refused:
        stack.up()
    assert "msa:kafkaAuthSecret: a new seed on a running KRaft cluster is refused" in str(refused.value)
    stack.stack.set_config("msa:kafkaAuthSecret", auto.ConfigValue(CANARIES["msa:kafkaAuthSecret"], secret=True))
    stack.edit(lambda c: c["msa:kafka"].update(authentication="none"))
    with pytest.raises(Exception) as refused:
        stack.up()
    assert "msa:kafka.authentication: the cluster authenticates every client (sasl); turning it off again is refused" in str(refused.value)


def test_an_open_kraft_cluster_moving_to_sasl_is_refused_in_one_line(engine_stack, control_plane):
    stack = engine_stack("dev", lambda c: c["msa:kafka"].update(mode="kraft", authentication="none"))
    stack.up()
    stack.edit(lambda c: c["msa:kafka"].update(authentication="sasl"))
    with pytest.raises(Exception) as refused:
        stack.up()
    lines = [line for line in str(refused.value).splitlines() if "msa:kafka." in line]
    assert lines and all("msa:kafka.authentication: this KRaft cluster runs open, and a running KRaft cluster cannot move to sasl in "
                         "place" in line for line in lines), lines
    (container,) = control_plane.get("statefulset", "kafka")["spec"]["template"]["spec"]["containers"]
    assert [p["containerPort"] for p in container["ports"]] == [9092, 9093]
