"""What a `mode: kraft` stack renders: no ZooKeeper at all, the quorum in the broker pods (dev) or in
its own StatefulSet (prod), the cluster id from the kept resource, the Jobs and checker without ZooKeeper."""

import json

import pytest

from conftest import by_name, env_of, objects, run_stack


def _kraft(**values):
    def edit(v):
        v["msa:kafka"].update(mode="kraft", **values)
    return edit


@pytest.fixture(scope="module")
def dev_kraft():
    return run_stack("dev", _kraft())


@pytest.fixture(scope="module")
def prod_kraft():
    return run_stack("prod", _kraft())


def test_dev_in_kraft_is_one_kafka_pod_and_nothing_of_zookeeper(dev_kraft):
    assert [o for o in objects(dev_kraft) if "zookeeper" in o["metadata"]["name"]] == []
    (kafka,) = [o for o in objects(dev_kraft, "StatefulSet")]
    assert kafka["metadata"]["name"] == "kafka" and kafka["spec"]["replicas"] == 1
    env = env_of(kafka)
    assert env["MSA_CONTROLLERS"] == "1" and "KAFKA_ZOOKEEPER_CONNECT" not in env
    assert "CLUSTER_ID" in env                      # the kafka-cluster-id resource's output
    # SCRAM for clients and peers, the controller listener; 9092 stays on the Services only (broker_auth.py).
    assert {p["containerPort"] for p in kafka["spec"]["template"]["spec"]["containers"][0]["ports"]} == {9094, 9092, 9093}
    assert "zookeeper" not in dev_kraft.exports["clusterIPs"]
    (guard,) = [r for r in dev_kraft.resources if r.name == "kafka-cluster-id"]
    assert guard.urn in next(r for r in dev_kraft.resources if r.type == "kubernetes:apps/v1:StatefulSet").dependencies


def test_prod_in_kraft_has_three_dedicated_controllers_beside_the_brokers(prod_kraft):
    controllers = by_name(prod_kraft, "StatefulSet", "kafka-controller")
    assert controllers["spec"]["replicas"] == 3
    env = env_of(controllers)
    assert env["KAFKA_PROCESS_ROLES"] == "controller" and env["KAFKA_HEAP_OPTS"] == "-Xms256m -Xmx256m"
    assert env_of(by_name(prod_kraft, "StatefulSet", "kafka"))["MSA_CONTROLLERS"] == "0"
    assert by_name(prod_kraft, "PodDisruptionBudget", "kafka-controller")
    assert by_name(prod_kraft, "Service", "kafka-controller-headless")["spec"]["clusterIP"] == "None"
    policy = by_name(prod_kraft, "NetworkPolicy", "kafka-controller")
    (rule,) = policy["spec"]["ingress"]
    assert rule["ports"] == [{"port": 9093, "protocol": "TCP"}]
    assert rule["from"][0]["podSelector"]["matchExpressions"][0]["values"] == ["kafka", "kafka-controller"]


def test_jobs_and_checker_need_no_zookeeper(prod_kraft):
    for job in ("kafka-drain", "kafka-rebalance"):
        env = env_of(by_name(prod_kraft, "Job", job))
        assert env["METADATA"] == "kraft" and "ZOOKEEPER_CONNECT" not in env
    spec = json.loads(by_name(prod_kraft, "ConfigMap", "verify")["data"]["spec.json"])
    assert spec["kafka"]["quorumVoters"] == 3
    assert {w["name"] for w in spec["pods"]["workloads"]} >= {"kafka", "kafka-controller"}
    assert "zookeeper" not in {w["name"] for w in spec["pods"]["workloads"]}


def test_zookeeper_stacks_render_as_before(dev):
    result = dev
    assert by_name(result, "StatefulSet", "zookeeper") and "METADATA" not in env_of(by_name(result, "Job", "kafka-drain"))
    assert json.loads(by_name(result, "ConfigMap", "verify")["data"]["spec.json"])["kafka"]["quorumVoters"] is None
