"""Partition reassignment plans for broker-count changes (pure; also the Jobs' planner).

Input is what `kafka-topics --describe` (Kafka 3.9) prints; output is the JSON
`kafka-reassign-partitions --reassignment-json-file` reads, plus the topic-level
`min.insync.replicas` changes that must go with it.

- `drain_plan`: before a cluster shrinks to `brokers`, every replica on a broker id >= `brokers`
  moves to a staying broker, and a topic whose replication factor no longer fits is lowered to the
  broker count (internal topics included). When the broker count changes, the StatefulSet then
  restarts every broker once: a topic-level min ISR that one restarting broker would undercut
  (above RF - 1) is lowered for the change, and a cluster-wide min ISR (`cluster_min_isr`) bridges
  the topics that use the brokers' own value, or writes with acks=all (every idempotent and
  transactional producer) would fail with NOT_ENOUGH_REPLICAS while a broker is down.
- `grow_plan`: after the StatefulSet has `brokers` brokers, internal topics below the stack's
  offsets/transaction factors, and topics still at the cluster's default factor from before the
  change, get replicas on the least loaded brokers; preferred leaders are spread; min ISR is raised
  to what the stack sets and what the drain lowered is restored. A topic a user created with a
  lower factor than the default keeps it.

What the drain lowered, and the default factor before the change, live in a `ChangeRecord` (a short
text the Jobs keep in a znode) from the drain to the rebalance: a drain that runs again keeps the
first values; the rebalance restores exactly them, and only where nobody changed them since.

This file is copied verbatim into the Kafka admin Jobs and run by the cp-kafka image's python3
(`python3 planner.py drain|grow ... < describe.txt`), so it sticks to the standard library and to
syntax every python3 since 3.6 reads (UBI 8's).
"""

import json
import re
import sys
from collections import OrderedDict
from typing import Dict, List, Optional, Tuple

MIN_ISR = "min.insync.replicas"

_TOPIC_LINE = re.compile(r"^Topic:\s*(?P<topic>\S+)\s+TopicId:.*?ReplicationFactor:\s*(?P<rf>\d+)\s+Configs:\s*(?P<configs>.*)$")
_PARTITION_LINE = re.compile(
    r"^\s*Topic:\s*(?P<topic>\S+)\s+Partition:\s*(?P<partition>\d+)\s+Leader:\s*(?P<leader>-?\d+|none)\s+"
    r"Replicas:\s*(?P<replicas>[\d,]*)\s+Isr:\s*(?P<isr>[\d,]*)"
)


class Partition(object):
    def __init__(self, replicas: List[int], isr: List[int], leader: Optional[int]):
        self.replicas = replicas
        self.isr = isr
        self.leader = leader


class Topic(object):
    def __init__(self, name: str, configs: Dict[str, str]):
        self.name = name
        self.configs = configs
        self.partitions = OrderedDict()  # type: Dict[int, Partition]

    @property
    def replication_factor(self) -> int:
        return max(len(p.replicas) for p in self.partitions.values()) if self.partitions else 0


def _ids(text: str) -> List[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def _configs(text: str) -> Dict[str, str]:
    # Values may contain commas (throttled replica lists "0:1,0:2"): a new entry starts at "key=".
    found = {}
    for m in re.finditer(r"(?:^|,)([a-z][a-z0-9._-]*)=((?:(?!,[a-z][a-z0-9._-]*=).)*)", text.strip()):
        found[m.group(1)] = m.group(2)
    return found


def parse_describe(text: str) -> "OrderedDict[str, Topic]":
    """Topics, their topic-level configs and partition assignments from `kafka-topics --describe`."""
    topics = OrderedDict()  # type: OrderedDict[str, Topic]
    for line in text.splitlines():
        m = _PARTITION_LINE.match(line)
        if m:
            leader = m.group("leader")
            topic = topics.setdefault(m.group("topic"), Topic(m.group("topic"), {}))
            topic.partitions[int(m.group("partition"))] = Partition(
                _ids(m.group("replicas")), _ids(m.group("isr")), None if leader in ("none", "-1") else int(leader)
            )
            continue
        m = _TOPIC_LINE.match(line.strip())
        if m:
            topics.setdefault(m.group("topic"), Topic(m.group("topic"), {})).configs = _configs(m.group("configs"))
    return topics


_OVERRIDES_HEADER = re.compile(r"^Dynamic configs for topic (?P<topic>\S+) are:\s*$")
_OVERRIDE_LINE = re.compile(r"^\s+(?P<key>[a-z][a-z0-9._-]*)=(?P<value>.*?) sensitive=(?:true|false) synonyms=")


def parse_topic_overrides(text: str) -> Dict[str, Dict[str, str]]:
    """Each topic's own settings from `kafka-configs --entity-type topics --describe` (Kafka 3.9). Unlike
    `kafka-topics --describe`, it leaves out what a topic takes from the brokers' static or cluster-wide values."""
    found = OrderedDict()  # type: Dict[str, Dict[str, str]]
    current = None
    for line in text.splitlines():
        m = _OVERRIDES_HEADER.match(line)
        if m:
            current = found.setdefault(m.group("topic"), OrderedDict())
            continue
        m = _OVERRIDE_LINE.match(line)
        if m and current is not None:
            current[m.group("key")] = m.group("value")
    return found


def use_topic_overrides(topics: Dict[str, Topic], overrides: Dict[str, Dict[str, str]]) -> None:
    """Replace the describe's configs by the topics' own (a topic missing from `overrides` has none)."""
    for topic in topics.values():
        topic.configs = overrides.get(topic.name, OrderedDict())


class Plan(object):
    """What a Job does: reassign these partitions, set these topic configs; or refuse with `errors`."""

    def __init__(self):
        self.reassignments = OrderedDict()  # type: Dict[Tuple[str, int], List[int]]
        self.configs_before = OrderedDict()  # type: Dict[str, Dict[str, str]]  (applied before moving)
        self.configs_after = OrderedDict()  # type: Dict[str, Dict[str, str]]   (applied once moved)
        self.errors = []  # type: List[str]
        self.cluster_min_isr = None  # type: Optional[int]   (cluster-wide bridge while the brokers restart)
        self.record = ChangeRecord()

    def reassignment_json(self) -> dict:
        return {
            "version": 1,
            "partitions": [
                {"topic": topic, "partition": partition, "replicas": replicas}
                for (topic, partition), replicas in self.reassignments.items()
            ],
        }

    def to_json(self) -> dict:
        return {
            "reassignment": self.reassignment_json(),
            "configsBefore": self.configs_before,
            "configsAfter": self.configs_after,
            "errors": self.errors,
            "clusterMinIsr": self.cluster_min_isr,
            "record": self.record.text(),
        }


class ChangeRecord(object):
    """What a broker-count change has to undo or still needs to know, from the drain to the rebalance:
    `min_isr` topic -> (the user's value, the value the drain set), `default_rf` the cluster's
    default.replication.factor before the change. Text form: `v1;defaultRf=3;minIsr=t:2:1,u:3:2`
    (topic names hold no `;`, `,` or `:`)."""

    PREFIX = "v1"

    def __init__(self, default_rf: Optional[int] = None, min_isr: Optional[Dict[str, Tuple[int, int]]] = None):
        self.default_rf = default_rf
        self.min_isr = OrderedDict(min_isr or {})  # type: Dict[str, Tuple[int, int]]

    @classmethod
    def parse(cls, text: str) -> "ChangeRecord":
        record = cls()
        parts = (text or "").strip().split(";")
        if parts[0] != cls.PREFIX:
            return record
        for part in parts[1:]:
            key, _, value = part.partition("=")
            if key == "defaultRf" and value.isdigit():
                record.default_rf = int(value)
            elif key == "minIsr":
                for item in value.split(","):
                    fields = item.split(":")
                    if len(fields) == 3 and fields[1].isdigit() and fields[2].isdigit():
                        record.min_isr[fields[0]] = (int(fields[1]), int(fields[2]))
        return record

    def text(self) -> str:
        """The record, or "" when nothing is left to remember."""
        parts = []
        if self.default_rf is not None:
            parts.append("defaultRf={}".format(self.default_rf))
        if self.min_isr:
            parts.append("minIsr=" + ",".join("{}:{}:{}".format(t, a, b) for t, (a, b) in self.min_isr.items()))
        return ";".join([self.PREFIX] + parts) if parts else ""


def _min_isr(topic: Topic) -> Optional[int]:
    """The topic-level min.insync.replicas, or None when the topic uses the brokers' value."""
    value = topic.configs.get(MIN_ISR)
    return int(value) if value is not None and value.isdigit() else None


def _survives_one_restart(rf: int) -> int:
    """The highest min ISR a partition of `rf` replicas keeps while one of them restarts (at least 1)."""
    return max(1, rf - 1)


def _load(topics: Dict[str, Topic], brokers: List[int]) -> Dict[int, int]:
    load = {b: 0 for b in brokers}
    for topic in topics.values():
        for partition in topic.partitions.values():
            for replica in partition.replicas:
                if replica in load:
                    load[replica] += 1
    return load


def _least_loaded(load: Dict[int, int], exclude: List[int]) -> Optional[int]:
    candidates = [b for b in sorted(load) if b not in exclude]
    return min(candidates, key=lambda b: (load[b], b)) if candidates else None


def drain_plan(topics: Dict[str, Topic], brokers: int, live: List[int], target_min_isr: Optional[int] = None,
               default_rf_now: Optional[int] = None, record: Optional[ChangeRecord] = None) -> Plan:
    """Move every replica off brokers >= `brokers` onto the staying, registered brokers. When the
    registered brokers are not exactly 0..brokers-1 (the count changes; the StatefulSet restarts each
    broker next), also bridge min ISR for the restarts and carry `record` on (see the module doc)."""
    plan = Plan()
    plan.record = ChangeRecord(record.default_rf, record.min_isr) if record else ChangeRecord()
    staying = sorted(b for b in live if b < brokers)
    if not staying:
        plan.errors.append("none of the staying brokers 0..{} is registered; start them and retry".format(brokers - 1))
        return plan
    load = _load(topics, staying)
    rf_after = {}  # type: Dict[str, int]
    for topic in topics.values():
        new_rf = min(topic.replication_factor, len(staying))
        rf_after[topic.name] = new_rf
        for number, partition in topic.partitions.items():
            if partition.leader is None or not partition.isr:
                plan.errors.append("partition {}-{} has no leader (replicas {}); bring its brokers back before shrinking".format(
                    topic.name, number, ",".join(map(str, partition.replicas))))
                continue
            if all(r < brokers for r in partition.replicas) and len(partition.replicas) <= new_rf:
                continue
            # Keep the staying replicas that are in sync, leader first; fill up with the least loaded brokers.
            keep = [r for r in partition.replicas if r < brokers and r in partition.isr]
            if partition.leader in keep:
                keep.remove(partition.leader)
                keep.insert(0, partition.leader)
            keep = keep[:new_rf]
            while len(keep) < new_rf:
                extra = _least_loaded(load, keep)
                if extra is None:
                    break
                keep.append(extra)
                load[extra] += 1
            if keep != partition.replicas:
                plan.reassignments[(topic.name, number)] = keep
    if sorted(live) == list(range(brokers)):
        return plan  # the same brokers before and after: no restart to bridge
    if plan.record.default_rf is None:
        plan.record.default_rf = default_rf_now
    bridge = target_min_isr
    for topic in topics.values():
        fits = _survives_one_restart(rf_after[topic.name])
        isr = _min_isr(topic)
        if isr is None:
            bridge = fits if bridge is None else min(bridge, fits)
        elif isr > fits:
            plan.configs_before.setdefault(topic.name, OrderedDict())[MIN_ISR] = str(fits)
            if topic.name not in plan.record.min_isr:   # a drain that runs again keeps the user's value
                plan.record.min_isr[topic.name] = (isr, fits)
    plan.cluster_min_isr = bridge
    return plan


def grow_plan(topics: Dict[str, Topic], brokers: int, live: List[int], wanted_rf: Dict[str, int], default_rf: int,
              wanted_min_isr: Dict[str, int], record: Optional[ChangeRecord] = None) -> Plan:
    """Raise topics to their wanted factor on `brokers` brokers, spreading replicas and preferred leaders,
    and restore what the drain lowered (`record`)."""
    plan = Plan()
    record = record or ChangeRecord()
    missing = [b for b in range(brokers) if b not in live]
    if missing:
        plan.errors.append("brokers {} are not registered; the StatefulSet is not healthy".format(",".join(map(str, missing))))
        plan.record = record
        return plan
    everyone = list(range(brokers))
    load = _load(topics, everyone)
    leaders = {b: 0 for b in everyone}
    for topic in topics.values():
        for partition in topic.partitions.values():
            if partition.replicas and partition.replicas[0] in leaders:
                leaders[partition.replicas[0]] += 1
    targets = {}  # type: Dict[str, int]
    for topic in topics.values():
        if topic.name in wanted_rf:
            wanted = wanted_rf[topic.name]
        elif record.default_rf is not None and topic.replication_factor == record.default_rf:
            wanted = default_rf   # it had the cluster's default: it follows the new one
        else:
            wanted = topic.replication_factor   # a user's own factor stays
        target = targets[topic.name] = min(brokers, max(topic.replication_factor, wanted))
        for number, partition in topic.partitions.items():
            if len(partition.replicas) >= target:
                continue
            replicas = list(partition.replicas)
            while len(replicas) < target:
                extra = _least_loaded(load, replicas)
                replicas.append(extra)
                load[extra] += 1
            # The first replica is the preferred leader: the broker that leads the fewest partitions.
            old_first = partition.replicas[0] if partition.replicas else None
            first = min(replicas, key=lambda b: (leaders[b] - (1 if b == old_first else 0), b))
            if old_first is not None and old_first in leaders:
                leaders[old_first] -= 1
            leaders[first] += 1
            replicas.remove(first)
            plan.reassignments[(topic.name, number)] = [first] + replicas
        isr_target = wanted_min_isr.get(topic.name)
        if isr_target is not None:
            isr_target = min(isr_target, target)
            if topic.configs.get(MIN_ISR) != str(isr_target):
                plan.configs_after.setdefault(topic.name, OrderedDict())[MIN_ISR] = str(isr_target)
    # What the drain lowered goes back, as far as the topic's factor allows (the rest waits in the record
    # for a later grow), unless the topic is gone, the stack owns its min ISR, or someone changed it since.
    for name, (original, bridged) in record.min_isr.items():
        topic = topics.get(name)
        if topic is None or name in wanted_min_isr or _min_isr(topic) != bridged:
            continue
        restored = min(original, targets[name])
        if restored != bridged:
            plan.configs_after.setdefault(name, OrderedDict())[MIN_ISR] = str(restored)
        if restored != original:
            plan.record.min_isr[name] = (original, restored)
    return plan


def parse_broker_ids(zookeeper_shell_output: str) -> List[int]:
    """The ids `zookeeper-shell <zk> ls /brokers/ids` prints as its last line, e.g. `[0, 1, 2]`."""
    lists = re.findall(r"^\[([\d,\s]*)\]\s*$", zookeeper_shell_output, re.M)
    return sorted(_ids(lists[-1])) if lists else []


def _int_map(text: str) -> Dict[str, int]:
    """`topic=3,other=2` -> {"topic": 3, "other": 2}."""
    return {k: int(v) for k, v in (item.split("=", 1) for item in text.split(",") if item)}


def _optional_int(text: str) -> Optional[int]:
    return int(text) if text.strip().isdigit() else None


def main(argv: List[str]) -> int:
    """drain BROKERS LIVE TARGET_MIN_ISR DEFAULT_RF_NOW RECORD OVERRIDES | grow BROKERS LIVE WANTED_RF DEFAULT_RF
    WANTED_MIN_ISR RECORD OVERRIDES; `kafka-topics --describe` text on stdin. RECORD is a ChangeRecord's
    text ("" for none), OVERRIDES a file with `kafka-configs --entity-type topics --describe` text."""
    mode, brokers, live = argv[0], int(argv[1]), _ids(argv[2])
    topics = parse_describe(sys.stdin.read())

    def overrides(path):
        with open(path) as f:
            use_topic_overrides(topics, parse_topic_overrides(f.read()))
    if mode == "drain":
        overrides(argv[6])
        plan = drain_plan(topics, brokers, live, _optional_int(argv[3]), _optional_int(argv[4]), ChangeRecord.parse(argv[5]))
    elif mode == "grow":
        overrides(argv[7])
        plan = grow_plan(topics, brokers, live, _int_map(argv[3]), int(argv[4]), _int_map(argv[5]), ChangeRecord.parse(argv[6]))
    else:
        raise SystemExit("usage: planner.py drain|grow ...")
    json.dump(plan.to_json(), sys.stdout, indent=1)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
