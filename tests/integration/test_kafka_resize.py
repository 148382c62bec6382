"""Broker-count changes on a real cluster, through the very scripts the kafka-drain/kafka-rebalance Jobs run.

The StatefulSet controller is played by the test (what it would do after the drain Job: remove the
highest ordinals, restart the remaining pods one at a time with the new env); everything else is
real: Kafka 3.9.1 brokers configured from the rendered env, the Jobs' script text taken from the
rendered Job, the cp-named Kafka tools, and a transactional client.
"""

import time
import uuid

import pytest

from conftest import by_name, open_kafka_then, run_stack
from integration.harness import wait_until
from integration.rendered import rendered_pod_env, run_job_script
from integration.kafka_load import ProductionLoad, assert_no_write_refused

pytestmark = pytest.mark.integration


def _rendered(brokers: int, zookeepers: int = 1):
    def edit(values):
        values["msa:kafka"]["brokers"] = brokers
        values["msa:kafka"]["zookeeperReplicas"] = zookeepers
    result = run_stack("prod", open_kafka_then(edit))
    env = rendered_pod_env("prod", "kafka", edit)
    return by_name(result, "Job", "kafka-drain"), by_name(result, "Job", "kafka-rebalance"), env


def _run(job, cluster, tools):
    done = run_job_script(job, tools, {"BOOTSTRAP_SERVERS": cluster.bootstrap_servers, "ZOOKEEPER_CONNECT": cluster.zookeeper.connect})
    return done


def _commit(cluster, topic, values):
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": cluster.bootstrap_servers, "transactional.id": f"tx-{uuid.uuid4()}",
                         "transaction.timeout.ms": 60000})
    producer.init_transactions(60)
    producer.begin_transaction()
    for value in values:
        producer.produce(topic, value=value.encode())
    producer.commit_transaction(60)


def _read_committed(cluster, topic, expected: int) -> list:
    from confluent_kafka import Consumer

    consumer = Consumer({"bootstrap.servers": cluster.bootstrap_servers, "group.id": f"reader-{uuid.uuid4()}",
                         "auto.offset.reset": "earliest", "isolation.level": "read_committed", "enable.auto.commit": True})
    consumer.subscribe([topic])
    seen = []
    try:
        for _ in range(120):
            message = consumer.poll(1)
            if message is not None and not message.error():
                seen.append(message.value().decode())
            if len(seen) >= expected:
                break
        consumer.commit(asynchronous=False) if seen else None
    finally:
        consumer.close()
    return seen


def test_three_to_one_keeps_every_record_and_transactions_work(kafka_world):
    cluster = kafka_world.start(brokers=3, zookeepers=1, stack="prod")
    tools = kafka_world.tools
    bootstrap = cluster.bootstrap_servers
    tools.run("kafka-topics", "--bootstrap-server", bootstrap, "--create", "--topic", "orders", "--partitions", "6",
              "--replication-factor", "3", "--config", "min.insync.replicas=2")
    # A partition that lives only on a broker that goes away.
    tools.run("kafka-topics", "--bootstrap-server", bootstrap, "--create", "--topic", "audit",
              "--replica-assignment", "2:1,2:1")
    before = [f"order-{i}" for i in range(60)]
    _commit(cluster, "orders", before)
    _commit(cluster, "audit", ["a-1", "a-2"])
    assert sorted(_read_committed(cluster, "orders", 60)) == sorted(before)   # creates __consumer_offsets too
    drain, rebalance, env_one = _rendered(1)

    # A drain that cannot finish refuses with one line and touches nothing.
    tools.run("kafka-topics", "--bootstrap-server", bootstrap, "--create", "--topic", "stranded", "--replica-assignment", "2")
    cluster.stop_broker(2)
    assignment = {t: {p: s.replicas for p, s in ps.items()} for t, ps in cluster.topics().items()}
    refused = _run(drain, cluster, tools)
    assert refused.returncode == 1
    (line,) = [x for x in refused.stderr.splitlines() if x.startswith("kafka-drain:")]
    assert "partition stranded-0 has no leader" in line, refused.stderr
    assert {t: {p: s.replicas for p, s in ps.items()} for t, ps in cluster.topics().items()} == assignment
    cluster.add_broker(2)
    cluster.wait_registered([0, 1, 2])
    tools.run("kafka-topics", "--bootstrap-server", cluster.bootstrap_servers, "--delete", "--topic", "stranded")

    done = _run(drain, cluster, tools)
    assert done.returncode == 0, done.stdout + done.stderr
    topics = cluster.topics()
    for name, partitions in topics.items():
        for number, state in partitions.items():
            assert state.replicas == [0], (name, number, state, done.stdout, done.stderr)
    # Before the brokers go (the StatefulSet has not acted yet), transactions commit already.
    between = [f"between-{i}" for i in range(10)]
    _commit(cluster, "orders", between)
    before += between
    # What the StatefulSet then does: kafka-2 and kafka-1 go, kafka-0 restarts with the one-broker env.
    cluster.remove_broker(2)
    cluster.remove_broker(1)
    cluster.roll(env_one)
    assert _run(rebalance, cluster, tools).returncode == 0
    defaults = tools.run("kafka-configs", "--bootstrap-server", cluster.bootstrap_servers, "--describe",
                         "--entity-type", "brokers", "--entity-default").stdout
    assert "min.insync.replicas" not in defaults    # the drain's bridge is gone; the static value rules

    after = [f"late-{i}" for i in range(20)]
    _commit(cluster, "orders", after)
    assert sorted(_read_committed(cluster, "orders", len(before + after))) == sorted(before + after)
    assert sorted(_read_committed(cluster, "audit", 2)) == ["a-1", "a-2"]
    configs = tools.run("kafka-configs", "--bootstrap-server", cluster.bootstrap_servers, "--describe",
                        "--entity-type", "topics", "--entity-name", "__transaction_state").stdout
    assert "min.insync.replicas=1" in configs


def test_one_to_three_replicates_every_topic_three_times(kafka_world):
    """Under continuous idempotent and transactional production: after the roll the brokers' static min ISR
    is 2 while every topic still has one replica; the drain's bridge keeps writes going until the
    rebalance has raised the factors."""
    drain_one, _, _ = _rendered(1)
    cluster = kafka_world.start(brokers=1, zookeepers=1, stack="prod")
    tools = kafka_world.tools
    tools.run("kafka-topics", "--bootstrap-server", cluster.bootstrap_servers, "--create", "--topic", "orders",
              "--partitions", "6", "--replication-factor", "1")
    before = [f"order-{i}" for i in range(30)]
    _commit(cluster, "orders", before)
    assert sorted(_read_committed(cluster, "orders", 30)) == sorted(before)

    drain, rebalance, env_three = _rendered(3)
    assert drain["spec"] != drain_one["spec"]     # the target count is in the spec: Pulumi runs it again
    tools.run("kafka-topics", "--bootstrap-server", cluster.bootstrap_servers, "--create", "--topic", "events",
              "--partitions", "6", "--replication-factor", "1")
    with ProductionLoad(cluster.bootstrap_servers, ["events"]) as load:
        wait_until(lambda: load.report.commits >= 5, 60, "the first transactions")
        load.phase("drain")
        assert _run(drain, cluster, tools).returncode == 0   # growing: nothing to move, min ISR bridged at 1
        load.phase("roll")
        cluster.roll(env_three, down_seconds=5)     # kafka-0 restarts with min ISR 2 while every topic has RF 1
        # The outage of the only broker lasts until both writers write again: the restarted broker is also the
        # controller, and it answers (and its readiness probe passes: no partition to be behind on) a moment
        # before it has sent itself the partitions.
        rolled = time.monotonic()
        wait_until(lambda: any(t > rolled for t in load.report.commit_times) and any(t > rolled for t in load.report.ack_times),
                   60, "a transaction committed and a record acknowledged after the roll")
        load.phase("new brokers")
        for broker_id in (1, 2):
            cluster.add_broker(broker_id)
        cluster.wait_registered([0, 1, 2])
        load.phase("rebalance")
        done = _run(rebalance, cluster, tools)
        load.phase("after")
        print(done.stdout)
        assert done.returncode == 0, done.stdout + done.stderr
        time.sleep(3)
    assert_no_write_refused(load.report, cluster.bootstrap_servers, only_broker_restarts_in=("roll",))  # kafka-0 alone rolls

    topics = cluster.topics()
    assert {"orders", "__consumer_offsets", "__transaction_state"} <= set(topics)
    for name, partitions in topics.items():
        for number, state in partitions.items():
            assert sorted(state.replicas) == [0, 1, 2], (name, number, state)
    leaders = [s.replicas[0] for p in topics.values() for s in p.values()]
    assert {leaders.count(b) for b in (0, 1, 2)} <= set(range(len(leaders) // 3 - 2, len(leaders) // 3 + 3))
    configs = tools.run("kafka-configs", "--bootstrap-server", cluster.bootstrap_servers, "--describe",
                        "--entity-type", "topics", "--entity-name", "__transaction_state").stdout
    assert "min.insync.replicas=2" in configs

    # Any one broker may go: every record stays readable and transactions still commit.
    expected = list(before)
    for lost in (0, 1, 2):
        cluster.stop_broker(lost)
        batch = [f"without-{lost}-{i}" for i in range(5)]
        _commit(cluster, "orders", batch)
        expected += batch
        assert sorted(_read_committed(cluster, "orders", len(expected))) == sorted(expected), lost
        cluster.add_broker(lost)
        cluster.wait_registered([0, 1, 2])
        _wait_in_sync(cluster)


def _wait_in_sync(cluster):
    from integration.harness import wait_until

    def in_sync():
        return all(sorted(s.isr) == sorted(s.replicas) for p in cluster.topics().values() for s in p.values())
    wait_until(in_sync, 120, "every replica back in sync")
