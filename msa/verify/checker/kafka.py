"""The Kafka check, with the Kafka CLI tools of the image it runs in: the replication settings live
on every broker, a topic created with them is fully replicated, a transaction commits and reads back."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from typing import Callable, Optional

from .results import Result, failed, passed


# --- kafka --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Ran:
    returncode: int
    stdout: str
    stderr: str

    def error_line(self) -> str:
        """The most telling line of a failed tool run (the exception, not the stack trace); a refused
        login first, wherever it is, with what to check."""
        lines = [ln.strip() for ln in (self.stderr + "\n" + self.stdout).splitlines() if ln.strip()]
        for line in lines:
            if re.search(r"SaslAuthenticationException|Authentication failed", line):
                return line[:400] + " (" + AUTH_HINT + ")"
        for line in lines:
            if re.search(r"(Exception|Error)\b.*:", line) and not line.startswith("at "):
                return line[:400]
        return (lines[-1] if lines else f"exit status {self.returncode}")[:400]


AUTH_HINT = ("Kafka refused the admin user's login: its SCRAM credential and its Secret kafka-user-admin-* disagree; "
             "docs/troubleshooting.md: SaslAuthenticationException")
# How each tool takes a client.properties (spec kafka.clientConfig: the admin user's, when the cluster authenticates).
CONFIG_OPTION = {"kafka-producer-perf-test": "--producer.config", "kafka-console-consumer": "--consumer.config"}


def login(spec_kafka: dict, tool: str) -> list[str]:
    """The arguments that make `tool` log in as the spec's Kafka user; none for an open cluster."""
    config = spec_kafka.get("clientConfig")
    return [CONFIG_OPTION.get(tool, "--command-config"), config] if config else []


def run_tool(args: list[str], timeout: float) -> Ran:
    started = time.monotonic()
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
        # One JVM per tool: the Job's log shows where the time goes.
        action = next((a for a in args if a in ("--create", "--describe", "--list", "--delete")), "")
        print(f"msa-verify: {args[0]} {action} exit {done.returncode} in {time.monotonic() - started:.1f} s",
              file=sys.stderr, flush=True)
        return Ran(done.returncode, done.stdout, done.stderr)
    except FileNotFoundError:
        return Ran(127, "", f"{args[0]}: command not found (the Job runs in the configured cp-kafka image)")
    except subprocess.TimeoutExpired as expired:
        return Ran(124, expired.stdout or "", f"{args[0]} did not finish within {timeout:.0f} s")


def parse_broker_configs(text: str) -> dict[int, dict[str, str]]:
    """`kafka-configs --entity-type brokers --describe --all` -> {broker id: {property: value}}."""
    brokers: dict[int, dict[str, str]] = {}
    current: Optional[dict] = None
    for line in text.splitlines():
        head = re.match(r"^All configs for broker (\d+) are:", line)
        if head:
            current = brokers.setdefault(int(head[1]), {})
            continue
        if line.startswith("Default configs for"):
            current = None
            continue
        item = re.match(r"^\s+([^=\s]+)=(.*?) sensitive=", line)
        if item and current is not None:
            current[item[1]] = item[2]
    return brokers


@dataclass(frozen=True)
class Partition:
    topic: str
    partition: int
    replicas: tuple
    isr: tuple


def parse_topic_description(text: str) -> dict[str, list[Partition]]:
    """`kafka-topics --describe` -> {topic: [partitions]}."""
    topics: dict[str, list[Partition]] = {}
    for line in text.splitlines():
        m = re.match(r"^\s+Topic: (\S+)\s+Partition: (\d+)\s+Leader: \S+\s+Replicas: ([\d,]*)\s+Isr: ([\d,]*)", line)
        if m:
            ids = lambda s: tuple(int(x) for x in s.split(",") if x)  # noqa: E731
            topics.setdefault(m[1], []).append(Partition(m[1], int(m[2]), ids(m[3]), ids(m[4])))
        elif line.startswith("Topic: "):
            topics.setdefault(line.split()[1], [])
    return topics


def _replication_problems(topic: str, partitions: list[Partition], rf: int, count: Optional[int] = None) -> list[str]:
    problems = []
    if not partitions:
        return [f"{topic} does not exist"]
    if count is not None and len(partitions) != count:
        problems.append(f"{topic} has {len(partitions)} partitions, expected {count}")
    wrong_rf = sorted({len(p.replicas) for p in partitions if len(p.replicas) != rf})
    if wrong_rf:
        problems.append(f"{topic} has replication factor {','.join(map(str, wrong_rf))}, expected {rf}")
    lagging = [p.partition for p in partitions if set(p.isr) != set(p.replicas)]
    if lagging:
        problems.append(f"{topic} partitions {','.join(map(str, lagging[:10]))} not fully replicated (ISR smaller than replicas)")
    return problems


def kafka_checks(spec: dict, run: Callable[[list[str], float], Ran] = run_tool) -> list[Result]:
    k = spec["kafka"]
    bootstrap, timeout_ms = k["bootstrap"], int(k["timeoutMs"])
    tool_timeout = timeout_ms / 1000 + 60
    results = []

    # 1. every broker is alive and runs the replication settings the stack rendered.
    described = run(["kafka-configs", "--bootstrap-server", bootstrap, *login(k, "kafka-configs"), "--entity-type", "brokers", "--describe", "--all"], tool_timeout)
    if described.returncode != 0:
        results.append(failed("kafka", "brokers", f"kafka-configs at {bootstrap} failed: {described.error_line()}"))
    else:
        brokers = parse_broker_configs(described.stdout)
        problems = []
        if len(brokers) != k["brokers"]:
            problems.append(f"{len(brokers)} live broker(s) {sorted(brokers)}, expected {k['brokers']} (msa:kafka.brokers)")
        for broker_id, props in sorted(brokers.items()):
            for key, want in k["brokerProperties"].items():
                if key in props and props[key] != want:
                    problems.append(f"broker {broker_id} runs {key}={props[key]}, expected {want}")
        if problems:
            results.append(failed("kafka", "brokers", "; ".join(problems)))
        else:
            results.append(passed("kafka", "brokers", f"{len(brokers)} live, replication settings as rendered "
                                                      f"(RF {k['replicationFactor']}, min ISR {k['minInsyncReplicas']})"))

    if k.get("quorumVoters"):
        results.append(_quorum(k, run, tool_timeout))

    # 2. a fresh topic per run, created with the stack's settings: its RF and ISR say what the cluster does.
    run_id = time.strftime("%Y%m%d%H%M%S") + "-" + uuid.uuid4().hex[:6]
    topic = f"{k['topicPrefix']}-{run_id}"
    _delete_leftover_topics(k, run, tool_timeout)
    created = run(["kafka-topics", "--bootstrap-server", bootstrap, *login(k, "kafka-topics"), "--create", "--topic", topic,
                   "--partitions", str(k["partitions"]), "--replication-factor", str(k["replicationFactor"]),
                   "--config", f"min.insync.replicas={k['minInsyncReplicas']}"], tool_timeout)
    if created.returncode != 0:
        results.append(failed("kafka", "topic", f"creating {topic} with RF {k['replicationFactor']} failed: {created.error_line()}"))
        return results
    try:
        # 3. a transaction commits, and a read_committed consumer reads exactly what it committed.
        results.append(_transaction(k, topic, run_id, run, tool_timeout))
        # 4. the topic and the internal topics the transaction and the consumer group used are fully replicated.
        internal = ["__transaction_state", "__consumer_offsets"]
        shown = run(["kafka-topics", "--bootstrap-server", bootstrap, *login(k, "kafka-topics"), "--describe", "--topic", "|".join([re.escape(topic), *internal])], tool_timeout)
        if shown.returncode != 0:
            results.append(failed("kafka", "topic", f"describing {topic} failed: {shown.error_line()}"))
            return results
        topics = parse_topic_description(shown.stdout)
        problems = _replication_problems(topic, topics.get(topic, []), k["replicationFactor"], k["partitions"])
        results.append(failed("kafka", "topic", "; ".join(problems)) if problems else
                       passed("kafka", "topic", f"{topic}: {k['partitions']} partition(s), RF {k['replicationFactor']}, every partition fully replicated"))
        problems = []
        for name in internal:
            problems += _replication_problems(name, topics.get(name, []), k["internalReplicationFactor"][name])
        results.append(failed("kafka", "internal topics", "; ".join(problems)) if problems else
                       passed("kafka", "internal topics", "__transaction_state, __consumer_offsets: RF "
                              f"{k['internalReplicationFactor']['__transaction_state']}/{k['internalReplicationFactor']['__consumer_offsets']}, fully replicated"))
    finally:
        run(["kafka-topics", "--bootstrap-server", bootstrap, *login(k, "kafka-topics"), "--delete", "--topic", re.escape(topic)], tool_timeout)
    return results


def parse_quorum_status(text: str) -> tuple[Optional[int], list[int]]:
    """(leader id, current voter ids) from `kafka-metadata-quorum describe --status` (Kafka 3.9)."""
    leader = re.search(r"^LeaderId:\s*(-?\d+)", text, re.M)
    voters = re.search(r"^CurrentVoters:\s*\[(.*)\]", text, re.M)
    ids = [int(i) for i in re.findall(r'(?:"id":\s*|^|,\s*)(\d+)(?=[,@\s}]|$)', voters.group(1))] if voters else []
    return (int(leader.group(1)) if leader else None), ids


def _quorum(k: dict, run, tool_timeout: float) -> Result:
    """KRaft: the controller quorum has a leader and every configured voter (asked through the brokers)."""
    shown = run(["kafka-metadata-quorum", "--bootstrap-server", k["bootstrap"], *login(k, "kafka-metadata-quorum"), "describe", "--status"], tool_timeout)
    if shown.returncode != 0:
        return failed("kafka", "quorum", f"kafka-metadata-quorum at {k['bootstrap']} failed: {shown.error_line()}")
    leader, voters = parse_quorum_status(shown.stdout)
    if leader is None or leader < 0:
        return failed("kafka", "quorum", f"the controller quorum has no leader (voters {voters})")
    if len(voters) != k["quorumVoters"]:
        return failed("kafka", "quorum", f"{len(voters)} voter(s) {voters}, expected {k['quorumVoters']} (msa:kafka.controllers)")
    return passed("kafka", "quorum", f"leader {leader}, voters {voters}")


def _delete_leftover_topics(k: dict, run, tool_timeout: float) -> None:
    """Topics of runs that died before cleaning up (deletion is asynchronous; nothing waits for it)."""
    listed = run(["kafka-topics", "--bootstrap-server", k["bootstrap"], *login(k, "kafka-topics"), "--list"], tool_timeout)
    leftovers = [t for t in listed.stdout.split() if t.startswith(k["topicPrefix"] + "-")]
    if leftovers:
        run(["kafka-topics", "--bootstrap-server", k["bootstrap"], *login(k, "kafka-topics"), "--delete", "--topic", "|".join(map(re.escape, leftovers))], tool_timeout)


def _transaction(k: dict, topic: str, run_id: str, run, tool_timeout: float) -> Result:
    records, marker = int(k["records"]), f"msa-verify {run_id}"
    with tempfile.TemporaryDirectory(prefix="msa-verify-") as tmp:
        payload = os.path.join(tmp, "payload.txt")
        with open(payload, "w") as f:
            f.write(marker)
        produced = run(["kafka-producer-perf-test", "--topic", topic, "--num-records", str(records), "--throughput", "-1",
                        "--payload-file", payload, "--transactional-id", k["transactionalId"], *login(k, "kafka-producer-perf-test"),
                        # One transaction for all records: it commits when the last record is sent.
                        "--transaction-duration-ms", str(10 * int(k["timeoutMs"])),
                        "--producer-props", f"bootstrap.servers={k['bootstrap']}", "acks=all",
                        f"max.block.ms={k['timeoutMs']}", f"delivery.timeout.ms={k['timeoutMs']}",
                        f"request.timeout.ms={min(30000, int(k['timeoutMs']))}"], tool_timeout)
    if produced.returncode != 0:
        hint = ""
        if "InitProducerId" in produced.stdout + produced.stderr or "Timeout" in produced.error_line():
            hint = (" (the transaction coordinator has no __transaction_state: transaction.state.log.replication.factor"
                    " above the live brokers? see the kafka brokers line)")
        return failed("kafka", "transaction", f"transactional producer {k['transactionalId']} failed: {produced.error_line()}{hint}")
    consumed = run(["kafka-console-consumer", "--bootstrap-server", k["bootstrap"], *login(k, "kafka-console-consumer"), "--topic", topic, "--from-beginning",
                    "--isolation-level", "read_committed", "--group", f"{k['topicPrefix']}-{run_id}",
                    "--max-messages", str(records), "--timeout-ms", str(k["timeoutMs"])], tool_timeout)
    read = sum(1 for line in consumed.stdout.splitlines() if line.strip() == marker)
    if read != records:
        why = "" if consumed.returncode == 0 else f": {consumed.error_line()}"
        return failed("kafka", "transaction", f"committed {records} records to {topic}, a read_committed consumer read {read}{why}")
    return passed("kafka", "transaction", f"committed {records} records in one transaction; read_committed consumer read all {records}")
