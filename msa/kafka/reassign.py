"""Partition reassignment plans for broker-count changes (pure; also the Jobs' planner).

Input is what `kafka-topics --describe` (Kafka 3.9) prints; output is the JSON
`kafka-reassign-partitions --reassignment-json-file` reads, plus the topic-level
`min.insync.replicas` changes that must go with it.

- `drain_plan`: before a cluster shrinks to `brokers`, every replica on a broker id >= `brokers`
  moves to a staying broker, and a topic whose replication factor no longer fits is lowered to the
  broker count (internal topics included). A topic-level min ISR above the new factor is lowered to
  it, or writes with acks=all (every transactional producer) would fail with NOT_ENOUGH_REPLICAS.
- `grow_plan`: after the StatefulSet has `brokers` brokers, each topic below its wanted factor
  (internal topics: the stack's offsets/transaction factors; others: default.replication.factor)
  gets replicas on the least loaded brokers, preferred leaders are spread, and min ISR is raised to
  what the stack sets.

This file is copied verbatim into the Kafka admin Jobs and run by the cp-kafka image's python3
(`python3 planner.py drain|grow ... < describe.txt`), so it sticks to the standard library and to
syntax every python3 since 3.6 reads (UBI 8's).
"""

import json
import re
import sys
from collections import OrderedDict
from typing import Dict, List, Optional

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


class Plan(object):
    """What a Job does: reassign these partitions, set these topic configs; or refuse with `errors`."""

    def __init__(self):
        self.reassignments = OrderedDict()  # type: Dict[Tuple[str, int], List[int]]
        self.configs_before = OrderedDict()  # type: Dict[str, Dict[str, str]]  (applied before moving)
        self.configs_after = OrderedDict()  # type: Dict[str, Dict[str, str]]   (applied once moved)
        self.errors = []  # type: List[str]

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
        }


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


def drain_plan(topics: Dict[str, Topic], brokers: int, live: List[int]) -> Plan:
    """Move every replica off brokers >= `brokers` onto the staying, registered brokers."""
    plan = Plan()
    staying = sorted(b for b in live if b < brokers)
    if not staying:
        plan.errors.append("none of the staying brokers 0..{} is registered; start them and retry".format(brokers - 1))
        return plan
    load = _load(topics, staying)
    for topic in topics.values():
        new_rf = min(topic.replication_factor, len(staying))
        moved = False
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
                moved = True
        isr = topic.configs.get(MIN_ISR)
        if moved and isr is not None and isr.isdigit() and int(isr) > new_rf:
            plan.configs_before.setdefault(topic.name, OrderedDict())[MIN_ISR] = str(new_rf)
    return plan


def grow_plan(topics: Dict[str, Topic], brokers: int, live: List[int], wanted_rf: Dict[str, int], default_rf: int,
              wanted_min_isr: Dict[str, int]) -> Plan:
    """Raise topics to their wanted factor on `brokers` brokers, spreading replicas and preferred leaders."""
    plan = Plan()
    missing = [b for b in range(brokers) if b not in live]
    if missing:
        plan.errors.append("brokers {} are not registered; the StatefulSet is not healthy".format(",".join(map(str, missing))))
        return plan
    everyone = list(range(brokers))
    load = _load(topics, everyone)
    leaders = {b: 0 for b in everyone}
    for topic in topics.values():
        for partition in topic.partitions.values():
            if partition.replicas and partition.replicas[0] in leaders:
                leaders[partition.replicas[0]] += 1
    for topic in topics.values():
        target = min(brokers, max(topic.replication_factor, wanted_rf.get(topic.name, default_rf)))
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
    return plan


def parse_broker_ids(zookeeper_shell_output: str) -> List[int]:
    """The ids `zookeeper-shell <zk> ls /brokers/ids` prints as its last line, e.g. `[0, 1, 2]`."""
    lists = re.findall(r"^\[([\d,\s]*)\]\s*$", zookeeper_shell_output, re.M)
    return sorted(_ids(lists[-1])) if lists else []


def _int_map(text: str) -> Dict[str, int]:
    """`topic=3,other=2` -> {"topic": 3, "other": 2}."""
    return {k: int(v) for k, v in (item.split("=", 1) for item in text.split(",") if item)}


def main(argv: List[str]) -> int:
    """drain BROKERS LIVE | grow BROKERS LIVE WANTED_RF DEFAULT_RF WANTED_MIN_ISR; describe text on stdin."""
    mode, brokers, live = argv[0], int(argv[1]), _ids(argv[2])
    topics = parse_describe(sys.stdin.read())
    if mode == "drain":
        plan = drain_plan(topics, brokers, live)
    elif mode == "grow":
        plan = grow_plan(topics, brokers, live, _int_map(argv[3]), int(argv[4]), _int_map(argv[5]))
    else:
        raise SystemExit("usage: planner.py drain|grow ...")
    json.dump(plan.to_json(), sys.stdout, indent=1)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
