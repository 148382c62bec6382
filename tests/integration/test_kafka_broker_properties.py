"""The committed list of broker properties (msa/config/kafka-broker-properties.json) is what the Kafka
jars the tests run say: regenerated from tests/jvm/kafka/target/lib, it must be the same, byte for byte."""

import pytest

from integration.jvm_tools import require_jars
from msa.config import kafka_names

pytestmark = pytest.mark.integration


def test_the_committed_broker_properties_are_the_jars_ones():
    generated = kafka_names.from_jars(require_jars())
    assert kafka_names.as_text(generated) == kafka_names.DATA.read_text(), \
        "msa/config/kafka-broker-properties.json is stale: run python3 tasks.py kafka-properties"


def test_the_list_is_the_kafka_line_cp_kafka_7_9_ships_and_holds_what_the_stack_sets():
    generated = kafka_names.from_jars(require_jars())
    assert generated["kafka"].startswith("3.9."), generated["kafka"]
    names = generated["properties"]
    # Every property the stack itself renders must be one Kafka knows, or the list is the wrong one.
    for name in ("broker.id", "listeners", "advertised.listeners", "zookeeper.connect", "log.dirs",
                 "offsets.topic.replication.factor", "transaction.state.log.replication.factor",
                 "transaction.state.log.min.isr", "min.insync.replicas", "default.replication.factor"):
        assert name in names, name
    assert names["log.segment.bytes"] == {"type": "INT", "min": 14}
    assert names["ssl.keystore.password"]["type"] == "PASSWORD"
