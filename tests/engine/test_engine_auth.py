"""The move of a running open dev stack to authentication through the real engine (msa/kafka/auth_roll.py):
one `up` applies the phase ConfigMap, the Jobs' ServiceAccount and Role and the kafka-auth-* Jobs in their
order around the StatefulSet and the clients; the phase the Jobs write is theirs (the next up keeps it),
and a second up changes nothing. kwok completes the Jobs (their scripts run in tests/integration)."""

from __future__ import annotations

import pytest

from engine.checks import assert_before

pytestmark = [pytest.mark.engine, pytest.mark.integration]

BEGIN, ROLL, FINISH = ("kafka-auth-begin", "batch/v1:Job"), ("kafka-auth-roll", "batch/v1:Job"), ("kafka-auth-finish", "batch/v1:Job")
KAFKA, STORE = ("kafka", "apps/v1:StatefulSet"), ("store-service", "apps/v1:Deployment")


def test_an_open_stack_moves_to_sasl_in_one_up_and_the_next_up_changes_nothing(engine_stack, control_plane):
    stack = engine_stack("dev", lambda c: c["msa:kafka"].update(authentication="none"))
    stack.up()
    assert control_plane.get("configmap", "kafka-auth-phase") is None

    stack.edit(lambda c: c["msa:kafka"].update(authentication="sasl"))
    run = stack.up()
    changed = run.changed()
    for key in ("ConfigMap/kafka-auth-phase", "ServiceAccount/kafka-auth", "Role/kafka-auth", "RoleBinding/kafka-auth",
                "Job/kafka-auth-begin", "Job/kafka-auth-roll", "Job/kafka-auth-finish"):
        assert changed.get(key) == "create", (key, changed)
    assert changed["StatefulSet/kafka"] == "update"
    assert_before(run, BEGIN, KAFKA)
    assert_before(run, KAFKA, ROLL)
    assert_before(run, ROLL, STORE)
    assert_before(run, STORE, FINISH)
    for job in ("kafka-auth-begin", "kafka-auth-roll", "kafka-auth-finish"):
        live = control_plane.get("job", job)
        assert live["status"].get("succeeded") == 1
        assert live["spec"]["template"]["spec"]["serviceAccountName"] == "kafka-auth"
    rules = control_plane.get("role", "kafka-auth")["rules"]
    assert [r["resourceNames"] for r in rules] == [["kafka-0"], ["kafka-auth-phase"]]
    assert control_plane.get("configmap", "kafka-auth-phase")["data"] == {"phase": "scram-only"}

    second = stack.up()
    # A string, not the step dicts: pytest cuts a message object's repr short, and the diff keys are the point.
    assert set(second.changes) == {"same"}, "; ".join(
        f"{s['type']}/{s['name']} {s['op']}: diffs={s['diffs']} detailed={s['detailed']}" for s in second.steps if s["op"] != "same"
    ) + f"; live kafka-headless ports: {(control_plane.get('service', 'kafka-headless') or {}).get('spec', {}).get('ports')}"

    # The Jobs own the phase after creation: what they wrote stays through a refresh and the next up.
    control_plane.kubectl("patch", "configmap", "kafka-auth-phase", "-n", "msa", "--type=merge",
                          "-p", '{"data": {"phase": "inter-broker-scram", "stale": ""}}')
    stack.refresh()
    again = stack.up()
    assert "ConfigMap/kafka-auth-phase" not in again.changed(), [s for s in again.steps if s["op"] != "same"]
    assert control_plane.get("configmap", "kafka-auth-phase")["data"]["phase"] == "inter-broker-scram"
