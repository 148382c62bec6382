"""The loopback Kafka/ZooKeeper the other integration tests build on: configured as the stack renders it."""

import pytest

from integration.cp_properties import env_to_props, kafka_properties_from_env
from integration.rendered import rendered_pod_env

pytestmark = pytest.mark.integration


def test_env_to_props_follows_dub():
    env = {"KAFKA_WITH__UNDERSCORE": "a", "KAFKA_WITH___DASH": "b", "KAFKA_LOG_DIRS": "c", "OTHER": "d"}
    assert env_to_props(env, "KAFKA_", "") == {"with_underscore": "a", "with-dash": "b", "log.dirs": "c"}


def test_broker_properties_come_from_the_rendered_env():
    props = kafka_properties_from_env(rendered_pod_env("prod", "kafka"))
    assert props["transaction.state.log.replication.factor"] == "3"
    assert props["transaction.state.log.min.isr"] == "2"
    assert "opts" not in props    # KAFKA_OPTS is excluded; heap.opts is not (the template's missing comma)


def test_prod_cluster_serves_transactions(kafka_world):
    from confluent_kafka import Consumer, Producer

    cluster = kafka_world.start(brokers=3, zookeepers=3, stack="prod")
    assert len(cluster.zookeeper.leaders()) == 1
    kafka_world.tools.run("kafka-topics", "--bootstrap-server", cluster.bootstrap_servers, "--create",
                          "--topic", "orders", "--partitions", "3", "--replication-factor", "3")
    producer = Producer({"bootstrap.servers": cluster.bootstrap_servers, "transactional.id": "smoke"})
    producer.init_transactions(30)
    producer.begin_transaction()
    for i in range(10):
        producer.produce("orders", key=str(i), value=f"order-{i}")
    producer.commit_transaction(30)
    consumer = Consumer({"bootstrap.servers": cluster.bootstrap_servers, "group.id": "smoke",
                         "auto.offset.reset": "earliest", "isolation.level": "read_committed"})
    consumer.subscribe(["orders"])
    seen = set()
    for _ in range(60):
        message = consumer.poll(1)
        if message is not None and not message.error():
            seen.add(message.value().decode())
        if len(seen) == 10:
            break
    consumer.close()
    assert seen == {f"order-{i}" for i in range(10)}
    topics = cluster.topics()
    assert {len(p.replicas) for p in topics["__transaction_state"].values()} == {3}
