"""Every configuration mistake stops the program before any resource exists, with one line naming the key."""

import copy
import subprocess
import sys

import pytest

from msa import config
from msa.errors import ConfigError
from conftest import ROOT, TEST_PASSWORD, config_error, copy_project, fixture_project, run_stack, stack_values, to_config


def _set(path, value):
    """An edit that sets msa:<top>.<a>.<b> = value in the stack values."""
    top, *rest = path.split(".")

    def edit(values):
        node = values.setdefault(f"msa:{top}", {})
        if not rest:
            values[f"msa:{top}"] = value
            return
        for key in rest[:-1]:
            node = node.setdefault(key, {})
        node[rest[-1]] = value

    return edit


def _route_to(service):
    return _set("services.apigateway-service.routes", [{"path": "/x/**", "service": service}])


RULES = [
    # (what is wrong, edit, the line must start with)
    ("unknown top-level key", _set("kafak", {"brokers": 1}), "msa:kafak: unknown key; did you mean kafka?"),
    ("unknown nested key", _set("kafka.broker", 1), "msa:kafka.broker: unknown key"),
    ("unknown key of a service", _set("services.user-service.clusterIp", "10.96.0.50"),
     "msa:services.user-service.clusterIp: unknown key; did you mean clusterIP? known keys here are: buildArgs, clusterIP, context,"),
    ("unknown key of a node's bastion", _set("cluster.nodes", [{"host": "n1", "bastion": {"host": "b", "usr": "x"}}]),
     "msa:cluster.nodes[0].bastion.usr: unknown key; did you mean user? known keys here are: host, hostKey, port, user"),
    ("nested key set without --path", lambda v: v.update({"msa:kafka.brokers": 3}),
     "msa:kafka.brokers: is a key with a dot in its name; set nested values with: pulumi config set --path msa:kafka.brokers"),
    ("broker count is not a number", _set("kafka.brokers", "two"), "msa:kafka.brokers: expected a whole number"),
    ("no brokers", _set("kafka.brokers", 0), "msa:kafka.brokers:"),
    ("even ZooKeeper ensemble", _set("kafka.zookeeperReplicas", 2), "msa:kafka.zookeeperReplicas:"),
    ("RF above broker count", _set("kafka.overrides", {"offsets.topic.replication.factor": 3}),
     "msa:kafka.overrides.offsets.topic.replication.factor: 3 is not between 1 and the 1 broker(s)"),
    ("min ISR above RF", _set("kafka.overrides", {"transaction.state.log.min.isr": 2}),
     "msa:kafka.overrides.transaction.state.log.min.isr: 2 is not between 1 and the replication factor 1"),
    ("stack-managed property", _set("kafka.overrides", {"advertised.listeners": "PLAINTEXT://kafka:9092"}),
     "msa:kafka.overrides.advertised.listeners: is computed by the stack"),
    ("bad storage size", _set("kafka.storageSize", "ten gigs"), "msa:kafka.storageSize:"),
    ("service CIDR with host bits", _set("cluster.serviceCidr", "10.96.0.1/12"), "msa:cluster.serviceCidr:"),
    ("unknown node arch", _set("cluster.nodeArch", "x86"), "msa:cluster.nodeArch:"),
    ("node without host", _set("cluster.nodes", [{"user": "root"}]), "msa:cluster.nodes[0].host: is required"),
    ("registry with a scheme", _set("harbor.host", "http://msa.harbor.com"), "msa:harbor.host:"),
    ("unknown push mode", _set("harbor.push", "scp"), "msa:harbor.push:"),
    ("relay without relay host", _set("harbor.push", "relay"), "msa:harbor.relayHost:"),
    ("latest tag", _set("services.user-service.tag", "latest"), "msa:services.user-service.tag: 'latest' is not allowed"),
    ("unquoted numeric tag", _set("services.user-service.tag", 1.0), "msa:services.user-service.tag:"),
    ("malformed image name", _set("services.user-service.image", "Users_Service"), "msa:services.user-service.image:"),
    ("missing build context", _set("services.user-service.context", "no/such/folder"), "msa:services.user-service.context: folder 'no/such/folder' does not exist"),
    ("route to an unknown service", _route_to("order-service"), "msa:services.apigateway-service.routes[0].service: no service named 'order-service'"),
    ("ClusterIP outside the CIDR", _set("services.user-service.clusterIP", "10.200.0.5"),
     "msa:services.user-service.clusterIP: 10.200.0.5 is outside the service CIDR 10.96.0.0/12; pick an address inside it"),
    ("ClusterIP of cluster DNS", _set("services.user-service.clusterIP", "10.96.0.10"), "msa:services.user-service.clusterIP: 10.96.0.10 is reserved"),
    ("ClusterIP of the API Service", _set("services.user-service.clusterIP", "10.96.0.1"), "msa:services.user-service.clusterIP: 10.96.0.1 is reserved"),
    ("duplicate ClusterIP", _set("services.store-service.clusterIP", "10.104.193.23"), "msa:services.store-service.clusterIP: 10.104.193.23 is already the address of user-service"),
    ("NodePort out of range", _set("services.discovery-service.nodePort", 8761), "msa:services.discovery-service.nodePort: 8761 is outside the NodePort range 30000-32767"),
    ("duplicate NodePort", _set("kafka.ui.nodePort", 30007), "msa:services.discovery-service.nodePort: 30007 is already the NodePort of kafka-ui"),
    ("no config server", _set("services.config-service.role", "app"), "msa:services: exactly one service needs role: config"),
    ("routes on a non-gateway", _set("services.user-service.routes", [{"path": "/a/**", "service": "store-service"}]), "msa:services.user-service.routes:"),
    ("service named like a Kafka Service", _set("services.kafka-bootstrap", {"image": "x", "tag": "1", "port": 80}), "msa:services.kafka-bootstrap:"),
    ("bad namespace", _set("namespace", "MSA_prod"), "msa:namespace:"),
    ("object key given as text", _set("kafka", "three brokers"), "msa:kafka: expected an object"),
    ("unknown registration mode", _set("spring.registration", "hostname"), "msa:spring.registration:"),
]

# Strict types: a value keeps the type YAML gave it.
RULES += [
    ("boolean broker count", _set("kafka.brokers", True), "msa:kafka.brokers: expected a whole number, got true"),
    ("quoted broker count", _set("kafka.brokers", "3"), "msa:kafka.brokers: expected a whole number, got '3'; write it without quotes"),
    ("fractional broker count", _set("kafka.brokers", 1.5), "msa:kafka.brokers: expected a whole number, got 1.5"),
    ("boolean ZooKeeper size", _set("kafka.zookeeperReplicas", True), "msa:kafka.zookeeperReplicas: expected a whole number, got true"),
    ("boolean stripPrefix", _set("services.apigateway-service.routes", [{"path": "/u/**", "service": "user-service", "stripPrefix": True}]),
     "msa:services.apigateway-service.routes[0].stripPrefix: expected a whole number, got true"),
    ("quoted node port", _set("cluster.nodes", [{"host": "n1", "port": "22"}]), "msa:cluster.nodes[0].port: expected a whole number, got '22'"),
    ("numeric user", _set("cluster.nodes", [{"host": "n1", "user": 0}]), "msa:cluster.nodes[0].user: expected text, got 0; quote it in YAML"),
    ("text for a switch", _set("kafka.ui.enabled", "yes"), "msa:kafka.ui.enabled: expected true or false, got 'yes'"),
    ("retired gateway version", _set("spring.gatewayVersion", "4.3"), "msa:spring.gatewayVersion: is no longer needed: routes are written for every Gateway line"),
    ("kafka switch as text", _set("services.store-service.kafka", "yes"),
     "msa:services.store-service.kafka: expected true, false or an object such as {transactional: false}, got 'yes'"),
    ("kafka client with an unknown key", _set("services.store-service.kafka", {"transactions": False}),
     "msa:services.store-service.kafka.transactions: unknown key"),
    ("empty namespace", lambda v: v.update({"msa:namespace": ""}), "msa:namespace: is empty; give it a value or remove the line for the default msa"),
    ("list for an object", _set("kafka", [1, 2]), "msa:kafka: expected an object (a YAML mapping), got a list [1, 2]"),
    ("kafka property value is a list", _set("kafka.overrides", {"log.retention.hours": [1]}), "msa:kafka.overrides.log.retention.hours: a list [1] is not a valid property value"),
]

# Every value's form, by its real grammar.
RULES += [
    ("storage class not a DNS name", _set("kafka.storageClass", "Fast_SSD"), "msa:kafka.storageClass: 'Fast_SSD' is not a DNS subdomain"),
    ("cluster domain not a DNS name", _set("cluster.clusterDomain", "Cluster.Local"), "msa:cluster.clusterDomain: 'Cluster.Local' is not a DNS subdomain"),
    ("quantity with two dots", _set("services.user-service.resources", {"cpu": "1.5.0"}), "msa:services.user-service.resources.cpu: '1.5.0' is not a Kubernetes quantity"),
    ("quantity with a lower-case binary suffix", _set("kafka.storageSize", "10gi"), "msa:kafka.storageSize: '10gi' is not a Kubernetes quantity"),
    ("storage of size zero", _set("kafka.storageSize", "0"), "msa:kafka.storageSize: '0' is not above zero"),
    ("negative cpu", _set("services.user-service.resources", {"cpu": "-1"}), "msa:services.user-service.resources.cpu: '-1' is negative"),
    ("empty broker image", _set("kafka.image", ""), "msa:kafka.image: is empty; use a full image reference"),
    ("broker image with a space", _set("kafka.image", "cp kafka"), "msa:kafka.image: 'cp kafka' is not an image reference"),
    ("relative certs dir", _set("cluster.certsDir", "etc/containerd/certs.d"), "msa:cluster.certsDir: 'etc/containerd/certs.d' is not an absolute path"),
    ("registry port out of range", _set("harbor.host", "msa.harbor.com:99999"), "msa:harbor.host: 'msa.harbor.com:99999' is not a registry host[:port] with a port 1-65535"),
    ("image repeats the registry path", _set("services.user-service.image", "msa.harbor.com/library/usersservice"),
     "msa:services.user-service.image: 'msa.harbor.com/library/usersservice' repeats the registry path"),
    ("image repeats the project", _set("services.user-service.image", "library/usersservice"),
     "msa:services.user-service.image: 'library/usersservice' repeats the registry path"),
    ("user in a node host", _set("cluster.nodes", [{"host": "root@172.10.40.174"}]), "msa:cluster.nodes[0].host: 'root@172.10.40.174' is not a host name or address; put the user in `user:`"),
    ("port in a node host", _set("cluster.nodes", [{"host": "172.10.40.174:22"}]), "msa:cluster.nodes[0].host: '172.10.40.174:22' is not a host name or address; put the port in `port:`"),
    ("shell in a node host", _set("cluster.nodes", [{"host": "n1;reboot"}]), "msa:cluster.nodes[0].host: 'n1;reboot' is not a host name or address"),
    ("not an IPv4 address", _set("cluster.nodes", [{"host": "999.1.1.1"}]), "msa:cluster.nodes[0].host: '999.1.1.1' is not a host name or address"),
    ("route path without its slash", _set("services.apigateway-service.routes", [{"path": "user-service/**", "service": "user-service"}]),
     "msa:services.apigateway-service.routes[0].path: 'user-service/**' is not a gateway Path predicate"),
    ("shell in a login name", _set("cluster.nodes", [{"host": "n1", "user": "root;reboot"}]), "msa:cluster.nodes[0].user: 'root;reboot' is not a login name"),
    ("a line break in a key", _set("kafka.overrides", {"log.retention\nhours": 1}), "msa:kafka.overrides.log.retention\\nhours: is not a Kafka broker property name"),
    ("service name with a capital", _set("services.User", {"image": "x", "tag": "1", "port": 80}), "msa:services.User: 'User' is not a DNS label"),
    ("service name starting with a digit", _set("services.1st", {"image": "x", "tag": "1", "port": 80}), "msa:services.1st: '1st' must start with a letter"),
    ("kafka property name", _set("kafka.overrides", {"Log.Retention": 1}), "msa:kafka.overrides.Log.Retention: is not a Kafka broker property name"),
]

# Rules that span several keys.
RULES += [
    ("memory request above its limit", _set("services.user-service.resources", {"memory": "1Gi"}),
     "msa:services.user-service.resources.memory: 1Gi is above the limit memoryLimit: 768Mi"),
    ("cpu request above its limit", _set("kafka.resources", {"cpu": "2"}), "msa:kafka.resources.cpu: 2 is above the limit cpuLimit: 1"),
    ("broker heap larger than its container", _set("kafka.heap", "2g"),
     "msa:kafka.heap: 2g does not fit its container: kafka.resources.memoryLimit is 1536Mi and the JVM needs about 25 % beyond the heap; use at most 1152m"),
    ("ZooKeeper heap without headroom", _set("kafka.zookeeperHeap", "768m"), "msa:kafka.zookeeperHeap: 768m does not fit its container"),
    ("service -Xmx larger than its container", _set("services.user-service.javaOpts", "-Xmx2g"), "msa:services.user-service.javaOpts: -Xmx2g does not fit its container"),
    ("service heap share without headroom", _set("services.user-service.javaOpts", "-XX:MaxRAMPercentage=95.0"),
     "msa:services.user-service.javaOpts: -XX:MaxRAMPercentage=95.0 leaves the JVM no room beyond the heap"),
    ("the same node twice", _set("cluster.nodes", [{"host": "n1"}, {"host": "N1"}]), "msa:cluster.nodes[1].host: N1 is listed twice"),
    ("two routes with one path", _set("services.apigateway-service.routes", [{"path": "/u/**", "service": "user-service"}, {"path": "/u/**", "service": "store-service"}]),
     "msa:services.apigateway-service.routes[1].path: /u/** is already the path of routes[0]"),
    ("service CIDR too small for every Service", _set("cluster.serviceCidr", "10.96.0.0/29"), "msa:cluster.serviceCidr: 10.96.0.0/29 has 5 addresses for Services but the stack needs 8"),
]
RULES += [
    (f"service named {name}", _set(f"services.{name}", {"image": "x", "tag": "1", "port": 80}), f"msa:services.{name}: '{name}' is a name the stack uses for its own objects")
    for name in ("kafka", "zookeeper", "kafka-ui", "kafka-headless", "kafka-bootstrap", "zookeeper-headless", "config-repo", "harbor-pull")
]

# Misspellings are named, with the closest known key; keys outside msa: are not ignored.
RULES += [
    ("misspelt required key", lambda v: v["msa:harbor"].update(hostname=v["msa:harbor"].pop("host")),
     "msa:harbor.hostname: unknown key; did you mean host? known keys here are: address, host,"),
    ("misspelt image", lambda v: v["msa:services"]["user-service"].update(imagee=v["msa:services"]["user-service"].pop("image")),
     "msa:services.user-service.imagee: unknown key; did you mean image?"),
    ("misspelt namespace", lambda v: v.update({"msq:kafka": v.pop("msa:kafka")}), "msq:kafka: namespace 'msq' is not read by this program; did you mean msa:kafka?"),
    ("no namespace", lambda v: v.update({"kafka": v.pop("msa:kafka")}), "kafka: has no namespace; did you mean msa:kafka?"),
]


def validation_error(edit) -> str:
    """The line config.load stops the program with (the same checks, without the mock runtime: fast)."""
    values = copy.deepcopy(stack_values("dev"))
    edit(values)
    texts, secret_keys = to_config(values)
    with pytest.raises(ConfigError) as caught:
        config.validate(texts, lambda k: texts.get(f"msa:{k}"), lambda k: k in secret_keys, ROOT, "dev")
    message = str(caught.value)
    assert "\n" not in message, message
    return message


@pytest.mark.parametrize("edit, expected", [(e, x) for _, e, x in RULES], ids=[r[0] for r in RULES])
def test_bad_value_names_its_key(edit, expected):
    assert validation_error(edit).startswith(expected)


@pytest.mark.parametrize("case", ["ClusterIP outside the CIDR", "boolean broker count", "misspelt namespace", "service named kafka"])
def test_the_program_stops_with_the_same_line(case):
    (edit, expected), = [(e, x) for name, e, x in RULES if name == case]
    assert config_error(edit).startswith(expected)


ACCEPTED = [
    ("plain kafka producer", _set("services.store-service.kafka", {"transactional": False})),
    ("quantity as a YAML number", _set("services.user-service.resources", {"cpu": 0.5, "cpuLimit": 2})),
    ("quantity with an exponent", _set("kafka.storageSize", "1e10")),
    ("storage class of the cluster", _set("kafka.storageClass", "local-path")),
    ("registry with a port", _set("harbor.host", "10.0.0.5:8080")),
    ("node by name, through a bastion", _set("cluster.nodes", [{"host": "node-1.example.com", "bastion": {"host": "jump.example.com", "port": 2222}}])),
]


@pytest.mark.parametrize("edit", [e for _, e in ACCEPTED], ids=[a[0] for a in ACCEPTED])
def test_every_form_the_grammar_allows_is_accepted(edit):
    assert run_stack("dev", edit).resources


def test_no_resource_is_registered_before_a_config_error():
    import render

    seen = []

    class Spy(render.RecordingMocks):
        def new_resource(self, args):
            seen.append(args.typ)
            return super().new_resource(args)

    config_error(_set("services.user-service.clusterIP", "10.200.0.5"), mocks=Spy)
    assert seen == []


def test_plain_text_password_is_rejected():
    def plain(values):
        values["msa:harborPassword"] = TEST_PASSWORD

    message = config_error(plain, secrets={"msa:harborPassword": None})
    assert message.startswith("msa:harborPassword: is stored in plain text")
    assert TEST_PASSWORD not in message


def test_missing_password_with_username_is_an_error():
    message = config_error(lambda v: None, secrets={"msa:harborPassword": None})
    assert message.startswith("msa:harborPassword: harbor.username is 'admin' but no password is set")


def test_missing_ssh_key_with_nodes_is_an_error():
    assert config_error(lambda v: None, secrets={"msa:sshPrivateKey": None}).startswith("msa:sshPrivateKey:")


def test_valid_stacks_pass(dev, prod):
    assert dev.resources
    assert prod.resources


def _render(*args, cwd=None):
    cwd = cwd or fixture_project()
    return subprocess.run([sys.executable, "render.py", *args], cwd=cwd, capture_output=True, text=True)


def test_render_of_invalid_config_exits_2_with_one_line_and_writes_nothing(tmp_path):
    project = tmp_path / "project"
    copy_project(project)
    stack = (project / "Pulumi.dev.yaml").read_text().replace("clusterIP: 10.104.193.23", "clusterIP: 10.200.0.5")
    (project / "Pulumi.dev.yaml").write_text(stack)
    out = tmp_path / "out"
    result = _render("dev", "--out", str(out), cwd=project)
    assert result.returncode == 2
    assert result.stderr == (
        "error: msa:services.user-service.clusterIP: 10.200.0.5 is outside the service CIDR 10.96.0.0/12; pick an address inside it\n"
    )
    assert "Traceback" not in result.stderr + result.stdout
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["project"]


def test_render_of_unknown_stack_exits_2(tmp_path):
    result = _render("staging", "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert result.stderr.startswith("error: Pulumi.staging.yaml not found")


def test_config_arrives_like_the_cli_sends_it(monkeypatch):
    """Under `pulumi up` the language host passes config as PULUMI_CONFIG / PULUMI_CONFIG_SECRET_KEYS."""
    import json

    from pulumi.runtime import config as runtime_config

    from msa import config
    from msa.errors import ConfigError
    from conftest import to_config

    values, secret_keys = to_config(stack_values("dev"))
    token = runtime_config.CONFIG.set({})  # nothing set in-process: only the environment
    try:
        monkeypatch.setattr(runtime_config, "is_config_secret", lambda key: False)
        monkeypatch.setenv("PULUMI_CONFIG", json.dumps(values))
        monkeypatch.setenv("PULUMI_CONFIG_SECRET_KEYS", json.dumps(secret_keys))
        cfg, _ = config.load(ROOT)
        assert cfg.kafka.brokers == 1 and list(cfg.services)[0] == "discovery-service"

        monkeypatch.setenv("PULUMI_CONFIG_SECRET_KEYS", json.dumps(["msa:sshPrivateKey"]))
        with pytest.raises(ConfigError) as caught:
            config.load(ROOT)
    finally:
        runtime_config.CONFIG.reset(token)
    assert str(caught.value).startswith("msa:harborPassword: is stored in plain text")


def test_every_name_the_stack_gives_its_own_objects_is_reserved(dev):
    """reserved_names() is read from the code that names objects; this keeps it complete as objects are added."""
    import re

    from msa.names import reserved_names
    from conftest import objects

    services = set(stack_values("dev")["msa:services"])
    # PersistentVolumeClaim patches name claims the StatefulSet controller created, not objects of the stack.
    own = {o["metadata"]["name"] for o in objects(dev) if o["kind"] not in ("Namespace", "PersistentVolumeClaim")} - services
    # Immutable ConfigMaps and Secrets carry a content hash after their reserved name.
    bases = {re.sub(r"-[0-9a-f]{8}$", "", name) for name in own}
    # A Kafka client's own user Secret is named after the service (kafka-user-<service>): no other service's name.
    bases -= {"kafka-user-" + name for name in services}
    assert bases <= set(reserved_names()), f"add to names.reserved_names(): {sorted(bases - set(reserved_names()))}"
