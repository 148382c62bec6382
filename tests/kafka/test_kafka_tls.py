"""msa:kafka.tls: the CA checks (one line each, before anything is registered), the broker certificate
(names, chain, renewal, the key kept), what the brokers and every client get, the guard against a switch
on a running cluster, and no private key in any rendered object. Real TLS: tests/integration/test_kafka_tls.py."""

from __future__ import annotations

import datetime
import json
import re

import pytest
import yaml

from conftest import by_name, config_error, env_of, objects, run_stack
from msa.config.tls_ca import ca_certificate_pem, ca_problem, make_ca
from msa.kafka.broker_auth import phase_env
from msa.kafka import tls_certificate as tc
from msa.kafka.tls_guard import tls_change_problem
from msa.kafka.tls_settings import MAX_BROKERS, broker_san
from msa.names import KafkaNames

CA = make_ca("Canary Team CA")
CA_KEY_BODY = re.search(r"-----BEGIN PRIVATE KEY-----\n(.+?)\n", CA)[1]     # a line of the CA's private key
NOW = datetime.datetime.now(datetime.timezone.utc)


def tls(values):
    values["msa:kafka"].update(authentication="sasl", tls=True)


@pytest.fixture(scope="module")
def tls_dev():
    return run_stack("dev", tls, secrets={"msa:kafkaTlsCa": CA})


def _without_basic_constraints() -> str:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "leaf")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(NOW - datetime.timedelta(days=1)).not_valid_after(NOW + datetime.timedelta(days=9))
            .sign(key, hashes.SHA256()))
    return (cert.public_bytes(serialization.Encoding.PEM) + key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())).decode()


@pytest.mark.parametrize("secret, expected", [
    ("not a pem", "msa:kafkaTlsCa: holds no PEM certificate (-----BEGIN CERTIFICATE-----); set the CA certificate followed by its unencrypted private key"),
    (ca_certificate_pem(CA), "msa:kafkaTlsCa: holds no PEM private key"),
    ("-----BEGIN CERTIFICATE-----\nbm9wZQ==\n-----END CERTIFICATE-----\n" + CA.split("-----END CERTIFICATE-----\n")[1],
     "msa:kafkaTlsCa: the certificate is not valid PEM"),
    (ca_certificate_pem(CA) + make_ca("other").split("-----END CERTIFICATE-----\n")[1], "msa:kafkaTlsCa: the private key does not belong to the certificate"),
    (_without_basic_constraints(), "msa:kafkaTlsCa: CN=leaf is not a CA certificate (no basicConstraints CA:TRUE)"),
    (make_ca("old", days=1, now=NOW - datetime.timedelta(days=3)), "msa:kafkaTlsCa: the CA certificate expired on "),
])
def test_a_bad_ca_is_one_line_naming_the_secret(secret, expected):
    message = config_error(tls, secrets={"msa:kafkaTlsCa": secret})
    assert message.startswith(expected), message


def test_tls_needs_the_secret_and_authentication():
    assert config_error(tls).startswith("msa:kafkaTlsCa: kafka.tls is true but no CA is set; make one (docs/security.md) and run: "
                                        "cat ca.crt ca.key | pulumi config set --secret --stack dev msa:kafkaTlsCa")

    def open_tls(values):
        values["msa:kafka"].update(authentication="none", tls=True)
    assert config_error(open_tls, secrets={"msa:kafkaTlsCa": CA}).startswith(
        "msa:kafka.tls: true encrypts the SCRAM listener, which exists with authentication: sasl only")


def test_the_ca_problems_are_pure_and_a_good_ca_passes():
    assert ca_problem(CA) is None
    assert ca_problem(CA, now=NOW + datetime.timedelta(days=4000)).startswith("the CA certificate expired on")
    assert "encrypted" in ca_problem(ca_certificate_pem(CA) + "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAA==\n-----END ENCRYPTED PRIVATE KEY-----\n")


def test_the_broker_certificate_names_every_broker_the_bootstrap_service_and_its_address():
    from cryptography import x509

    names = KafkaNames("msa", "cluster.local", sasl=True)
    dns, ips = broker_san(names, "10.96.0.40")
    key = tc.new_key_pem()
    cert = x509.load_pem_x509_certificate(tc.issue(CA, key, dns, ips).encode())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == [
        *(f"kafka-{i}.kafka-headless.msa.svc.cluster.local" for i in range(MAX_BROKERS)),
        "kafka-bootstrap.msa.svc.cluster.local", "kafka-bootstrap", "kafka-bootstrap.msa", "kafka-bootstrap.msa.svc"]
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["10.96.0.40"]
    # Signed by the CA (verify_directly_issued_by checks the signature and the issuer name).
    cert.verify_directly_issued_by(x509.load_pem_x509_certificate(ca_certificate_pem(CA).encode()))
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    # Never valid beyond its CA.
    short = make_ca("short", days=10)
    short_until = x509.load_pem_x509_certificate(ca_certificate_pem(short).encode()).not_valid_after_utc
    assert x509.load_pem_x509_certificate(tc.issue(short, key, dns, ips).encode()).not_valid_after_utc == short_until


def test_the_provider_keeps_its_key_and_renews_when_due_or_changed():
    provider = tc.BrokerCertificateProvider()
    props = {tc.CA: CA, tc.DNS: ["kafka-0.x"], tc.IPS: ["10.0.0.1"]}
    made = provider.create(props).outs
    assert made[tc.KEY].startswith("-----BEGIN PRIVATE KEY-----") and made[tc.CERT].startswith("-----BEGIN CERTIFICATE-----")
    assert provider.diff("id", made, props).changes is False                         # nothing due: no update, no roll
    due = {**made, tc.NOT_AFTER: (NOW + datetime.timedelta(days=tc.RENEW_DAYS - 1)).isoformat()}
    assert provider.diff("id", due, props).changes is True                           # < 30 days left: renewed on this up
    assert provider.diff("id", made, {**props, tc.DNS: ["kafka-1.x"]}).changes is True
    renewed = provider.update("id", due, props).outs
    assert renewed[tc.KEY] == made[tc.KEY] and renewed[tc.CERT] != made[tc.CERT]      # the same key, a new certificate
    assert not tc.renewal_due(renewed[tc.NOT_AFTER])


def test_brokers_speak_sasl_ssl_with_a_pem_keystore_from_their_secret(tls_dev):
    statefulset = by_name(tls_dev, "StatefulSet", "kafka")
    env = env_of(statefulset)
    # Every phase of the move to authentication speaks SASL_SSL on SCRAM; a new cluster starts scram-only.
    env = {**env, **phase_env({k: v for k, v in env.items() if isinstance(v, str)}, None)}
    assert env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"] == "PLAINTEXT:PLAINTEXT,SCRAM:SASL_SSL"
    assert env["KAFKA_INTER_BROKER_LISTENER_NAME"] == "SCRAM"
    assert env["KAFKA_LISTENER_NAME_SCRAM_SSL_KEYSTORE_TYPE"] == env["KAFKA_LISTENER_NAME_SCRAM_SSL_TRUSTSTORE_TYPE"] == "PEM"
    assert env["KAFKA_LISTENER_NAME_SCRAM_SSL_KEYSTORE_LOCATION"] == "/etc/kafka/tls/keystore.pem"
    pod = statefulset["spec"]["template"]["spec"]
    (volume,) = [v for v in pod["volumes"] if v["name"] == "tls"]
    secret = by_name(tls_dev, "Secret", "kafka-tls")
    assert volume["secret"]["secretName"] == secret["metadata"]["name"] and secret["immutable"] is True
    assert set(secret["stringData"]) == {"keystore.pem", "ca.crt"} and set(secret["stringData"].values()) == {"[secret]"}
    (probe,) = [v for v in pod["volumes"] if v["name"] == "kafka-client"]
    assert [i["key"] for i in probe["secret"]["items"]] == ["client.properties", "ca.crt"]


def test_every_client_trusts_the_ca_and_speaks_sasl_ssl(tls_dev):
    ca = ca_certificate_pem(CA)
    spring = json.loads(env_of(by_name(tls_dev, "Deployment", "store-service"))["SPRING_APPLICATION_JSON"])["spring"]["kafka"]
    assert spring["security"] == {"protocol": "SASL_SSL"}
    assert spring["properties"] == {"sasl.mechanism": "SCRAM-SHA-512", "ssl.truststore.type": "PEM", "ssl.truststore.certificates": ca}
    ui = env_of(by_name(tls_dev, "Deployment", "kafka-ui"))
    assert ui["KAFKA_CLUSTERS_0_PROPERTIES_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert ui["KAFKA_CLUSTERS_0_PROPERTIES_SSL_TRUSTSTORE_CERTIFICATES"] == ca
    for job in ("kafka-drain", "kafka-rebalance", "verify"):
        volumes = by_name(tls_dev, "Job", job)["spec"]["template"]["spec"]["volumes"]
        (client,) = [v for v in volumes if v["name"] == "kafka-client"]
        assert [i["key"] for i in client["secret"]["items"]] == ["client.properties", "ca.crt"], job


def test_no_private_key_is_rendered_or_exported(tls_dev):
    text = yaml.safe_dump(objects(tls_dev)) + json.dumps(tls_dev.exports, default=str)
    assert CA_KEY_BODY not in text
    assert "PRIVATE KEY" not in text
    # The certificate (public) is: the clients' truststore.
    assert ca_certificate_pem(CA).splitlines()[1] in text


def test_a_switch_on_a_running_cluster_is_refused_in_one_line_unless_allowed():
    assert tls_change_problem(None, "true", False) is None          # a new cluster starts as configured
    assert tls_change_problem("true", "true", False) is None
    message = tls_change_problem("false", "true", False)
    assert message.startswith("msa:kafka.tls: the running cluster's SCRAM listener speaks SASL_PLAINTEXT; switching it to SASL_SSL")
    assert "msa:kafka.allowTlsChange: true" in message and "\n" not in message
    assert tls_change_problem("true", "false", True) is None


def test_kraft_brokers_get_the_same_tls_listener_and_the_controllers_keep_theirs():
    def kraft_tls(values):
        values["msa:kafka"].update(mode="kraft", authentication="sasl", tls=True, brokers=3)
    rendered = run_stack("dev", kraft_tls, secrets={"msa:kafkaTlsCa": CA})
    brokers, controllers = env_of(by_name(rendered, "StatefulSet", "kafka")), env_of(by_name(rendered, "StatefulSet", "kafka-controller"))
    assert brokers["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"] == "PLAINTEXT:PLAINTEXT,SCRAM:SASL_SSL,CONTROLLER:SASL_PLAINTEXT"
    assert brokers["KAFKA_LISTENER_NAME_SCRAM_SSL_KEYSTORE_LOCATION"] == "/etc/kafka/tls/keystore.pem"
    assert not any("SSL_KEYSTORE" in k for k in controllers)          # no SCRAM listener there: no certificate
    pod = by_name(rendered, "StatefulSet", "kafka")["spec"]["template"]["spec"]
    assert "tls" in [v["name"] for v in pod["volumes"]]
    (probe,) = [v for v in pod["volumes"] if v["name"] == "kafka-client"]
    assert [i["key"] for i in probe["secret"]["items"]] == ["client.properties", "ca.crt"]


def test_the_pickled_provider_issues_in_a_fresh_process_as_pulumis_dynamic_provider_host_runs_it(tmp_path):
    """`pulumi up` runs the provider from the state's pickle in `python -m pulumi.dynamic`, in the project
    folder: it must load and issue with what that process has (the standard library, cryptography, pulumi)."""
    import subprocess
    import sys

    from conftest import ROOT
    from pulumi.dynamic.dynamic import serialize_provider

    pickled = serialize_provider(tc.BrokerCertificateProvider())
    props = json.dumps({tc.CA: CA, tc.DNS: ["kafka-0.kafka-headless.msa.svc.cluster.local"], tc.IPS: ["10.96.0.40"]})
    script = ("import base64, json, sys, dill; provider = dill.loads(base64.b64decode(sys.argv[1])); "
              "outs = provider.create(json.loads(sys.argv[2])).outs; print(json.dumps(sorted(outs)))")
    done = subprocess.run([sys.executable, "-c", script, pickled, props], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == sorted([tc.CA, tc.DNS, tc.IPS, tc.KEY, tc.CERT, tc.NOT_AFTER])
