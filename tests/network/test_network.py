"""NetworkPolicies: default-deny ingress, then exactly the flows the system uses."""

from conftest import objects, run_stack


def policies(result) -> dict[str, dict]:
    return {o["metadata"]["name"]: o["spec"] for o in objects(result, "NetworkPolicy")}


def sources(spec: dict, port: int) -> list:
    """The `from` lists of the rules that open `port` (None: from anywhere)."""
    return [rule.get("from") for rule in spec["ingress"] if {"port": port, "protocol": "TCP"} in rule["ports"]]


def peer(name: str) -> dict:
    return {"podSelector": {"matchLabels": {"app.kubernetes.io/name": name}}}


def component(name: str) -> dict:
    return {"podSelector": {"matchLabels": {"app.kubernetes.io/component": name, "app.kubernetes.io/part-of": "msa"}}}


SPRING = {"podSelector": {"matchLabels": {"app.kubernetes.io/part-of": "msa"}, "matchExpressions": [
    {"key": "app.kubernetes.io/component", "operator": "In", "values": ["discovery", "config", "gateway", "service"]}]}}


def test_every_ingress_is_denied_unless_a_policy_admits_it(dev):
    deny = policies(dev)["default-deny-ingress"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress"]}
    # Every workload's pods are selected by a policy of their own, or only by the default deny.
    for spec in policies(dev).values():
        assert spec["policyTypes"] == ["Ingress"]


def test_zookeeper_admits_kafka_the_admin_jobs_and_its_peers(prod):
    zookeeper = policies(prod)["zookeeper"]
    assert zookeeper["podSelector"] == {"matchLabels": {"app.kubernetes.io/name": "zookeeper"}}
    assert sources(zookeeper, 2181) == [[peer("kafka"), component("kafka-admin")], [peer("zookeeper")]]
    assert sources(zookeeper, 2888) == sources(zookeeper, 3888) == [[peer("zookeeper")]]


def test_kafka_admits_brokers_ui_its_clients_and_the_jobs(dev):
    (kafka_sources,) = sources(policies(dev)["kafka"], 9092)
    assert kafka_sources == [peer("kafka"), peer("kafka-ui"), peer("store-service"), component("kafka-admin"), component("verification")]


def test_kafka_clients_follow_the_config():
    def edit(values):
        values["msa:services"]["user-service"]["kafka"] = {"transactional": False}
        values["msa:kafka"]["ui"] = {"enabled": False}
        values["msa:verify"] = {"enabled": False}

    (kafka_sources,) = sources(policies(run_stack("dev", edit, secrets={"msa:kafkaUiPassword": None}))["kafka"], 9092)
    clients = {"podSelector": {"matchExpressions": [
        {"key": "app.kubernetes.io/name", "operator": "In", "values": ["store-service", "user-service"]}]}}
    assert kafka_sources == [peer("kafka"), clients, component("kafka-admin")]


def test_spring_services_admit_spring_pods_and_the_published_ports_anyone(dev):
    specs = policies(dev)
    assert sources(specs["user-service"], 46279) == [[SPRING, component("verification")]]
    assert sources(specs["store-service"], 8080) == [[SPRING, component("verification")]]
    # The gateway and every configured NodePort (discovery 30007, config 30008, kafka-ui 30089) are entry points.
    assert sources(specs["apigateway-service"], 8000) == [None]
    assert sources(specs["discovery-service"], 8761) == [None]
    assert sources(specs["config-service"], 8888) == [None]
    assert sources(specs["kafka-ui"], 8080) == [None]


def test_turning_a_node_port_off_closes_it():
    def edit(values):
        del values["msa:services"]["discovery-service"]["nodePort"]
        values["msa:kafka"]["ui"]["nodePort"] = None

    specs = policies(run_stack("dev", edit))
    assert sources(specs["discovery-service"], 8761) == [[SPRING, component("verification")]]
    assert "kafka-ui" not in specs  # default deny only (kubectl port-forward does not pass the pod network)


def test_authenticated_kafka_admits_the_same_pods_on_the_scram_port_and_the_transition_port():
    rendered = run_stack("dev", lambda values: values["msa:kafka"].update(authentication="sasl"))
    kafka = policies(rendered)["kafka"]
    (scram_sources,) = sources(kafka, 9094)
    assert scram_sources == sources(kafka, 9092)[0] == [peer("kafka"), peer("kafka-ui"), peer("store-service"),
                                                         component("kafka-admin"), component("verification")]
