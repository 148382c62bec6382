"""Continuous client load for day-two tests: what applications keep doing while the cluster changes.

`ProductionLoad` runs, in background threads, the three kinds of writers a change must not break:
- an idempotent producer (acks=all, retries within its delivery timeout), one record per topic every
  `RECORD_INTERVAL`;
- a transactional producer: begin, a record per topic, commit, again every `TRANSACTION_INTERVAL`;
- a probe: acks=all without retries or idempotence, one record per topic every `PROBE_INTERVAL`.
  Its errors are the broker's refusals as they happen (the other two retry them away until their
  delivery timeout): a run of consecutive failed probes is one refusal window.

Afterwards `read_committed` reads every topic back with isolation.level=read_committed.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

# The client's retry window: how long librdkafka (like the Java client's delivery.timeout.ms) keeps
# retrying a record before it reports a failure. A refusal shorter than this costs latency, not data.
DELIVERY_TIMEOUT_MS = 60_000
PROBE_INTERVAL = 0.2
# Paced, not as fast as the client can: what the day-two tests need is writes in flight at every moment of
# a change (a refusal, a lost or doubled record shows up either way), not throughput. Unpaced (a round every
# few ms, a transaction every 50 ms) the writers kept three test brokers at about a core; at a round every 20 ms
# and a transaction every 0.2 s, at 0.48; at 50 ms and 0.5 s, at 0.22 (benchmarks/load_cost.py), on a suite that
# is CPU-bound on 2 cores. Still 20 idempotent records a second per topic: each of a roll's leader moves (a second
# or more) sees dozens of writes, and the probe (refusals) keeps its 0.2 s.
RECORD_INTERVAL = 0.05
TRANSACTION_INTERVAL = 0.5
NOT_ENOUGH_REPLICAS = {"NOT_ENOUGH_REPLICAS", "NOT_ENOUGH_REPLICAS_AFTER_APPEND"}


@dataclass
class Refusal:
    topic: str
    start: float
    end: float
    errors: Counter

    @property
    def seconds(self) -> float:
        return self.end - self.start + PROBE_INTERVAL


@dataclass
class LoadReport:
    acked: list = field(default_factory=list)           # idempotent records the broker acknowledged
    failed_deliveries: list = field(default_factory=list)  # (time, error) of idempotent records refused or lost
    ack_times: list = field(default_factory=list)       # when each idempotent record was acknowledged
    committed: list = field(default_factory=list)       # records of committed transactions
    commit_times: list = field(default_factory=list)    # when each commit returned
    failed_commits: list = field(default_factory=list)
    probes: list = field(default_factory=list)          # (time, topic, error name or None)
    max_latency: float = 0.0                            # slowest idempotent delivery, seconds
    phases: list = field(default_factory=list)          # (time, name of the step that starts)

    @property
    def commits(self) -> int:
        return len(self.commit_times)

    def phase_at(self, at: float) -> str:
        names = [name for start, name in self.phases if start <= at]
        return names[-1] if names else "before"

    def refusals(self) -> list[Refusal]:
        """Runs of consecutive failed probe records, per topic."""
        windows, open_ = [], {}
        for at, topic, error in sorted(self.probes, key=lambda p: p[0]):
            if error is None:
                if topic in open_:
                    windows.append(open_.pop(topic))
                continue
            window = open_.setdefault(topic, Refusal(topic, at, at, Counter()))
            window.end = at
            window.errors[error] += 1
        return windows + list(open_.values())

    def not_enough_replicas(self) -> Counter:
        return Counter(e for _, _, e in self.probes if e in NOT_ENOUGH_REPLICAS)

    def summary(self) -> str:
        longest = max((r.seconds for r in self.refusals()), default=0.0)
        return (f"commits={self.commits} failed_commits={len(self.failed_commits)} acked={len(self.acked)} "
                f"failed_deliveries={len(self.failed_deliveries)} max_delivery_s={self.max_latency:.1f} "
                f"probes={len(self.probes)} refusal_windows={len(self.refusals())} longest_refusal_s={longest:.1f} "
                f"not_enough_replicas={sum(self.not_enough_replicas().values())}")


class ProductionLoad:
    """Idempotent, transactional and probe writes to `topics` until `stop()`; see the module doc. `record_interval`
    may be changed while it runs (the next round waits that long)."""

    def __init__(self, bootstrap: str, topics: list[str], record_interval: float = RECORD_INTERVAL,
                 transaction_interval: float = TRANSACTION_INTERVAL):
        self.bootstrap = bootstrap
        self.topics = topics
        self.record_interval = record_interval
        self.transaction_interval = transaction_interval
        self.report = LoadReport()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._guarded, args=(loop,), name=f"load-{loop.__name__}", daemon=True)
                         for loop in (self._idempotent_loop, self._probe_loop, self._transaction_loop)]
        self._errors: list[BaseException] = []

    def phase(self, name: str) -> None:
        """Mark the start of a step of the change: refusals are reported with the step they fell in."""
        self.report.phases.append((time.monotonic(), name))

    def __enter__(self) -> "ProductionLoad":
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> LoadReport:
        self._stop.set()
        for thread in self._threads:
            thread.join(DELIVERY_TIMEOUT_MS / 1000 + 120)
        if self._errors:
            raise self._errors[0]
        return self.report

    # --- the threads ---

    def _guarded(self, loop) -> None:
        try:
            loop()
        except BaseException as error:   # surfaced by stop()
            self._errors.append(error)

    def _idempotent_loop(self) -> None:
        from confluent_kafka import KafkaException, Producer

        producer = Producer({"bootstrap.servers": self.bootstrap, "linger.ms": 5, "enable.idempotence": True, "acks": "all",
                             "delivery.timeout.ms": DELIVERY_TIMEOUT_MS})
        sent = 0
        while not self._stop.is_set():
            for topic in self.topics:
                try:
                    producer.produce(topic, value=f"idem-{sent}".encode(), on_delivery=self._delivered(time.monotonic()))
                except KafkaException as error:   # refused at once: its latest metadata does not list the topic
                    self.report.failed_deliveries.append((time.monotonic(), str(error.args[0])))
                sent += 1
            next_round = time.monotonic() + self.record_interval
            while time.monotonic() < next_round:
                producer.poll(max(0.0, next_round - time.monotonic()))
        producer.flush(DELIVERY_TIMEOUT_MS / 1000 + 10)

    def _probe_loop(self) -> None:
        from confluent_kafka import KafkaException, Producer

        producer = Producer({"bootstrap.servers": self.bootstrap, "linger.ms": 0, "enable.idempotence": False, "acks": "all",
                             "retries": 0, "message.timeout.ms": 5000})
        while not self._stop.is_set():
            for topic in self.topics:
                try:
                    producer.produce(topic, value=b"probe", on_delivery=self._probed(topic))
                except KafkaException as error:   # refused at once: its latest metadata does not list the topic
                    self.report.probes.append((time.monotonic(), topic, error.args[0].name()))
            next_round = time.monotonic() + PROBE_INTERVAL
            while time.monotonic() < next_round:
                producer.poll(max(0.0, next_round - time.monotonic()))
        producer.flush(10)

    def _transaction_loop(self) -> None:
        producer = self._transactional()
        while not self._stop.is_set():
            producer = self._one_transaction(producer)
            self._stop.wait(self.transaction_interval)

    def _transactional(self):
        from confluent_kafka import Producer

        producer = Producer({"bootstrap.servers": self.bootstrap, "transactional.id": f"load-{uuid.uuid4()}",
                             "transaction.timeout.ms": 2 * DELIVERY_TIMEOUT_MS, "delivery.timeout.ms": DELIVERY_TIMEOUT_MS})
        producer.init_transactions(DELIVERY_TIMEOUT_MS / 1000)
        return producer

    def _one_transaction(self, producer):
        """One transaction of a record per topic; a failed commit is counted, never retried silently."""
        from confluent_kafka import KafkaException

        number = self.report.commits + len(self.report.failed_commits)
        values = [f"tx-{number}-{topic}" for topic in self.topics]
        try:
            producer.begin_transaction()
            for topic, value in zip(self.topics, values):
                producer.produce(topic, value=value.encode())
            deadline = time.monotonic() + DELIVERY_TIMEOUT_MS / 1000
            while True:
                try:
                    producer.commit_transaction(max(1.0, deadline - time.monotonic()))
                    break
                except KafkaException as error:
                    # A commit that merely has not finished yet may be called again (librdkafka's contract).
                    if error.args[0].retriable() and time.monotonic() < deadline:
                        continue
                    raise
            self.report.commit_times.append(time.monotonic())
            self.report.committed += [(topic, value) for topic, value in zip(self.topics, values)]
            return producer
        except KafkaException as error:
            self.report.failed_commits.append((time.monotonic(), str(error.args[0])))
            if error.args[0].txn_requires_abort():
                producer.abort_transaction(DELIVERY_TIMEOUT_MS / 1000)
                return producer
            return self._transactional()

    def _delivered(self, sent_at: float):
        def callback(error, message):
            if error is not None:
                self.report.failed_deliveries.append((time.monotonic(), str(error)))
            else:
                self.report.acked.append((message.topic(), message.value().decode()))
                self.report.ack_times.append(time.monotonic())
                self.report.max_latency = max(self.report.max_latency, time.monotonic() - sent_at)
        return callback

    def _probed(self, topic: str):
        def callback(error, message):
            self.report.probes.append((time.monotonic(), topic, None if error is None else error.name()))
        return callback


def read_committed(bootstrap: str, topics: list[str], expected: set, timeout: float = 120) -> Counter:
    """(topic, value) -> how often it was read, with read_committed, until `expected` is seen (or the timeout)."""
    from confluent_kafka import Consumer

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"reader-{uuid.uuid4()}", "auto.offset.reset": "earliest",
                         "isolation.level": "read_committed", "enable.auto.commit": False})
    consumer.subscribe(topics)
    seen: Counter = Counter()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and not expected <= set(seen):
            for message in consumer.consume(1000, 1):
                if not message.error():
                    seen[(message.topic(), message.value().decode())] += 1
    finally:
        consumer.close()
    return seen


def assert_no_write_refused(report: LoadReport, bootstrap: str, extra_expected=(), only_broker_restarts_in: tuple = ()) -> None:
    """0 failed commits and deliveries (but see `only_broker_restarts_in`), no NOT_ENOUGH_REPLICAS, no refusal as long as the client's retry
    window, and every record (plus `extra_expected`) readable exactly once with read_committed.

    `only_broker_restarts_in`: the phases in which the cluster's only broker restarts (an outage no setting
    avoids). A commit or a record may fail there, and nowhere else: the restarted broker serves requests
    before the controller (itself, starting up) has sent it the partitions, and a client that asks for
    metadata at that moment drops the topic (librdkafka: "partition count changed from 6 to 0", then
    _INCONSISTENT or _UNKNOWN_TOPIC until its next metadata); the application sends it again. Both writers
    must work again after it."""
    print(report.summary())
    for failures, successes in ((report.failed_commits, report.commit_times), (report.failed_deliveries, report.ack_times)):
        failed = [(report.phase_at(at), error) for at, error in failures]
        assert all(phase in only_broker_restarts_in for phase, _ in failed), failed[:3]
        if failed:
            assert any(t > max(at for at, _ in failures) for t in successes), ("nothing written after the failures", failed[:3])
    assert report.commits >= 20, report.summary()
    refused = [(report.phase_at(r.start), r) for r in report.refusals() if set(r.errors) & NOT_ENOUGH_REPLICAS]
    assert not refused, refused[:5]
    longest = max((r.seconds for r in report.refusals()), default=0.0)
    assert longest < DELIVERY_TIMEOUT_MS / 1000, [(report.phase_at(r.start), r) for r in report.refusals() if r.seconds == longest]
    expected = set(report.acked) | set(report.committed) | set(extra_expected)
    topics = sorted({t for t, _ in expected})
    seen = read_committed(bootstrap, topics, expected)
    assert expected <= set(seen), f"{len(expected - set(seen))} records missing, e.g. {sorted(expected - set(seen))[:3]}"
    # Transactions are read exactly once always. The idempotent producer's records too, unless the
    # cluster's only broker restarts: a request in flight then times out, librdkafka bumps the producer
    # epoch (KIP-360) and sends it again under the new epoch, which the broker cannot tell from a new
    # record (librdkafka's "possibly persisted" case). No setting of the stack can avoid that.
    duplicated = [r for r in report.acked if seen[r] != 1 and not (only_broker_restarts_in and seen[r] > 1)]
    assert not duplicated, duplicated[:3]
    assert all(seen[r] == 1 for r in report.committed), [r for r in report.committed if seen[r] != 1][:3]
