"""A broker-count change while applications keep writing: idempotent and transactional producers and an
acks=all probe run through the kafka-drain Job, the StatefulSet's scale-down and roll (each pod away for
30 s, as a real node takes to pull, schedule and attach), and the kafka-rebalance Job.

Also: the drain stopped mid-move (its pod killed) and run again waits for the moves already running,
with a one-line failure when its bound runs out; and a user's own replication factor 1 survives.
Real Kafka 3.9.1 brokers configured from the rendered env; the Jobs' script text from the rendered Jobs.
"""

import os
import signal
import time

import pytest

from conftest import by_name, open_kafka_then, run_stack
from integration.harness import wait_until
from integration.rendered import rendered_pod_env, run_job_script, start_job_script
from integration.kafka_load import RECORD_INTERVAL, ProductionLoad, assert_no_write_refused

pytestmark = pytest.mark.integration

POD_AWAY_SECONDS = 30


def _stack(brokers: int):
    def edit(values):
        values["msa:kafka"]["brokers"] = brokers
    result = run_stack("prod", open_kafka_then(edit))
    return by_name(result, "Job", "kafka-drain"), by_name(result, "Job", "kafka-rebalance"), rendered_pod_env("prod", "kafka", edit)


def _loopback(cluster) -> dict:
    return {"BOOTSTRAP_SERVERS": cluster.bootstrap_servers, "ZOOKEEPER_CONNECT": cluster.zookeeper.connect}


def _create(cluster, name: str, partitions: int = 0, rf: int = 0, assignment=None, **configs) -> None:
    from confluent_kafka.admin import NewTopic

    topic = (NewTopic(name, num_partitions=len(assignment), replica_assignment=assignment, config=configs) if assignment
             else NewTopic(name, num_partitions=partitions, replication_factor=rf, config=configs))
    admin = cluster.admin()   # kept referenced until the futures resolve
    # A loaded machine: the controller may take a while to elect the new leaders (librdkafka's own request
    # timeout, 60 s by default, is the bound that counts: the future's is only how long to wait for it).
    for future in admin.create_topics([topic], request_timeout=120, operation_timeout=120).values():
        future.result(180)


def _topic_config(cluster, topic: str, key: str) -> str:
    from confluent_kafka.admin import ConfigResource

    resource = ConfigResource("topic", topic)
    admin = cluster.admin()
    return admin.describe_configs([resource])[resource].result(30)[key].value


def _write(cluster, topic: str, values: list[str]) -> None:
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": cluster.bootstrap_servers, "enable.idempotence": True})
    for value in values:
        producer.produce(topic, value=value.encode())
        producer.poll(0)
    assert producer.flush(60) == 0


def _change_record(cluster) -> bool:
    from kazoo.client import KazooClient

    client = KazooClient(hosts=cluster.zookeeper.connect, timeout=10)
    client.start(timeout=15)
    try:
        return client.exists("/msa-kafka-change") is not None
    finally:
        client.stop()
        client.close()


def _read_until(process, text: str) -> str:
    """A running Job script's output up to the line that contains `text` (all of it if the script ends first)."""
    lines = []
    for line in process.stdout:
        lines.append(line)
        if text in line:
            break
    return "".join(lines)


def _throttle(tools, cluster, topics: list[str], rate: int = 0) -> None:
    """Replication throttles (0: none) that make the moves slow enough to stop the drain in the middle."""
    bootstrap = cluster.bootstrap_servers
    keys = ("leader.replication.throttled.rate", "follower.replication.throttled.rate")
    if rate:
        tools.run("kafka-configs", "--bootstrap-server", bootstrap, "--entity-type", "brokers", "--entity-default", "--alter",
                  "--add-config", ",".join(f"{k}={rate}" for k in keys))
    else:
        tools.run("kafka-configs", "--bootstrap-server", bootstrap, "--entity-type", "brokers", "--entity-default", "--alter",
                  "--delete-config", ",".join(keys))
    for topic in topics:
        replicas = ("leader.replication.throttled.replicas", "follower.replication.throttled.replicas")
        change = ["--add-config", ",".join(f"{k}=*" for k in replicas)] if rate else ["--delete-config", ",".join(replicas)]
        tools.run("kafka-configs", "--bootstrap-server", bootstrap, "--entity-type", "topics", "--entity-name", topic, "--alter", *change)


def test_three_to_two_with_slow_pod_restarts_refuses_no_write(kafka_world):
    cluster = kafka_world.start(brokers=3, zookeepers=1, stack="prod")
    tools = kafka_world.tools
    _create(cluster, "orders", 6, 2, **{"min.insync.replicas": "2"})      # a user's RF 2 / min ISR 2
    _create(cluster, "events", 6, 3)                                      # the default: RF 3, the brokers' min ISR
    # A user's own RF 1: one on a broker that goes away (moves, keeping RF 1), one on a staying broker.
    _create(cluster, "scratch", assignment=[[2]], **{"min.insync.replicas": "1"})
    _create(cluster, "keep", assignment=[[1]], **{"min.insync.replicas": "1"})
    single = [("scratch", f"s-{i}") for i in range(5)] + [("keep", f"k-{i}") for i in range(5)]
    for topic in ("scratch", "keep"):
        _write(cluster, topic, [v for t, v in single if t == topic])
    _write(cluster, "orders", ["x" * 200] * 6000)   # 1.2 MB: throttled moves that last long enough to interrupt
    drain, rebalance, env_two = _stack(2)

    timings = {}
    with ProductionLoad(cluster.bootstrap_servers, ["orders", "events"]) as load:
        wait_until(lambda: load.report.commits >= 5, 60, "the first transactions")
        # Throttled so hard that the moves cannot end by themselves while the drain is stopped and retried. A moving
        # replica's first fetch is not throttled (the quota is measured, not yet exceeded) and takes a partition's
        # 200 KB at once; it then stays out of the ISR only while its leader keeps getting records faster than it
        # may fetch them, so the load writes unpaced until the throttle goes (paced, a follower sometimes caught
        # up between two records and the move ended before the drain was stopped).
        load.record_interval = 0.002
        _throttle(tools, cluster, ["orders", "scratch"], rate=10_000)

        # The drain's pod dies in the middle of its moves.
        load.phase("drain")
        started = time.monotonic()
        first = start_job_script(drain, tools, _loopback(cluster))
        assert "moving" in _read_until(first, "moving")
        time.sleep(2)
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(30)

        # Run again at once with a bound that has run out: one line naming the moves, nothing else done.
        bounded = run_job_script(drain, tools, {**_loopback(cluster), "TIMEOUT_SECONDS": "1"})
        assert bounded.returncode == 1, bounded.stdout + bounded.stderr
        (line,) = [x for x in bounded.stderr.splitlines() if x.startswith("kafka-drain:")]
        assert "started earlier still running after 1s" in line, line

        # And as Pulumi runs it again: it waits for those moves (here until the throttle goes), then converges.
        again = start_job_script(drain, tools, _loopback(cluster))
        waiting = _read_until(again, "waiting for")
        assert "started earlier" in waiting, waiting
        _throttle(tools, cluster, ["orders", "scratch"])
        load.record_interval = RECORD_INTERVAL
        rest, _ = again.communicate(timeout=600)
        assert again.returncode == 0, waiting + rest
        timings["drain (killed, bounded, again)"] = time.monotonic() - started
        for name, partitions in cluster.topics().items():
            for number, state in partitions.items():
                assert 2 not in state.replicas, (name, number, state)

        load.phase("scale-down and roll")
        started = time.monotonic()
        cluster.remove_broker(2)
        cluster.roll(env_two, down_seconds=POD_AWAY_SECONDS)
        timings["scale-down and roll"] = time.monotonic() - started
        load.phase("rebalance")
        started = time.monotonic()
        done = run_job_script(rebalance, tools, _loopback(cluster))
        assert done.returncode == 0, done.stdout + done.stderr
        timings["rebalance"] = time.monotonic() - started
        load.phase("after")
        time.sleep(3)
    report = load.report
    print(" ".join(f"{k}={v:.0f}s" for k, v in timings.items()))
    assert_no_write_refused(report, cluster.bootstrap_servers, single)

    topics = cluster.topics()
    assert {len(s.replicas) for s in topics["orders"].values()} == {2}
    assert {len(s.replicas) for s in topics["events"].values()} == {2}
    # A user's RF 1 stays RF 1: moved off the broker that went away, untouched where it was.
    assert len(topics["scratch"][0].replicas) == 1 and topics["scratch"][0].replicas[0] in (0, 1)
    assert topics["keep"][0].replicas == [1]
    # What the drain lowered for the roll is back; the stack's own values rule the internal topic.
    assert _topic_config(cluster, "orders", "min.insync.replicas") == "2"
    assert _topic_config(cluster, "__transaction_state", "min.insync.replicas") == "1"
    defaults = tools.run("kafka-configs", "--bootstrap-server", cluster.bootstrap_servers, "--describe",
                         "--entity-type", "brokers", "--entity-default").stdout
    assert "min.insync.replicas" not in defaults
    assert not _change_record(cluster)
