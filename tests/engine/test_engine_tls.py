"""msa:kafka.tls through the real engine (KRaft dev, authenticated): the broker certificate's dynamic
provider runs from its pickle in Pulumi's provider host, issues once and keeps its key as a secret (a
second `up` changes nothing), the brokers get the kafka-tls Secret, no private key is in plain text in the
state or the output, and switching TLS off on the running cluster is refused in one line by the tls guard."""

from __future__ import annotations

import pytest
from pulumi import automation as auto

from msa.config.tls_ca import make_ca

pytestmark = [pytest.mark.engine, pytest.mark.integration]


def test_kraft_dev_with_tls_issues_once_keeps_keys_secret_and_refuses_a_switch(engine_stack, control_plane):
    stack = engine_stack("dev", lambda c: c["msa:kafka"].update(mode="kraft", authentication="sasl", tls=True))
    stack.stack.set_config("msa:kafkaTlsCa", auto.ConfigValue(make_ca("Canary Engine CA"), secret=True))

    first = stack.up()
    assert set(first.changes) <= {"create"}, first.changes
    (certificate,) = [r for r in stack.resources() if r["urn"].endswith("::kafka-broker-certificate")]
    assert certificate["outputs"]["certPem"].startswith("-----BEGIN CERTIFICATE-----")
    (tls_secret,) = [s for s in control_plane.items("secrets") if s["metadata"]["name"].startswith("kafka-tls-")]
    pod = control_plane.get("statefulset", "kafka")["spec"]["template"]["spec"]
    assert {"name": "tls", "secret": {"secretName": tls_secret["metadata"]["name"], "defaultMode": 288}} in pod["volumes"]
    assert control_plane.get("statefulset", "kafka")["status"].get("readyReplicas") == 1

    second = stack.up()
    assert set(second.changes) == {"same"}, second.changes           # not due: no new certificate, no roll

    stack.edit(lambda c: c["msa:kafka"].update(tls=False))
    with pytest.raises(Exception) as refused:
        stack.up()
    assert "msa:kafka.tls: the running cluster's SCRAM listener speaks SASL_SSL; switching it to SASL_PLAINTEXT" in str(refused.value)

    state = stack.state_text()
    assert "PRIVATE KEY" not in state and "PRIVATE KEY" not in first.output + second.output
    assert '"ciphertext"' in state
