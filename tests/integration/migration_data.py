"""What a migration must keep: topics with their settings, committed and aborted transactions, a consumer
group's committed offsets. `write_history` puts them into a cluster; `History.read` reads them back, so a
test compares the same view before and after (librdkafka clients: no JVM per read).
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from dataclasses import dataclass

TOPICS = {"orders": 3, "payments": 1}
TOPIC_CONFIG = {"orders": {"retention.ms": "604800000", "cleanup.policy": "delete"}}
GROUP = "billing"
TRANSACTIONAL_ID = "billing-writer"
COMMITTED_TRANSACTIONS = 5
ABORTED_TRANSACTIONS = 2
PLAIN_RECORDS = 40


def write_history(bootstrap: str, replication_factor: int) -> None:
    """Topics, plain records, committed and aborted transactions, and the group's committed offsets."""
    from confluent_kafka import Consumer, Producer, TopicPartition
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics([NewTopic(name, partitions, replication_factor, config=TOPIC_CONFIG.get(name, {}))
                                   for name, partitions in TOPICS.items()])
    for future in futures.values():
        future.result(60)
    plain = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all"})
    for i in range(PLAIN_RECORDS):
        for topic in TOPICS:
            plain.produce(topic, key=str(i), value=f"plain-{i}")
    assert plain.flush(60) == 0
    writer = Producer({"bootstrap.servers": bootstrap, "transactional.id": TRANSACTIONAL_ID})
    writer.init_transactions(60)
    for number in range(COMMITTED_TRANSACTIONS + ABORTED_TRANSACTIONS):
        committed = number < COMMITTED_TRANSACTIONS
        writer.begin_transaction()
        for topic in TOPICS:
            for part in range(3):
                writer.produce(topic, key=str(part), value=f"{'tx' if committed else 'aborted'}-{number}-{part}")
        writer.flush(60)
        writer.commit_transaction(60) if committed else writer.abort_transaction(60)
    # The group read all of `payments` and part of `orders`.
    group = Consumer({"bootstrap.servers": bootstrap, "group.id": GROUP, "enable.auto.commit": False})
    marks = [TopicPartition("orders", p, 5 + p) for p in range(TOPICS["orders"])]
    high = group.get_watermark_offsets(TopicPartition("payments", 0), timeout=30)[1]
    _commit(group, [*marks, TopicPartition("payments", 0, high)])
    group.close()


def _commit(group, offsets, timeout: float = 60) -> None:
    """A synchronous commit, retried while Kafka calls its error retriable: on a cluster that has just
    created `__consumer_offsets`, its partitions' leaders may still be loading (NOT_COORDINATOR, seen in
    CI on a loaded machine), as an application's commit loop would ride out."""
    from confluent_kafka import KafkaError, KafkaException

    coordinator_moving = {KafkaError.NOT_COORDINATOR, KafkaError.COORDINATOR_LOAD_IN_PROGRESS, KafkaError.COORDINATOR_NOT_AVAILABLE}
    deadline = time.monotonic() + timeout
    while True:
        try:
            group.commit(offsets=offsets, asynchronous=False)
            return
        except KafkaException as error:
            retriable = error.args[0].retriable() or error.args[0].code() in coordinator_moving
            if not retriable or time.monotonic() > deadline:
                raise
            time.sleep(1)


def read_all(bootstrap: str, isolation: str, timeout: float = 120) -> Counter:
    """(topic, value) -> count of every record of TOPICS, read from the beginning with `isolation`."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"reader-{uuid.uuid4()}", "enable.auto.commit": False,
                         "isolation.level": isolation, "enable.partition.eof": True, "auto.offset.reset": "earliest"})
    partitions = [TopicPartition(topic, p, 0) for topic, count in TOPICS.items() for p in range(count)]
    consumer.assign(partitions)
    seen: Counter = Counter()
    at_end: set = set()
    deadline = time.monotonic() + timeout
    try:
        while len(at_end) < len(partitions):
            assert time.monotonic() < deadline, f"read {sum(seen.values())} records, partitions at their end: {sorted(at_end)}"
            for message in consumer.consume(500, 1):
                if message.error():
                    if message.error().name() == "_PARTITION_EOF":
                        at_end.add((message.topic(), message.partition()))
                    continue
                seen[(message.topic(), message.value().decode())] += 1
    finally:
        consumer.close()
    return seen


def group_offsets(bootstrap: str) -> dict[tuple[str, int], int]:
    from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": bootstrap})
    wanted = [TopicPartition(topic, p) for topic, count in TOPICS.items() for p in range(count)]
    (future,) = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(GROUP, wanted)]).values()
    return {(tp.topic, tp.partition): tp.offset for tp in future.result(60).topic_partitions}


def topic_shapes(bootstrap: str) -> dict[str, tuple[int, int, dict]]:
    """topic -> (partitions, replication factor, the topic's own settings)."""
    from confluent_kafka.admin import AdminClient, ConfigResource

    admin = AdminClient({"bootstrap.servers": bootstrap})
    metadata = admin.list_topics(timeout=30)
    shapes = {}
    for name in TOPICS:
        partitions = metadata.topics[name].partitions
        (future,) = admin.describe_configs([ConfigResource(ConfigResource.Type.TOPIC, name)]).values()
        own = {k: v.value for k, v in future.result(60).items() if k in TOPIC_CONFIG.get(name, {})}
        shapes[name] = (len(partitions), len(partitions[0].replicas), own)
    return shapes


@dataclass(frozen=True)
class History:
    topics: dict
    committed: Counter
    uncommitted: Counter
    offsets: dict

    @classmethod
    def read(cls, bootstrap: str) -> "History":
        return cls(topic_shapes(bootstrap), read_all(bootstrap, "read_committed"), read_all(bootstrap, "read_uncommitted"),
                   group_offsets(bootstrap))

    def assert_complete(self) -> None:
        """What write_history wrote, as a read_committed and a read_uncommitted reader see it."""
        per_topic = PLAIN_RECORDS + 3 * COMMITTED_TRANSACTIONS
        assert sum(self.committed.values()) == per_topic * len(TOPICS), self.committed
        assert set(self.committed.values()) == {1}
        assert not [v for _, v in self.committed if v.startswith("aborted")]
        assert sum(1 for _, v in self.uncommitted if v.startswith("aborted")) == 3 * ABORTED_TRANSACTIONS * len(TOPICS)
        assert self.offsets[("orders", 0)] == 5 and self.offsets[("payments", 0)] > 0


def transaction_still_works(bootstrap: str) -> Counter:
    """After the change: the same transactional id commits again (its producer state was kept), and the
    group resumes where it committed (it reads exactly the new transaction's `payments` records)."""
    from confluent_kafka import Consumer, Producer

    writer = Producer({"bootstrap.servers": bootstrap, "transactional.id": TRANSACTIONAL_ID})
    writer.init_transactions(60)
    writer.begin_transaction()
    for part in range(3):
        writer.produce("payments", value=f"after-{part}")
    writer.commit_transaction(60)
    group = Consumer({"bootstrap.servers": bootstrap, "group.id": GROUP, "isolation.level": "read_committed",
                      "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    group.subscribe(["payments"])
    seen: Counter = Counter()
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and sum(seen.values()) < 3:
        for message in group.consume(100, 1):
            if not message.error():
                seen[message.value().decode()] += 1
    time.sleep(2)   # anything beyond the three would arrive now
    seen.update(m.value().decode() for m in group.consume(100, 2) if not m.error())
    group.close()
    return seen
