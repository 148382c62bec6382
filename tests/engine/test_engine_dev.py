"""dev through the real engine: `up` from empty with real awaits, what the API server then holds, a no-op
second `up`, a preview of one edit, and no secret in plain text in the state."""

from __future__ import annotations

import pytest

from engine.stack import CANARIES, derived_canaries
from engine.checks import assert_cluster_holds_rendering, assert_verification_last

pytestmark = [pytest.mark.engine, pytest.mark.integration]


def test_dev_up_from_empty_then_no_op_then_one_edit(engine_stack, control_plane):
    stack = engine_stack("dev")

    first = stack.up()
    assert first.changes.get("create", 0) >= 40, first.changes
    assert set(first.changes) <= {"create"}, first.changes

    # What the API server holds: every object the program declares, every Service on its fixed ClusterIP.
    rendered = stack.rendered_objects()
    assert_cluster_holds_rendering(control_plane, rendered)
    assert control_plane.get("service", "user-service")["spec"]["clusterIP"] == "10.104.193.23"
    assert control_plane.get("service", "store-service")["spec"]["clusterIP"] == "10.104.193.24"
    # Real awaits: kwok made every pod Ready and every Job pod Succeeded.
    for job in control_plane.items("jobs"):
        assert job["status"].get("succeeded") == 1, job["metadata"]["name"]
    for name in ("kafka", "zookeeper"):
        assert control_plane.get("statefulset", name)["status"].get("readyReplicas") == 1
    assert_verification_last(first)

    # A second `up` changes nothing: every resource `same`.
    second = stack.up()
    assert set(second.changes) == {"same"}, second.changes
    assert second.changed() == {}

    # One edit: the preview shows exactly that diff.
    stack.edit(lambda c: c["msa:services"]["user-service"].update(replicas=2))
    preview = stack.preview()
    # The verification runs again (its spec counts the pods), and the dynamic provider of the storage guard
    # is re-configured with the new stack config (the engine hands it the config; no resource changes).
    assert preview.changed() == {"Deployment/user-service": "update", "ConfigMap/verify": "replace", "Job/verify": "replace",
                                 "pulumi-python/default": "update"}, preview.changed()
    step = preview.step("user-service", "Deployment")
    assert set(step["detailed"]) == {"spec.replicas"}, step

    # No secret in plain text: neither in the state nor in the stack file nor in what the engine printed.
    state = stack.state_text()
    for key, canary in {**CANARIES, **derived_canaries()}.items():
        assert canary not in state, f"{key} in plain text in the state"
        assert canary not in stack.stack_file.read_text(), key
        assert canary not in first.output + second.output + preview.output, key
    assert '"ciphertext"' in state                         # the secrets are there, encrypted
