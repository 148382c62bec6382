"""Kafka and ZooKeeper: right for one broker and for three."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from msa.kafka.broker_auth import SASL_PHASES, SCRAM_ONLY, phase_var
from msa.config.kafka_properties import broker_properties
from msa.kafka.settings import kafka_env_name, property_from_env_name
from conftest import by_name, env_of, objects, run_stack

INTERNAL_TOPIC_RF = ("offsets.topic.replication.factor", "transaction.state.log.replication.factor", "default.replication.factor")


@pytest.mark.parametrize("brokers, rf, isr", [(1, 1, 1), (2, 2, 1), (3, 3, 2), (5, 3, 2)])
def test_replication_settings_follow_broker_count(brokers, rf, isr):
    props = broker_properties(brokers, {})
    assert {k: props[k] for k in INTERNAL_TOPIC_RF} == {k: str(rf) for k in INTERNAL_TOPIC_RF}
    assert props["transaction.state.log.min.isr"] == str(isr)
    assert props["min.insync.replicas"] == str(isr)


@given(st.integers(min_value=1, max_value=9))
def test_internal_topics_always_fit_the_cluster(brokers):
    props = broker_properties(brokers, {})
    for key in INTERNAL_TOPIC_RF:
        assert 1 <= int(props[key]) <= brokers
    assert 1 <= int(props["transaction.state.log.min.isr"]) <= int(props["transaction.state.log.replication.factor"])
    assert 1 <= int(props["min.insync.replicas"]) <= int(props["default.replication.factor"])
    # One broker may restart without blocking writes whenever there is more than one.
    if brokers > 1:
        assert int(props["min.insync.replicas"]) < int(props["default.replication.factor"])


@given(st.from_regex(r"[a-z][a-z0-9]*([._-][a-z0-9]+){0,4}", fullmatch=True))
def test_env_name_round_trips_like_cp_kafka(prop):
    assert property_from_env_name(kafka_env_name(prop)) == prop


def _broker_props_from_pod(result) -> dict:
    env = env_of(by_name(result, "StatefulSet", "kafka"))
    return {property_from_env_name(k): v for k, v in env.items() if k.startswith("KAFKA_") and isinstance(v, str)}


def test_single_broker_transaction_log_fits_one_broker(dev):
    props = _broker_props_from_pod(dev)
    assert by_name(dev, "StatefulSet", "kafka")["spec"]["replicas"] == 1
    for key in INTERNAL_TOPIC_RF + ("transaction.state.log.min.isr", "min.insync.replicas"):
        assert props[key] == "1", key


def test_three_brokers_replicate_internal_topics_three_times(prod):
    props = _broker_props_from_pod(prod)
    assert by_name(prod, "StatefulSet", "kafka")["spec"]["replicas"] == 3
    assert [props[k] for k in INTERNAL_TOPIC_RF] == ["3", "3", "3"]
    assert props["transaction.state.log.min.isr"] == props["min.insync.replicas"] == "2"


def test_each_broker_advertises_its_own_pod_dns_name(dev):
    kafka = by_name(dev, "StatefulSet", "kafka")
    env = env_of(kafka)
    headless = kafka["spec"]["serviceName"]
    # Every phase of the move to authentication has its own (broker_auth.phase_vars); a new cluster's is scram-only.
    advertised = phase_var(SCRAM_ONLY, "KAFKA_ADVERTISED_LISTENERS")
    assert env[advertised] == f"SCRAM://$(POD_NAME).{headless}.msa.svc.cluster.local:9094"
    # $(POD_NAME) only expands when POD_NAME is declared earlier, from the pod's own name.
    names = [e["name"] for e in kafka["spec"]["template"]["spec"]["containers"][0]["env"]]
    assert names.index("POD_NAME") < min(names.index(phase_var(p, "KAFKA_ADVERTISED_LISTENERS")) for p in SASL_PHASES)
    assert env["POD_NAME"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert by_name(dev, "Service", headless)["spec"] == {
        **by_name(dev, "Service", headless)["spec"], "clusterIP": "None", "publishNotReadyAddresses": True,
    }


def test_broker_id_comes_from_the_pod_ordinal(dev):
    command = by_name(dev, "StatefulSet", "kafka")["spec"]["template"]["spec"]["containers"][0]["command"]
    assert command[:2] == ["bash", "-c"]
    assert 'KAFKA_BROKER_ID="${HOSTNAME##*-}"' in command[2]
    assert command[2].endswith("exec /etc/confluent/docker/run")


def test_no_service_is_named_kafka_and_service_links_are_off(prod):
    assert "kafka" not in [s["metadata"]["name"] for s in objects(prod, "Service")]
    for workload in objects(prod, "StatefulSet") + objects(prod, "Deployment"):
        assert workload["spec"]["template"]["spec"]["enableServiceLinks"] is False, workload["metadata"]["name"]


def test_kafka_lists_every_zookeeper_member(prod):
    env = env_of(by_name(prod, "StatefulSet", "kafka"))
    assert env["KAFKA_ZOOKEEPER_CONNECT"].split(",") == [
        f"zookeeper-{i}.zookeeper-headless.msa.svc.cluster.local:2181" for i in range(3)
    ]


def test_zookeeper_membership_is_not_in_the_pod_template(dev, prod):
    """Membership changes by dynamic reconfiguration; a new ensemble size restarts no member."""
    zk_dev, zk_prod = by_name(dev, "StatefulSet", "zookeeper"), by_name(prod, "StatefulSet", "zookeeper")
    assert zk_prod["spec"]["replicas"] == 3 and zk_dev["spec"]["replicas"] == 1
    assert "ZOOKEEPER_SERVERS" not in env_of(zk_prod)
    assert env_of(zk_prod)["ZK_SELF_TEMPLATE"] == "zookeeper-{ordinal}.zookeeper-headless.msa.svc.cluster.local:2888:3888;2181"
    assert zk_dev["spec"]["template"] == zk_prod["spec"]["template"]


def test_zookeeper_shrink_job_runs_before_the_ensemble_changes(prod):
    zk = next(r for r in prod.resources if r.type == "kubernetes:apps/v1:StatefulSet" and r.name == "zookeeper")
    shrink = next(r for r in prod.resources if r.type == "kubernetes:batch/v1:Job" and r.name == "zookeeper-shrink")
    assert shrink.urn in zk.dependencies
    job = by_name(prod, "Job", "zookeeper-shrink")
    env = {e["name"]: e["value"] for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["TARGET_MEMBERS"] == "3"


def test_zookeeper_is_ready_only_as_a_voting_member_in_a_quorum(prod):
    (container,) = by_name(prod, "StatefulSet", "zookeeper")["spec"]["template"]["spec"]["containers"]
    probe = container["readinessProbe"]["exec"]["command"]
    assert probe[:2] == ["bash", "-c"] and "srvr" in probe[2] and "leader|follower" in probe[2]
    assert "java" not in probe[2] and "zookeeper-shell" not in probe[2]


def test_disruption_budget_only_with_three_or_more(dev, prod):
    assert objects(dev, "PodDisruptionBudget") == []
    budgets = {p["metadata"]["name"]: p["spec"] for p in objects(prod, "PodDisruptionBudget")}
    assert set(budgets) == {"kafka", "zookeeper"}
    assert all(b["maxUnavailable"] == 1 for b in budgets.values())


def test_data_lives_on_claims_with_configured_class_and_size():
    result = run_stack("dev", lambda v: v["msa:kafka"].update(storageClass="local-path", storageSize="20Gi"))
    (claim,) = by_name(result, "StatefulSet", "kafka")["spec"]["volumeClaimTemplates"]
    assert claim["spec"]["storageClassName"] == "local-path"
    assert claim["spec"]["resources"]["requests"]["storage"] == "20Gi"


def test_default_storage_class_leaves_the_field_out(dev):
    (claim,) = by_name(dev, "StatefulSet", "kafka")["spec"]["volumeClaimTemplates"]
    assert "storageClassName" not in claim["spec"]


def test_overrides_reach_the_broker():
    result = run_stack("prod", lambda v: v["msa:kafka"].update(overrides={"default.replication.factor": 2, "log.retention.hours": 72}))
    props = _broker_props_from_pod(result)
    assert props["default.replication.factor"] == "2"
    assert props["log.retention.hours"] == "72"


def test_images_are_cp_7_9_and_overridable():
    def edit(values):
        values["msa:kafka"].update(image="registry.local/cp-kafka:7.9.2")
        values["msa:harbor"]["mirror"] = "off"   # as configured (mirrored: tests/images/test_mirror.py)
    result = run_stack("dev", edit)
    assert by_name(result, "StatefulSet", "kafka")["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.local/cp-kafka:7.9.2"
    assert by_name(result, "StatefulSet", "zookeeper")["spec"]["template"]["spec"]["containers"][0]["image"].startswith("confluentinc/cp-zookeeper:7.9.")


def test_kafka_ui_points_at_bootstrap_on_its_node_port(dev):
    env = env_of(by_name(dev, "Deployment", "kafka-ui"))
    assert env["KAFKA_CLUSTERS_0_BOOTSTRAPSERVERS"] == "kafka-bootstrap.msa.svc.cluster.local:9094"
    assert by_name(dev, "Deployment", "kafka-ui")["spec"]["template"]["spec"]["containers"][0]["image"].startswith("msa.harbor.com/mirror/kafka-ui@sha256:")
    service = by_name(dev, "Service", "kafka-ui")
    assert service["spec"]["type"] == "NodePort"
    assert service["spec"]["ports"][0]["nodePort"] == 30089


def test_kafka_ui_can_be_switched_off():
    result = run_stack("dev", lambda v: v["msa:kafka"]["ui"].update(enabled=False))
    assert "kafka-ui" not in [o["metadata"]["name"] for o in objects(result)]


def test_brokers_wait_for_zookeeper(dev):
    kafka = next(r for r in dev.resources if r.type == "kubernetes:apps/v1:StatefulSet" and r.name == "kafka")
    assert any(d.endswith("$kubernetes:apps/v1:StatefulSet::zookeeper") for d in kafka.dependencies)


def test_broker_readiness_is_registered_and_in_sync_without_a_jvm(prod):
    (container,) = by_name(prod, "StatefulSet", "kafka")["spec"]["template"]["spec"]["containers"]
    probe = container["readinessProbe"]["exec"]["command"]
    assert probe[:3] == ["python3", "-S", "-c"]
    assert "struct.pack" in probe[3] and "java" not in probe[3]
    assert container["startupProbe"]["tcpSocket"]["port"] == 9094


def test_readiness_parser_reads_a_metadata_v0_response():
    import struct

    from msa.kafka.jobs import kafka_ready_script

    namespace: dict = {}
    exec(compile(kafka_ready_script(), "kafka_ready.py", "exec"), namespace)
    s = lambda text: struct.pack(">h", len(text)) + text.encode()  # noqa: E731
    ints = lambda values: struct.pack(">i", len(values)) + b"".join(struct.pack(">i", v) for v in values)  # noqa: E731
    response = (struct.pack(">i", 1) + struct.pack(">i", 2)
                + struct.pack(">i", 0) + s("kafka-0") + struct.pack(">i", 9092)
                + struct.pack(">i", 1) + s("kafka-1") + struct.pack(">i", 9092)
                + struct.pack(">i", 1) + struct.pack(">h", 0) + s("orders")
                + struct.pack(">i", 1) + struct.pack(">hii", 0, 0, 0) + ints([0, 1]) + ints([0]))
    brokers, partitions = namespace["parse"](response)
    assert brokers == [0, 1]
    assert partitions == [("orders", 0, [0, 1], [0])]


@pytest.mark.parametrize("image, expected", [
    ("confluentinc/cp-server:7.9.1", True), ("registry.local:5000/confluentinc/cp-server@sha256:" + "a" * 64, True),
    ("confluentinc/cp-kafka:7.9.1", False), ("registry.local:5000/cp-server-like:1", False),
])
def test_confluent_server_is_recognised_by_its_repository(image, expected):
    from msa.config.kafka_properties import is_confluent_server

    assert is_confluent_server(image) is expected


def test_confluent_server_topics_follow_the_broker_count(dev):
    result = run_stack("dev", lambda v: v["msa:kafka"].update(image="confluentinc/cp-server:7.9.1"))
    props = _broker_props_from_pod(result)
    assert props["confluent.license.topic.replication.factor"] == "1"
    assert props["confluent.metrics.reporter.topic.replicas"] == "1"
    assert props["confluent.balancer.topic.replication.factor"] == "1"
    assert "confluent.license.topic.replication.factor" not in _broker_props_from_pod(dev)


@pytest.mark.parametrize("workload", ["kafka", "zookeeper"])
def test_updates_roll_one_pod_at_a_time(prod, workload):
    spec = by_name(prod, "StatefulSet", workload)["spec"]
    assert spec["updateStrategy"] == {"type": "RollingUpdate"}     # no maxUnavailable: one pod at a time
    assert "readinessProbe" in spec["template"]["spec"]["containers"][0]
