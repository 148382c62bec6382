"""The verification checker against real servers on loopback: it passes on a working system and fails
with the right line for each fault the project was born from.

The checker runs as the Job runs it (`python3 -m checker --spec spec.json`, the Kafka tools on
PATH under their cp-kafka names), with the spec the stack renders; only addresses are loopback ones.
"""

from __future__ import annotations

import json

import pytest

from conftest import by_name, open_kafka_then, run_stack
from integration.verify_run import run_checker

pytestmark = pytest.mark.integration

REPLICATION_ENV = (
    "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR", "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR",
    "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR", "KAFKA_DEFAULT_REPLICATION_FACTOR", "KAFKA_MIN_INSYNC_REPLICAS",
)


def rendered_spec(stack: str, edit=None) -> dict:
    return json.loads(by_name(run_stack(stack, open_kafka_then(edit)), "ConfigMap", "verify")["data"]["spec.json"])


def short_timeouts(settle_seconds: int):
    # A fault shows within 20 s instead of the stack's 60 s (msa:verify.kafkaTimeoutSeconds), and a
    # fault test repeats its failing checks for seconds, not the stack's 180 s (msa:verify.settleSeconds).
    def edit(values):
        values["msa:verify"] = {"kafkaTimeoutSeconds": 20, "settleSeconds": settle_seconds}
    return edit


def kafka_spec(stack: str, cluster, settle_seconds: int = 180) -> dict:
    spec = rendered_spec(stack, short_timeouts(settle_seconds))
    spec["kafka"]["bootstrap"] = cluster.bootstrap_servers
    return spec


# --- Kafka -------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def dev_kafka(kafka_session_world):
    """One broker as the dev stack renders it, shared by the tests that only produce to new topics."""
    return kafka_session_world.start(brokers=1, zookeepers=1, stack="dev")


def test_kafka_lines_pass_on_one_broker_as_dev_renders_it(dev_kafka, kafka_tools, tmp_path):
    run = run_checker(kafka_spec("dev", dev_kafka), tmp_path, "kafka", env=kafka_tools.env())
    assert run.code == 0, run.out + run.err
    assert "1 live, replication settings as rendered (RF 1, min ISR 1)" in run.line("kafka", "brokers")
    assert run.status("kafka", "transaction") == "PASS"
    assert "1 partition(s), RF 1, every partition fully replicated" in run.line("kafka", "topic")
    assert run.status("kafka", "internal topics") == "PASS"


def test_kafka_lines_pass_on_three_brokers_as_prod_renders_them(kafka_world, tmp_path):
    cluster = kafka_world.start(brokers=3, zookeepers=1, stack="prod")
    run = run_checker(kafka_spec("prod", cluster), tmp_path, "kafka", env=kafka_world.tools.env())
    assert run.code == 0, run.out + run.err
    assert "3 live, replication settings as rendered (RF 3, min ISR 2)" in run.line("kafka", "brokers")
    assert "3 partition(s), RF 3, every partition fully replicated" in run.line("kafka", "topic")
    assert "RF 3/3, fully replicated" in run.line("kafka", "internal topics")


def test_one_broker_left_at_kafkas_defaults_fails_with_the_original_error(kafka_world, tmp_path):
    """The incident: cp-kafka without the replication variables runs Kafka's defaults (RF 3 for
    __transaction_state), which one broker cannot create; InitProducerId times out."""
    def kafka_defaults(env):
        for name in REPLICATION_ENV:
            env.pop(name)
    cluster = kafka_world.start(brokers=1, zookeepers=1, stack="dev", env_edit=kafka_defaults)
    run = run_checker(kafka_spec("dev", cluster, settle_seconds=15), tmp_path, "kafka", env=kafka_world.tools.env())
    assert run.code == 1
    brokers = run.line("kafka", "brokers")
    assert brokers.startswith("FAIL")
    assert "broker 0 runs transaction.state.log.replication.factor=3, expected 1" in brokers
    assert "broker 0 runs offsets.topic.replication.factor=3, expected 1" in brokers
    transaction = run.line("kafka", "transaction")
    assert transaction.startswith("FAIL") and "InitProducerId" in transaction
    assert transaction in (tmp_path / "termination-log").read_text()


def test_a_three_broker_spec_on_one_broker_names_the_missing_brokers(dev_kafka, kafka_tools, tmp_path):
    run = run_checker(kafka_spec("prod", dev_kafka, settle_seconds=15), tmp_path, "kafka", env=kafka_tools.env())
    assert run.code == 1
    assert "1 live broker(s) [0], expected 3 (msa:kafka.brokers)" in run.line("kafka", "brokers")
    assert run.line("kafka", "topic").startswith("FAIL") and "RF 3" in run.line("kafka", "topic")
