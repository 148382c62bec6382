"""msa:kafka.tls against a real Kafka 3.9 (three brokers, ZooKeeper mode): the SCRAM listener speaks
SASL_SSL with the certificate the stack issues from the team's CA, between brokers too (each broker checks
its peers' names against that certificate), and the stack's clients work with exactly what it renders:
- the brokers' readiness probe (Python's ssl module, the CA from its Secret, the advertised name);
- the day-2 Jobs' scripts and the verification checker (Kafka tools with the admin user's client.properties);
- a real Spring Boot app with store-service's rendered SPRING_APPLICATION_JSON (the CA inline).
A client that does not trust the CA and a SASL_PLAINTEXT client are refused; no private key shows in any
log or output. One cluster for the whole file; the unit-level checks are in tests/kafka/test_kafka_tls.py.
"""

from __future__ import annotations

import json
import re

import pytest

from conftest import by_name
from integration.kafka_auth import metadata_error
from integration.kafka_world import KafkaWorld
from integration.rendered import run_job_script
from integration.kafka_clients_auth import job_substitutions, user_secret
from integration.kafka_tls import STACK, client_folder, hosts_opts, start_tls_cluster
from integration.spring_apps import render_loopback_stack, require_spring_apps
from integration.verify_run import run_checker
from msa.names import KafkaNames
from msa.config.tls_ca import make_ca

pytestmark = pytest.mark.integration

BROKERS = 3
KAFKA_SERVICE = "store-service"
USERS = ("admin", "kafka-ui", KAFKA_SERVICE)
CA = make_ca("Canary Team CA")
CA_KEY_LINE = re.search(r"-----BEGIN PRIVATE KEY-----\n(.+?)\n", CA)[1]


def sasl(values):
    values["msa:kafka"].update(authentication="sasl", brokers=BROKERS, zookeeperReplicas=1)


def tls(values):
    sasl(values)
    values["msa:kafka"]["tls"] = True


@pytest.fixture(scope="module")
def stack():
    return render_loopback_stack(STACK, tls, secrets={"msa:kafkaTlsCa": CA})


@pytest.fixture(scope="module")
def cluster(stack, kafka_tools, tmp_path_factory):
    world = KafkaWorld(tmp_path_factory.mktemp("kafka-tls"), kafka_tools)
    # The names the certificate was issued for (the dev stack's namespace and cluster domain).
    names = KafkaNames(stack.namespace, "cluster.local", sasl=True)
    try:
        users = {user: user_secret(stack.rendered, user)["password"] for user in USERS}
        yield start_tls_cluster(world, stack.rendered, names, BROKERS, users, sasl)
    finally:
        world.stop(kill=True)


def secret_keys(stack) -> list[str]:
    """Lines of every private key in play: the CA's and the brokers' (from the rendered Secret's value)."""
    (volume,) = [v for v in by_name(stack.rendered, "StatefulSet", "kafka")["spec"]["template"]["spec"]["volumes"] if v["name"] == "tls"]
    from integration.kafka_clients_auth import secret_data

    keystore = secret_data(stack.rendered, volume["secret"]["secretName"])["keystore.pem"]
    return [CA_KEY_LINE, re.search(r"-----BEGIN PRIVATE KEY-----\n(.+?)\n", keystore)[1]]


def test_brokers_replicate_over_sasl_ssl_and_refuse_clients_that_do_not_trust_the_ca_or_skip_tls(stack, cluster, tmp_path):
    # Every broker is Ready through its rendered probe over TLS: registered and in sync with its peers,
    # which it reached over SASL_SSL with their names checked against the issued certificate.
    assert cluster.brokers[0].props["listener.security.protocol.map"] == "PLAINTEXT:PLAINTEXT,SCRAM:SASL_SSL"
    assert cluster.brokers[0].props["inter.broker.listener.name"] == "SCRAM"
    admin = user_secret(stack.rendered, "admin")
    port = cluster.brokers[0].port
    login = {"sasl.username": "admin", "sasl.password": admin["password"], "sasl.mechanism": "SCRAM-SHA-512",
             "bootstrap.servers": f"127.0.0.1:{port}"}
    untrusting = metadata_error({**login, "security.protocol": "SASL_SSL"})     # the system's CAs, not the team's
    assert untrusting and "certificate verify failed" in untrusting, untrusting
    assert metadata_error({**login, "security.protocol": "SASL_PLAINTEXT"}, timeout=8)
    # The probe as a client: with another CA it is refused; without TLS it gets no answer.
    other = client_folder(tmp_path / "other-ca", {**user_secret(stack.rendered, "broker"), "ca.crt": make_ca("Other CA").split("-----END CERTIFICATE-----")[0] + "-----END CERTIFICATE-----\n"})
    refused = cluster.probe(0, other)
    assert refused.returncode == 1 and "CERTIFICATE_VERIFY_FAILED" in refused.stdout, refused.stdout
    plain_props = tmp_path / "plain" / "client.properties"
    plain_props.parent.mkdir()
    plain_props.write_text(cluster.probe_config.read_text().replace("SASL_SSL", "SASL_PLAINTEXT"))
    plain = cluster.probe(0, plain_props)
    assert plain.returncode == 1 and plain.stdout.startswith("no metadata answer"), plain.stdout


def test_the_jobs_and_the_checker_work_over_tls_as_the_admin_user(stack, cluster, kafka_tools, tmp_path, monkeypatch):
    admin_config = client_folder(tmp_path / "admin", user_secret(stack.rendered, "admin"))
    monkeypatch.setenv("KAFKA_OPTS", hosts_opts(cluster.hosts))       # the tools resolve the brokers' names
    outputs = []
    for job in ("kafka-drain", "kafka-rebalance"):
        subs = {**job_substitutions(cluster, admin_config), "BOOTSTRAP_SERVERS": cluster.bootstrap_by_name}
        done = run_job_script(by_name(stack.rendered, "Job", job), kafka_tools, subs)
        assert done.returncode == 0, done.stdout + done.stderr
        assert f"{job}: done" in done.stdout
        outputs.append(done.stdout + done.stderr)
    spec = json.loads(by_name(stack.rendered, "ConfigMap", "verify")["data"]["spec.json"])
    spec["kafka"].update(bootstrap=cluster.bootstrap_by_name, clientConfig=str(admin_config), timeoutMs=20000)
    spec["settleSeconds"] = 120
    (tmp_path / "checker").mkdir()
    run = run_checker(spec, tmp_path / "checker", "kafka", env=kafka_tools.env(KAFKA_OPTS=hosts_opts(cluster.hosts)))
    assert run.code == 0, run.out + run.err
    assert run.status("kafka", "transaction") == "PASS"
    outputs.append(run.out + run.err)
    logs = "".join(b.server.log_path.read_text(errors="replace") for b in cluster.brokers.values())
    for key_line in secret_keys(stack):
        assert all(key_line not in text for text in (*outputs, logs))


def test_spring_service_round_trips_over_tls_with_its_rendered_settings(stack, cluster, tmp_path_factory):
    from integration.spring_apps import SpringSystem

    require_spring_apps("config-server", "client")
    settings = stack.settings(KAFKA_SERVICE)["spring"]["kafka"]
    assert settings["security"] == {"protocol": "SASL_SSL"}
    assert settings["properties"]["ssl.truststore.type"] == "PEM" and "BEGIN CERTIFICATE" in settings["properties"]["ssl.truststore.certificates"]
    system = SpringSystem(stack, tmp_path_factory.mktemp("spring-tls"))
    try:
        # Cluster DNS: the Kafka names on the brokers' loopback address (the other Services as rendered).
        kept = [line for line in system.hosts.read_text().splitlines() if cluster.names.bootstrap not in line]
        system.hosts.write_text("\n".join(kept + cluster.hosts.read_text().splitlines()) + "\n")
        system.app("config-service")
        app = system.app(KAFKA_SERVICE, args=(f"--spring.kafka.bootstrap-servers={cluster.bootstrap_by_name}",))
        status, body = app.get("/kafka/roundtrip?topic=store-tls", timeout=120)
        assert status == 200, body
        assert json.loads(body)["transactional"] is True
        log = app.log_path.read_text(errors="replace")
        assert all(key_line not in log for key_line in secret_keys(stack))
    finally:
        system.stop_all()


def test_kraft_brokers_serve_sasl_ssl_and_their_users_job_and_probe_work_over_it(kafka_tools, tmp_path, monkeypatch):
    """KRaft (dev's combined pod): the format-time broker user's probe logs in over TLS, the kafka-scram-users
    Job writes the other users through the broker as admin over TLS, and untrusting or plaintext clients are refused."""
    from conftest import run_stack
    from integration.kafka_tls import hosts_file, start_tls_kraft
    from integration.kraft_auth import run_kraft_users_job

    def kraft_tls(values):
        values["msa:kafka"].update(mode="kraft", authentication="sasl", tls=True)
        values["msa:verify"] = {"kafkaTimeoutSeconds": 20, "settleSeconds": 120}
    rendered = run_stack(STACK, kraft_tls, secrets={"msa:kafkaTlsCa": CA})
    names = KafkaNames("msa", "cluster.local", sasl=True)
    monkeypatch.setenv("KAFKA_OPTS", hosts_opts(hosts_file(tmp_path / "hosts", names, 1)))
    cluster = start_tls_kraft(rendered, tmp_path / "kraft", kafka_tools, names, 1)
    try:
        (node,) = cluster.brokers()
        assert cluster.probe("kafka-0").returncode == 0                 # the probe, over TLS, as the broker user
        bootstrap = f"{names.fqdn(names.bootstrap)}:{node.port}"
        admin = client_folder(tmp_path / "admin", user_secret(rendered, "admin"))
        stored = run_kraft_users_job(rendered, kafka_tools, bootstrap, admin, tmp_path / "users")
        assert stored.returncode == 0, stored.stdout + stored.stderr
        assert "SCRAM-SHA-512 user(s) stored in the KRaft metadata" in stored.stdout
        login = {"sasl.username": "admin", "sasl.password": user_secret(rendered, "admin")["password"],
                 "sasl.mechanism": "SCRAM-SHA-512", "bootstrap.servers": f"127.0.0.1:{node.port}"}
        untrusting = metadata_error({**login, "security.protocol": "SASL_SSL"})
        assert untrusting and "certificate verify failed" in untrusting, untrusting
        assert metadata_error({**login, "security.protocol": "SASL_PLAINTEXT"}, timeout=8)
        assert CA_KEY_LINE not in node.server.log_path.read_text(errors="replace") + stored.stdout + stored.stderr
    finally:
        cluster.stop()
