"""The derived Kafka/ZooKeeper passwords and the per-user Secret (msa/kafka/credentials.py)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging

import pulumi
import pytest
from pulumi.runtime import mocks as pulumi_mocks

from msa.kafka import credentials
from msa.render.engine import SECRET_SIG, RecordingMocks, RecordingMonitor, RenderedStack

SEED = "seed-Canary-0c4f1e"


def test_derived_password_is_the_hmac_of_the_user_name_under_the_seed():
    expected = base64.urlsafe_b64encode(hmac.new(SEED.encode(), b"msa/kafka", hashlib.sha256).digest()).decode().rstrip("=")
    assert credentials.derived_password(SEED, "kafka") == expected
    assert len(expected) == 43 and "=" not in expected


def test_each_user_and_each_seed_gives_another_password_and_none_contains_the_seed():
    users = ["super", "kafka", "broker", "admin", "kafka-ui", "store-service"]
    passwords = {credentials.derived_password(SEED, u) for u in users}
    assert len(passwords) == len(users)
    assert credentials.derived_password(SEED + "x", "kafka") != credentials.derived_password(SEED, "kafka")
    assert not any(SEED in p for p in passwords)
    # JAAS and properties files quote the value: no quote, backslash or space may appear in it.
    assert all(set(p) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") for p in passwords)


def test_an_empty_seed_is_refused():
    with pytest.raises(ValueError, match="msa:kafkaAuthSecret"):
        credentials.derived_password("", "kafka")


def test_client_properties_are_what_the_kafka_tools_read():
    props = credentials.client_properties("admin", "pw")
    assert props.splitlines() == [
        "security.protocol=SASL_PLAINTEXT",
        "sasl.mechanism=SCRAM-SHA-512",
        'sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="pw";',
    ]


def _record(program) -> RenderedStack:
    result = RenderedStack()
    logger = logging.getLogger("msa.test.credentials")
    logger.propagate = False
    mocks = RecordingMocks(result)
    pulumi.runtime.set_mocks(mocks, project="msa", stack="test", preview=False, logger=logger, monitor=RecordingMonitor(mocks))
    pulumi_mocks.test(program)()
    return result


def test_user_secret_is_immutable_autonamed_and_secret_as_a_whole():
    seen = {}

    def program():
        seed = pulumi.Output.secret(SEED)
        credentials.user_password(seed, "admin").apply(lambda p: seen.update(admin=p))
        return credentials.kafka_user_secret("admin", seed, "msa", "kafka").id

    result = _record(program)
    assert seen["admin"] == credentials.derived_password(SEED, "admin")
    (secret,) = result.of_type("kubernetes:core/v1:Secret")
    assert secret.inputs["immutable"] is True
    # Content-named (as the provider autonames it): kafka-user-admin-<hash>.
    assert secret.inputs["metadata"]["annotations"]["pulumi.com/autonamed"] == "true"
    assert secret.inputs["metadata"]["name"].startswith("kafka-user-admin-")
    assert secret.inputs["metadata"]["labels"]["app.kubernetes.io/name"] == "kafka-user-admin"
    data = secret.inputs["stringData"]
    assert isinstance(data, dict) and data.get(SECRET_SIG) is not None
    value = data["value"]
    assert set(value) == {"username", "password", "sasl.jaas.config", "client.properties"}
    assert value["password"] == seen["admin"] and SEED not in str(value)
    assert f'password="{seen["admin"]}"' in value["client.properties"]
