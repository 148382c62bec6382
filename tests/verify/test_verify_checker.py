"""The checker's parsing and its lines, with canned answers; the pods check against a fake Kubernetes API on loopback.

(A real API server cannot run on this machine; the fake serves the same `/api/v1/namespaces/<ns>/pods`
JSON shape, and asserts the request the checker sends: the path, the label selector, the bearer token.)
The real Eureka, gateway, config server and Kafka are in tests/integration/test_verify.py.
"""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from msa.verify.checker import cli, pods, spring, web
from msa.verify.checker.kafka import _replication_problems, parse_broker_configs, parse_topic_description
from msa.verify.checker.results import FAIL, PASS, Result

SPEC = {
    "namespace": "msa",
    "registration": "clusterIP",
    "settleSeconds": 0,
    "discovery": {"name": "discovery-service", "url": "http://10.96.0.5:8761", "nodePort": 30007},
    "eurekaClients": [{"name": "user-service", "address": "10.104.193.23", "port": 46279}],
    "config": {"name": "config-service", "url": "http://10.96.0.25:8888", "nodePort": 30008, "repo": "config-repo/",
               "clients": [{"name": "user-service", "sources": ["user-service.yml", "application.yml"]}]},
    "gateway": {"name": "apigateway-service", "url": "http://10.96.0.192:8000", "nodePort": 30010,
                "routes": [{"path": "/user-service/**", "service": "user-service", "stripPrefix": 0,
                            "targetUrl": "http://10.104.193.23:46279", "targetNodePort": None}]},
    "pods": {"selector": "app.kubernetes.io/part-of=msa", "harbor": "msa.harbor.com", "workloads": [
        {"name": "user-service", "replicas": 2, "repository": "msa.harbor.com/library/usersservice"},
        {"name": "kafka", "replicas": 1, "image": "confluentinc/cp-kafka:7.9.1"},
    ]},
}


def answers(table):
    """A fake http_get: URL -> (status, body); a missing URL is a refused connection."""
    def get(url, accept="application/json", **_):
        if url not in table:
            raise ConnectionRefusedError(111, "Connection refused")
        status, body = table[url]
        return web.Response(status, body if isinstance(body, str) else json.dumps(body))
    return get


def registry(*instances):
    return {"applications": {"versions__delta": "1", "application": [{"name": "USER-SERVICE", "instance": list(instances)}]}}


def instance(host, ip=None, port=46279, status="UP"):
    return {"instanceId": f"{host}:user-service:{port}", "hostName": host, "ipAddr": ip or host, "status": status,
            "port": {"$": port, "@enabled": "true"}}


APPS = "http://10.96.0.5:8761/eureka/apps"


def test_eureka_passes_for_a_client_under_its_cluster_ip():
    (line,) = spring.eureka_checks(SPEC, answers({APPS: (200, registry(instance("10.104.193.23")))}))
    assert line.status == PASS and "UP at 10.104.193.23:46279" in line.detail


def test_eureka_reads_the_one_instance_form_of_the_registry():
    body = {"applications": {"application": {"name": "USER-SERVICE", "instance": instance("10.104.193.23")}}}
    (line,) = spring.eureka_checks(SPEC, answers({APPS: (200, body)}))
    assert line.status == PASS


def test_eureka_names_an_instance_under_its_pod_host_name():
    pod = instance("users-deployment-65db46d67b-gtn8l", ip="10.244.1.7")
    (line,) = spring.eureka_checks(SPEC, answers({APPS: (200, registry(pod))}))
    assert line.status == FAIL
    assert "registered as users-deployment-65db46d67b-gtn8l:46279, expected 10.104.193.23:46279" in line.detail
    assert "pod host name" in line.detail


@pytest.mark.parametrize("inst, words", [
    (instance("10.104.193.23", port=8080), "registered port 8080, expected 46279"),
    (instance("10.104.193.23", status="DOWN"), "is DOWN, expected UP"),
])
def test_eureka_checks_port_and_status(inst, words):
    (line,) = spring.eureka_checks(SPEC, answers({APPS: (200, registry(inst))}))
    assert line.status == FAIL and words in line.detail


def test_eureka_reports_a_client_that_never_registered():
    (line,) = spring.eureka_checks(SPEC, answers({APPS: (200, {"applications": {"application": []}})}))
    assert line.status == FAIL and line.subject == "user-service" and line.detail.startswith("not registered")


def test_eureka_does_not_require_the_config_server_but_checks_it_when_registered():
    spec = {**SPEC, "eurekaClients": [{"name": "config-service", "address": "10.96.0.25", "port": 8888, "required": False}]}
    empty = {"applications": {"application": []}}
    (line,) = spring.eureka_checks(spec, answers({APPS: (200, empty)}))
    assert line.status == PASS and "need not be" in line.detail
    wrong = {"applications": {"application": [{"name": "CONFIG-SERVICE", "instance": [instance("config-service-7d9f-abcde", port=8888)]}]}}
    (line,) = spring.eureka_checks(spec, answers({APPS: (200, wrong)}))
    assert line.status == FAIL and "pod host name" in line.detail


def test_eureka_service_dns_mode_expects_the_service_name():
    spec = {**SPEC, "registration": "serviceDns", "eurekaClients": [{"name": "user-service", "address": "user-service.msa.svc.cluster.local", "port": 46279}]}
    ok = instance("user-service.msa.svc.cluster.local", ip="10.244.1.7")
    assert spring.eureka_checks(spec, answers({APPS: (200, registry(ok))}))[0].status == PASS


def test_the_probe_path_matches_the_route_predicate():
    assert spring.probe_path("/user-service/**") == "/user-service/actuator/health"
    assert spring.probe_path("/api/*/orders/**") == "/api/msa-verify/orders/actuator/health"
    assert spring.forwarded_path("/user-service/actuator/health", 1) == "/actuator/health"


GW = "http://10.96.0.192:8000/user-service/actuator/health"
GW_UP = {"http://10.96.0.192:8000/actuator/health/liveness": (200, '{"status":"UP"}')}
TARGET = "http://10.104.193.23:46279/user-service/actuator/health"


def test_a_route_that_reaches_its_app_passes_even_with_a_404():
    (line,) = spring.gateway_checks(SPEC, answers({**GW_UP, GW: (404, "{}"), TARGET: (404, "{}")}))
    assert line.status == PASS and "answered 404" in line.detail


def test_a_route_to_a_stopped_app_is_reported_by_name():
    (line,) = spring.gateway_checks(SPEC, answers({**GW_UP, GW: (503, "Service Unavailable")}))
    assert line.status == FAIL and line.subject == "/user-service/** -> user-service"
    assert "answered 503" in line.detail and "user-service is down or not registered" in line.detail


def test_a_gateway_that_does_not_route_differs_from_its_target():
    spec = json.loads(json.dumps(SPEC))
    spec["gateway"]["routes"][0]["stripPrefix"] = 1
    direct = "http://10.104.193.23:46279/actuator/health"
    (line,) = spring.gateway_checks(spec, answers({**GW_UP, GW: (404, "{}"), direct: (200, '{"status":"UP"}')}))
    assert line.status == FAIL and "does not route it" in line.detail


CONFIG = "http://10.96.0.25:8888/user-service/default"


def environment(*files):
    return {"name": "user-service", "profiles": ["default"],
            "propertySources": [{"name": f"Config resource 'file [/config-repo/{f}]' via location 'file:/config-repo/'", "source": {"a": 1}} for f in files]}


def test_config_passes_when_the_clients_file_is_served():
    (line,) = spring.config_checks(SPEC, answers({CONFIG: (200, environment("user-service.yml", "application.yml"))}))
    assert line.status == PASS


def test_config_names_the_missing_file():
    (line,) = spring.config_checks(SPEC, answers({CONFIG: (200, environment("application.yml"))}))
    assert line.status == FAIL
    assert "lacks user-service.yml (serves: application.yml)" in line.detail


def test_config_source_names_of_older_servers_count_too():
    body = {"propertySources": [{"name": "file:/config-repo/user-service.yml"}, {"name": "file:/config-repo/application.yml"}]}
    assert spring.config_checks(SPEC, answers({CONFIG: (200, body)}))[0].status == PASS


def test_a_404_from_something_that_is_not_a_running_gateway_proves_nothing():
    (line,) = spring.gateway_checks(SPEC, answers({GW: (404, "{}"), TARGET: (404, "{}"), "http://10.96.0.192:8000/actuator/health/liveness": (404, "")}))
    assert line.status == FAIL and line.subject == "apigateway-service" and "is this the gateway?" in line.detail


def test_every_line_says_where_a_server_cannot_be_reached():
    lines = spring.eureka_checks(SPEC, answers({})) + spring.config_checks(SPEC, answers({})) + spring.gateway_checks(SPEC, answers({}))
    assert all(line.status == FAIL and "not reachable" in line.detail for line in lines)


BROKER_CONFIGS = """\
All configs for broker 0 are:
  default.replication.factor=1 sensitive=false synonyms={STATIC_BROKER_CONFIG:default.replication.factor=1, DEFAULT_CONFIG:default.replication.factor=1}
  transaction.state.log.replication.factor=3 sensitive=false synonyms={DEFAULT_CONFIG:transaction.state.log.replication.factor=3}
  ssl.key.password=null sensitive=true synonyms={}
Default configs for brokers in the cluster are:
"""


def test_broker_configs_are_read_per_broker():
    assert parse_broker_configs(BROKER_CONFIGS) == {0: {
        "default.replication.factor": "1", "transaction.state.log.replication.factor": "3", "ssl.key.password": "null"}}


TOPICS = """\
Topic: msa-verify-1\tTopicId: Xy\tPartitionCount: 2\tReplicationFactor: 3\tConfigs: min.insync.replicas=2
\tTopic: msa-verify-1\tPartition: 0\tLeader: 1\tReplicas: 1,2,0\tIsr: 1,2,0\tElr: N/A\tLastKnownElr: N/A
\tTopic: msa-verify-1\tPartition: 1\tLeader: 2\tReplicas: 2,0,1\tIsr: 2,0\tElr: N/A\tLastKnownElr: N/A
"""


def test_topic_descriptions_show_under_replicated_partitions():
    topics = parse_topic_description(TOPICS)
    assert [p.replicas for p in topics["msa-verify-1"]] == [(1, 2, 0), (2, 0, 1)]
    assert _replication_problems("msa-verify-1", topics["msa-verify-1"], 3, 2) == [
        "msa-verify-1 partitions 1 not fully replicated (ISR smaller than replicas)"]
    assert _replication_problems("msa-verify-1", topics["msa-verify-1"], 1) [0] == "msa-verify-1 has replication factor 3, expected 1"


def test_failing_checks_are_repeated_until_they_pass_within_the_settle_window():
    calls = {"eureka": 0}
    now = [0.0]

    def runner(group, spec, kube):
        calls[group] = calls.get(group, 0) + 1
        ok = group != "eureka" or calls["eureka"] >= 3
        return [Result(PASS if ok else FAIL, group, "x", "")]

    results = cli.verify(SPEC, ["eureka", "config"], {}, settle=60, kube=None, log=open("/dev/null", "w"), runner=runner,
                        sleep=lambda s: now.__setitem__(0, now[0] + s), clock=lambda: now[0])
    assert [r.status for r in results] == [PASS, PASS]
    assert calls == {"eureka": 3, "config": 1}


def test_a_check_still_failing_at_the_end_of_the_window_fails():
    now = [0.0]
    results = cli.verify(SPEC, ["eureka"], {}, settle=12, kube=None, log=open("/dev/null", "w"),
                        runner=lambda g, s, k: [Result(FAIL, g, "x", "no")],
                        sleep=lambda s: now.__setitem__(0, now[0] + s), clock=lambda: now[0])
    assert [r.status for r in results] == [FAIL]
    assert now[0] == 10.0     # two retries fit into 12 s, a third would not


def test_from_outside_uses_node_ports_and_says_what_it_skips():
    spec, skips = cli.from_outside(SPEC, "172.10.40.174")
    assert spec["discovery"]["url"] == "http://172.10.40.174:30007"
    assert spec["gateway"]["url"] == "http://172.10.40.174:30010"
    assert "targetUrl" not in spec["gateway"]["routes"][0]      # user-service has no NodePort
    assert set(skips) == {"kafka", "pods"}
    assert "only inside the cluster" in skips["kafka"]


def test_a_failing_run_writes_its_lines_to_the_termination_log(tmp_path, capsys, monkeypatch):
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(json.dumps(SPEC))
    log = tmp_path / "termination-log"
    log.write_text("")
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    # The Eureka check calls spring.http_get: answer there.
    monkeypatch.setattr(spring, "http_get", answers({APPS: (200, {"applications": {"application": []}})}))
    code = cli.main(["--spec", str(spec_file), "--only", "eureka,pods", "--termination-log", str(log)])
    out = capsys.readouterr().out
    assert code == 1
    assert "SKIP  pods" in out and out.rstrip().endswith("verification FAILED: 2 checks, 1 failed, 1 skipped")
    (line,) = log.read_text().splitlines()
    assert line.startswith("FAIL  eureka   user-service") and "not registered" in line


# --- pods, against a fake Kubernetes API on loopback ---------------------------------------------------

def pod(name, app, image, phase="Running", waiting=None):
    state = {"waiting": waiting} if waiting else {"running": {"startedAt": "2026-01-01T00:00:00Z"}}
    return {"metadata": {"name": name, "labels": {"app.kubernetes.io/name": app, "app.kubernetes.io/part-of": "msa"}},
            "spec": {"containers": [{"name": app, "image": image}]},
            "status": {"phase": phase, "containerStatuses": [{"name": app, "state": state}]}}


@pytest.fixture
def fake_api():
    """A loopback HTTP server answering GET /api/v1/namespaces/msa/pods like the API server."""
    served = {"items": [], "requests": []}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            served["requests"].append((self.path, self.headers.get("Authorization")))
            if self.headers.get("Authorization") != "Bearer test-token":
                self.send_response(401)
                self.end_headers()
                return
            body = json.dumps({"kind": "PodList", "apiVersion": "v1", "items": served["items"]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    served["api"] = pods.KubeApi(f"http://127.0.0.1:{server.server_port}", "test-token", None)
    yield served
    server.shutdown()
    server.server_close()


HARBOR_IMAGE = "msa.harbor.com/library/usersservice@sha256:" + "a" * 64


def test_pods_pass_when_every_pod_runs_its_image(fake_api):
    fake_api["items"] = [pod("user-service-1", "user-service", HARBOR_IMAGE), pod("user-service-2", "user-service", HARBOR_IMAGE),
                         pod("kafka-0", "kafka", "confluentinc/cp-kafka:7.9.1"), pod("verify-x", "verify", "confluentinc/cp-kafka:7.9.1")]
    lines = pods.pod_checks(SPEC, fake_api["api"])
    assert [(r.status, r.subject) for r in lines] == [(PASS, "user-service"), (PASS, "kafka")]
    ((path, _),) = fake_api["requests"]
    assert path == "/api/v1/namespaces/msa/pods?labelSelector=app.kubernetes.io/part-of%3Dmsa"


def test_pods_name_an_image_pull_failure_and_an_image_not_from_harbor(fake_api):
    http_error = {"reason": "ImagePullBackOff", "message": 'failed to pull "msa.harbor.com/library/usersservice:1.0": http: server gave HTTP response to HTTPS client'}
    fake_api["items"] = [pod("user-service-1", "user-service", "msa.harbor.com/library/usersservice:1.0", phase="Pending", waiting=http_error),
                         pod("user-service-2", "user-service", "docker.io/library/usersservice:1.0"),
                         pod("kafka-0", "kafka", "confluentinc/cp-kafka:7.9.1")]
    user, kafka = pods.pod_checks(SPEC, fake_api["api"])
    assert user.status == FAIL and kafka.status == PASS
    assert user.detail.startswith("1 of 2 pod(s) Running")
    assert "user-service-1 is Pending: user-service ImagePullBackOff" in user.detail
    assert "server gave HTTP response to HTTPS client" in user.detail
    assert "user-service-2 runs docker.io/library/usersservice:1.0, expected msa.harbor.com/library/usersservice in Harbor" in user.detail


def test_pods_without_permission_say_what_the_service_account_needs(fake_api):
    api = pods.KubeApi(fake_api["api"].base, "wrong-token", None)
    (line,) = pods.pod_checks(SPEC, api)
    assert line.status == FAIL and "answered 401" in line.detail and "get/list on pods" in line.detail
