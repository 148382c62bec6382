"""Broker-count changes: the pure reassignment planner and where the drain/rebalance Jobs sit in the stack."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from msa.k8s import JOB_DELETE_TIMEOUT
from msa.kafka.jobs import drain_script, rebalance_script
from msa.kafka.reassign import (
    ChangeRecord, Partition, Topic, drain_plan, grow_plan, parse_broker_ids, parse_describe, parse_topic_overrides,
    use_topic_overrides,
)
from conftest import by_name, objects, run_stack

# As Kafka 3.9.1's `kafka-topics --describe` printed it on the loopback cluster (tabs included).
DESCRIBE_3 = (
    "Topic: orders\tTopicId: Ki9sEdeXSxCLynQb_DXAIg\tPartitionCount: 3\tReplicationFactor: 3\tConfigs: min.insync.replicas=2\n"
    "\tTopic: orders\tPartition: 0\tLeader: 2\tReplicas: 2,1,0\tIsr: 2,1,0\tElr: N/A\tLastKnownElr: N/A\n"
    "\tTopic: orders\tPartition: 1\tLeader: 1\tReplicas: 1,0,2\tIsr: 1,0,2\tElr: N/A\tLastKnownElr: N/A\n"
    "\tTopic: orders\tPartition: 2\tLeader: 0\tReplicas: 0,2,1\tIsr: 0,2,1\tElr: N/A\tLastKnownElr: N/A\n"
    "Topic: __transaction_state\tTopicId: V8eLVhemQlOSRGKw2-Sfww\tPartitionCount: 2\tReplicationFactor: 3\t"
    "Configs: compression.type=uncompressed,min.insync.replicas=2,cleanup.policy=compact,segment.bytes=104857600,"
    "unclean.leader.election.enable=false\n"
    "\tTopic: __transaction_state\tPartition: 0\tLeader: 1\tReplicas: 1,0,2\tIsr: 1,0,2\tElr: N/A\tLastKnownElr: N/A\n"
    "\tTopic: __transaction_state\tPartition: 1\tLeader: 2\tReplicas: 2,1,0\tIsr: 2,1,0\tElr: N/A\tLastKnownElr: N/A\n"
    "Topic: audit\tTopicId: aaaaaaaaaaaaaaaaaaaaaa\tPartitionCount: 1\tReplicationFactor: 1\t"
    "Configs: leader.replication.throttled.replicas=0:2,0:1,retention.ms=1000\n"
    "\tTopic: audit\tPartition: 0\tLeader: 2\tReplicas: 2\tIsr: 2\tElr: N/A\tLastKnownElr: N/A\n"
)


def test_parse_describe_reads_kafka_3_9_output():
    topics = parse_describe(DESCRIBE_3)
    assert list(topics) == ["orders", "__transaction_state", "audit"]
    assert topics["orders"].partitions[0].replicas == [2, 1, 0]
    assert topics["orders"].partitions[0].leader == 2
    assert topics["__transaction_state"].configs["min.insync.replicas"] == "2"
    # A value with commas (a throttle list) does not split into bogus keys.
    assert topics["audit"].configs == {"leader.replication.throttled.replicas": "0:2,0:1", "retention.ms": "1000"}


# `kafka-configs --entity-type topics --describe` (Kafka 3.9): only the topics' own settings.
OVERRIDES_3 = (
    "Dynamic configs for topic orders are:\n"
    "  min.insync.replicas=2 sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:min.insync.replicas=2, "
    "STATIC_BROKER_CONFIG:min.insync.replicas=2, DEFAULT_CONFIG:min.insync.replicas=1}\n"
    "Dynamic configs for topic audit are:\n"
    "  leader.replication.throttled.replicas=0:2,0:1 sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:leader.replication.throttled.replicas=0:2,0:1}\n"
    "Dynamic configs for topic events are:\n"
)


def test_topic_overrides_replace_what_the_brokers_set():
    # kafka-topics --describe also prints the brokers' static min.insync.replicas as if it were the topic's.
    topics = parse_describe(DESCRIBE_3.replace("ReplicationFactor: 1\t", "ReplicationFactor: 1\t").replace(
        "Configs: leader.replication", "Configs: min.insync.replicas=2,leader.replication"))
    assert topics["audit"].configs["min.insync.replicas"] == "2"
    use_topic_overrides(topics, parse_topic_overrides(OVERRIDES_3))
    assert topics["orders"].configs == {"min.insync.replicas": "2"}
    assert topics["audit"].configs == {"leader.replication.throttled.replicas": "0:2,0:1"}
    assert topics["__transaction_state"].configs == {}   # not listed: no settings of its own


def test_drain_bridges_topics_without_their_own_min_isr_cluster_wide_only():
    topics = parse_describe(DESCRIBE_3)
    use_topic_overrides(topics, parse_topic_overrides(OVERRIDES_3))
    plan = drain_plan(topics, brokers=2, live=[0, 1, 2], target_min_isr=1, default_rf_now=3)
    assert plan.configs_before == {"orders": {"min.insync.replicas": "1"}}
    assert plan.record.min_isr == {"orders": (2, 1)}
    assert plan.cluster_min_isr == 1


def test_drain_to_one_broker_moves_everything_to_broker_0_and_lowers_min_isr():
    plan = drain_plan(parse_describe(DESCRIBE_3), brokers=1, live=[0, 1, 2])
    assert plan.errors == []
    assert all(r == [0] for r in plan.reassignments.values())
    assert len(plan.reassignments) == 6
    assert plan.configs_before == {"orders": {"min.insync.replicas": "1"}, "__transaction_state": {"min.insync.replicas": "1"}}
    document = plan.reassignment_json()
    assert document["version"] == 1
    assert document["partitions"][0] == {"topic": "orders", "partition": 0, "replicas": [0]}
    json.dumps(document)


def test_drain_keeps_in_sync_staying_replicas_and_the_leader_first():
    plan = drain_plan(parse_describe(DESCRIBE_3), brokers=2, live=[0, 1, 2])
    assert plan.reassignments[("orders", 0)] == [1, 0]
    assert plan.reassignments[("orders", 2)] == [0, 1]
    assert ("audit", 0) in plan.reassignments and plan.reassignments[("audit", 0)][0] in (0, 1)
    # RF 3 -> 2 with min ISR 2: one broker restarting in the roll that follows would refuse writes.
    # Lowered for the change, and recorded so that the rebalance puts the user's value back.
    assert plan.configs_before == {"orders": {"min.insync.replicas": "1"}, "__transaction_state": {"min.insync.replicas": "1"}}
    assert plan.record.min_isr == {"orders": (2, 1), "__transaction_state": (2, 1)}
    assert plan.cluster_min_isr == 1   # audit (RF 1) uses the brokers' value


def test_drain_that_runs_again_keeps_the_first_recorded_values():
    first = drain_plan(parse_describe(DESCRIBE_3), brokers=2, live=[0, 1, 2], target_min_isr=1, default_rf_now=3)
    assert first.record.text() == "v1;defaultRf=3;minIsr=orders:2:1,__transaction_state:2:1"
    # Killed after lowering: the topics now say 1, and the brokers' default has become 2.
    lowered = DESCRIBE_3.replace("Configs: min.insync.replicas=2", "Configs: min.insync.replicas=1").replace(
        "compression.type=uncompressed,min.insync.replicas=2", "compression.type=uncompressed,min.insync.replicas=1")
    again = drain_plan(parse_describe(lowered), 2, [0, 1, 2], 1, 2, ChangeRecord.parse(first.record.text()))
    assert again.configs_before == {}
    assert again.record.text() == first.record.text()


def test_drain_without_a_count_change_bridges_nothing():
    plan = drain_plan(parse_describe(DESCRIBE_3), brokers=3, live=[0, 1, 2], target_min_isr=2, default_rf_now=3)
    assert plan.reassignments == {} and plan.configs_before == {} and plan.cluster_min_isr is None
    assert plan.record.text() == ""


def test_drain_before_a_grow_keeps_min_isr_at_one_until_the_factor_is_raised():
    one = "Topic: orders\tTopicId: x\tPartitionCount: 2\tReplicationFactor: 1\tConfigs: \n" + "".join(
        f"\tTopic: orders\tPartition: {p}\tLeader: 0\tReplicas: 0\tIsr: 0\n" for p in range(2))
    plan = drain_plan(parse_describe(one), brokers=3, live=[0], target_min_isr=2, default_rf_now=1)
    assert plan.reassignments == {} and plan.errors == []
    assert plan.cluster_min_isr == 1 and plan.record.default_rf == 1


def test_drain_when_growing_moves_nothing():
    plan = drain_plan(parse_describe(DESCRIBE_3), brokers=5, live=[0, 1, 2])
    assert plan.reassignments == {} and plan.configs_before == {} and plan.errors == []


def test_drain_refuses_a_partition_without_leader():
    text = DESCRIBE_3.replace("Partition: 0\tLeader: 2\tReplicas: 2\tIsr: 2", "Partition: 0\tLeader: none\tReplicas: 2\tIsr: ")
    plan = drain_plan(parse_describe(text), brokers=1, live=[0, 1])
    assert plan.errors == ["partition audit-0 has no leader (replicas 2); bring its brokers back before shrinking"]


def test_grow_raises_internal_and_default_topics_and_spreads_leaders():
    one = "".join(
        f"\tTopic: {t}\tPartition: {p}\tLeader: 0\tReplicas: 0\tIsr: 0\tElr: N/A\tLastKnownElr: N/A\n"
        for t in ("orders", "__transaction_state", "__consumer_offsets") for p in range(6)
    )
    topics = parse_describe(one)
    plan = grow_plan(topics, 3, [0, 1, 2], {"__consumer_offsets": 3, "__transaction_state": 3}, 3, {"__transaction_state": 2},
                     ChangeRecord(default_rf=1))
    assert plan.errors == []
    assert all(sorted(r) == [0, 1, 2] for r in plan.reassignments.values()) and len(plan.reassignments) == 18
    leaders = [r[0] for r in plan.reassignments.values()]
    assert sorted(leaders.count(b) for b in (0, 1, 2)) == [6, 6, 6]
    assert plan.configs_after == {"__transaction_state": {"min.insync.replicas": "2"}}


def test_grow_keeps_a_users_lower_factor():
    text = "".join(
        f"\tTopic: {t}\tPartition: 0\tLeader: 0\tReplicas: {r}\tIsr: {r}\n"
        for t, r in (("scratch", "1"), ("orders", "0,1"), ("__consumer_offsets", "0,1")))
    # 3 -> 2 brokers, default factor 3 before: scratch (RF 1) and the drained orders (RF 2) stay as they are.
    plan = grow_plan(parse_describe(text), 2, [0, 1], {"__consumer_offsets": 2}, 2, {}, ChangeRecord(default_rf=3))
    assert plan.reassignments == {}
    # 2 -> 3, default 2 before: orders had the default and follows it; scratch keeps its own factor.
    plan = grow_plan(parse_describe(text), 3, [0, 1, 2], {"__consumer_offsets": 3}, 3, {}, ChangeRecord(default_rf=2))
    assert sorted(plan.reassignments) == [("__consumer_offsets", 0), ("orders", 0)]
    # Without a record of the default (no count change), only the stack's internal topics change.
    plan = grow_plan(parse_describe(text), 3, [0, 1, 2], {"__consumer_offsets": 3}, 3, {})
    assert sorted(plan.reassignments) == [("__consumer_offsets", 0)]


def test_grow_restores_exactly_what_the_drain_lowered():
    def describe(isr_orders, isr_audit, rf_orders="0,1"):
        return (f"Topic: orders\tTopicId: x\tPartitionCount: 1\tReplicationFactor: 2\tConfigs: min.insync.replicas={isr_orders}\n"
                f"\tTopic: orders\tPartition: 0\tLeader: 0\tReplicas: {rf_orders}\tIsr: {rf_orders}\n"
                f"Topic: audit\tTopicId: y\tPartitionCount: 1\tReplicationFactor: 1\tConfigs: min.insync.replicas={isr_audit}\n"
                "\tTopic: audit\tPartition: 0\tLeader: 0\tReplicas: 0\tIsr: 0\n")
    record = ChangeRecord.parse("v1;defaultRf=3;minIsr=orders:2:1,audit:3:1,gone:2:1,__transaction_state:2:1")
    plan = grow_plan(parse_describe(describe(1, 1)), 2, [0, 1], {}, 2, {"__transaction_state": 1}, record)
    # orders back to 2; audit (RF 1) only as far as its factor allows: the rest waits for a later grow.
    assert plan.configs_after == {"orders": {"min.insync.replicas": "2"}}
    assert plan.record.text() == "v1;minIsr=audit:3:1"
    # Someone set orders to 3 by hand since: theirs stays.
    plan = grow_plan(parse_describe(describe(3, 1)), 2, [0, 1], {}, 2, {}, record)
    assert "orders" not in plan.configs_after
    # Running the rebalance again changes nothing more.
    again = grow_plan(parse_describe(describe(2, 1)), 2, [0, 1], {}, 2, {}, plan.record)
    assert again.configs_after == {} and again.record.text() == "v1;minIsr=audit:3:1"


@given(st.one_of(st.none(), st.integers(1, 5)),
       st.dictionaries(st.from_regex(r"[A-Za-z0-9._-]{1,20}", fullmatch=True), st.tuples(st.integers(1, 5), st.integers(1, 5))))
def test_change_record_text_round_trips(default_rf, min_isr):
    record = ChangeRecord(default_rf, min_isr)
    back = ChangeRecord.parse(record.text())
    assert (back.default_rf, dict(back.min_isr)) == (default_rf, min_isr)
    assert ChangeRecord.parse("").text() == "" and ChangeRecord.parse("garbage").text() == ""


def test_grow_waits_for_every_broker():
    plan = grow_plan(parse_describe(DESCRIBE_3), 3, [0, 2], {}, 3, {})
    assert plan.errors == ["brokers 1 are not registered; the StatefulSet is not healthy"]


def test_broker_ids_from_zookeeper_shell():
    text = "Connecting to zk:2181\n\nWATCHER::\n\nWatchedEvent state:SyncConnected type:None path:null\n[0, 1, 2]\n"
    assert parse_broker_ids(text) == [0, 1, 2]
    assert parse_broker_ids("Connecting to zk:2181\n") == []


assignments = st.integers(min_value=1, max_value=5).flatmap(lambda n: st.tuples(
    st.just(n),
    st.lists(st.lists(st.integers(0, n - 1), min_size=1, max_size=n, unique=True), min_size=1, max_size=12),
    st.integers(min_value=1, max_value=n),
))


@settings(max_examples=100)
@given(assignments)
def test_drain_plan_fits_every_partition_on_the_staying_brokers(case):
    before, partitions, after = case
    topic = Topic("t", {"min.insync.replicas": str(before)})
    for number, replicas in enumerate(partitions):
        topic.partitions[number] = Partition(replicas, list(replicas), replicas[0])
    plan = drain_plan({"t": topic}, after, list(range(before)))
    assert plan.errors == []
    new_rf = min(topic.replication_factor, after)
    for number, replicas in enumerate(partitions):
        result = plan.reassignments.get(("t", number), replicas)
        assert all(r < after for r in result) and len(set(result)) == len(result)
        assert len(result) <= new_rf
        staying = [r for r in replicas if r < after]
        assert staying[:new_rf] == [r for r in result if r in staying][: len(staying[:new_rf])]  # no needless copy
    if plan.reassignments and before > new_rf:
        assert int(plan.configs_before["t"]["min.insync.replicas"]) <= new_rf


# --- the Jobs in the stack ---------------------------------------------------------------------------

def _resource(result, type_, name):
    return next(r for r in result.resources if r.type == type_ and r.name == name)


def test_drain_job_runs_before_the_brokers_and_rebalance_after(prod):
    kafka = _resource(prod, "kubernetes:apps/v1:StatefulSet", "kafka")
    drain = _resource(prod, "kubernetes:batch/v1:Job", "kafka-drain")
    rebalance = _resource(prod, "kubernetes:batch/v1:Job", "kafka-rebalance")
    assert drain.urn in kafka.dependencies
    assert kafka.urn in rebalance.dependencies
    # The drain asks ZooKeeper whether Kafka ever ran: ZooKeeper is up first.
    assert any(d.endswith("StatefulSet::zookeeper") for d in drain.dependencies)
    assert drain.delete_before_replace and rebalance.delete_before_replace


def test_every_job_bounds_how_long_pulumi_waits_for_its_deletion(prod, dev):
    # A replaced Job is deleted first (fixed name); the provider may miss the deletion event and sit out its
    # delete timeout (pulumi-kubernetes #3317): each Job sets a short one instead of the 10 min default.
    for stack in (prod, dev):
        jobs = [r for r in stack.resources if r.type == "kubernetes:batch/v1:Job"]
        assert {"kafka-drain", "kafka-rebalance", "zookeeper-shrink", "verify"} <= {j.name for j in jobs}
        for job in jobs:
            assert job.custom_timeouts.get("delete") == JOB_DELETE_TIMEOUT, (job.name, job.custom_timeouts)
            assert _seconds(job.custom_timeouts["create"]) > 120 == _seconds(JOB_DELETE_TIMEOUT), job.name


def _seconds(duration: str) -> int:
    return int(duration[:-1]) * {"s": 1, "m": 60, "h": 3600}[duration[-1]]


def _job_env(job):
    return {e["name"]: e["value"] for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}


def test_drain_job_carries_the_target_broker_count_and_nothing_else_changes_it(prod):
    one = run_stack("prod", lambda v: v["msa:kafka"].update(brokers=1))
    other_heap = run_stack("prod", lambda v: v["msa:kafka"].update(heap="640m"))
    assert _job_env(by_name(prod, "Job", "kafka-drain"))["TARGET_BROKERS"] == "3"
    assert _job_env(by_name(one, "Job", "kafka-drain"))["TARGET_BROKERS"] == "1"
    # The min ISR the brokers will run afterwards, bridged by the drain until they restart.
    assert _job_env(by_name(one, "Job", "kafka-drain"))["TARGET_MIN_ISR"] == "1"
    assert _job_env(by_name(prod, "Job", "kafka-drain"))["TARGET_MIN_ISR"] == "2"
    # Pulumi replaces (re-runs) a Job exactly when its spec changes.
    assert by_name(prod, "Job", "kafka-drain")["spec"] != by_name(one, "Job", "kafka-drain")["spec"]
    assert by_name(prod, "Job", "kafka-drain")["spec"] == by_name(other_heap, "Job", "kafka-drain")["spec"]
    assert by_name(prod, "Job", "kafka-rebalance")["spec"] == by_name(other_heap, "Job", "kafka-rebalance")["spec"]


def test_rebalance_job_wants_the_stacks_internal_topic_settings(prod, dev):
    assert _job_env(by_name(prod, "Job", "kafka-rebalance"))["WANTED_RF"] == "__consumer_offsets=3,__transaction_state=3"
    assert _job_env(by_name(prod, "Job", "kafka-rebalance"))["WANTED_MIN_ISR"] == "__transaction_state=2"
    assert _job_env(by_name(dev, "Job", "kafka-rebalance"))["DEFAULT_RF"] == "1"


def test_admin_jobs_run_the_kafka_image_once_with_the_admin_labels(prod):
    jobs = [j for j in objects(prod, "Job") if j["metadata"]["name"] in ("kafka-drain", "kafka-rebalance")]
    assert len(jobs) == 2
    for job in jobs:
        spec = job["spec"]
        pod = spec["template"]["spec"]
        assert spec["backoffLimit"] == 0 and pod["restartPolicy"] == "Never"
        assert pod["containers"][0]["image"] == by_name(prod, "StatefulSet", "kafka")["spec"]["template"]["spec"]["containers"][0]["image"]
        labels = spec["template"]["metadata"]["labels"]
        assert labels["app.kubernetes.io/part-of"] == "msa" and labels["app.kubernetes.io/component"] == "kafka-admin"
        assert job["metadata"]["annotations"]["pulumi.com/replaceUnready"] == "true"


@pytest.mark.parametrize("job", ["kafka-drain", "kafka-rebalance"])
def test_job_scripts_survive_kubelet_expansion_unchanged(prod, job):
    """The kubelet expands $(NAME) for the container's env vars and collapses $$: the scripts hold neither,
    so the text the integration tests run is the text the pod runs."""
    rendered = by_name(prod, "Job", job)
    text = rendered["spec"]["template"]["spec"]["containers"][0]["command"][2]
    assert text == {"kafka-drain": drain_script, "kafka-rebalance": rebalance_script}[job]()
    assert "$$" not in text
    for name in _job_env(rendered):
        assert f"$({name})" not in text
