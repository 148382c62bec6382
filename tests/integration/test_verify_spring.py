"""The verification checker against real Spring Cloud apps on loopback (tests/integration/spring_apps.py):
Eureka, a gateway route and the config server, each run with the settings the dev stack renders.
It passes on the working system and names the fault: a client under its pod host name, a route to a
stopped app, a config server without the client's file. The Kafka lines: test_verify.py.
"""

from __future__ import annotations

import json

import pytest

from conftest import by_name
from integration.verify_run import run_checker

pytestmark = pytest.mark.integration


SPRING_CHECKS = "eureka,gateway,config"
CLIENT = "user-service"
# What a pod's own host name looks like (Deployment <name>-<replicaset hash>-<suffix>).
POD_HOST_NAME = "user-service-65db46d67b-gtn8l"


@pytest.fixture
def spring(spring_system):
    """Every Spring service of the dev stack running, as the stack configures it (loopback ClusterIPs)."""
    spec = spring_spec(spring_system)
    services = [spec["discovery"]["name"], spec["config"]["name"], *(c["name"] for c in spec["eurekaClients"])]
    for service in services:
        spring_system.start(service)
    for service in services:
        spring_system.app(service)
    return spring_system


def spring_spec(spring) -> dict:
    return json.loads(by_name(spring.stack.rendered, "ConfigMap", "verify")["data"]["spec.json"])


def test_spring_lines_pass_on_a_working_system(spring, tmp_path):
    spec = spring_spec(spring)
    # Right after every pod is ready: registrations and the gateway's registry settle within the window.
    run = run_checker(spec, tmp_path, SPRING_CHECKS, extra=["--settle", "150"])
    assert run.code == 0, run.out + run.err
    for client in [c for c in spec["eurekaClients"] if c["required"]]:
        address = f"{spring.stack.cluster_ips[client['name']]}:{spring.stack.ports[client['name']]}"
        assert f"UP at {address}" in run.line("eureka", client["name"])
    assert run.status("gateway", "/user-service/** -> user-service") == "PASS"
    assert "serves user-service.yml, application.yml" in run.line("config", CLIENT)


def test_a_client_registered_under_its_pod_host_name_fails_the_eureka_line(spring, tmp_path):
    """The original 500: a client that registers its pod's host name (Spring's default in a pod)."""
    from integration.spring_apps import POD_CIDR, SpringApp, pod_env, wait_until

    port = spring.stack.ports[CLIENT]
    address = str(POD_CIDR.broadcast_address - 1)
    env = pod_env(spring.stack.deployment(CLIENT), POD_HOST_NAME, address)
    settings = json.loads(env["SPRING_APPLICATION_JSON"])
    # In a pod the host name is the pod's name; here it is set to one, as a pod without the stack's settings has it.
    settings["eureka"]["instance"] = {"preferIpAddress": False, "hostname": POD_HOST_NAME, "nonSecurePort": port,
                                      "instanceId": f"{POD_HOST_NAME}:{CLIENT}:{port}"}
    env["SPRING_APPLICATION_JSON"] = json.dumps(settings)
    rogue = SpringApp(service=CLIENT, app="client", pod_name=POD_HOST_NAME, address=address, port=port, env=env,
                      log_path=tmp_path / "rogue.log")
    rogue.start(spring.hosts)
    try:
        rogue.wait_ready()
        wait_until(lambda: any(i["hostName"] == POD_HOST_NAME for i in spring.eureka_apps().get(CLIENT.upper(), [])),
                   90, f"{POD_HOST_NAME} in Eureka")
        run = run_checker(spring_spec(spring), tmp_path, "eureka", extra=["--settle", "0"])
        assert run.code == 1
        line = run.line("eureka", CLIENT)
        assert line.startswith("FAIL")
        assert f"registered as {POD_HOST_NAME}:{port}, expected {spring.stack.cluster_ips[CLIENT]}:{port}" in line
        assert "pod host name" in line
    finally:
        rogue.stop()    # a graceful stop deregisters it


def test_a_route_to_a_stopped_app_is_reported_by_name(spring, tmp_path):
    spring.stop_service(CLIENT)
    try:
        run = run_checker(spring_spec(spring), tmp_path, "gateway", extra=["--settle", "0"])
        assert run.code == 1
        line = run.line("gateway", "/user-service/** -> user-service")
        assert line.startswith("FAIL") and "user-service is down or not registered" in line
        assert (tmp_path / "termination-log").read_text().strip() == line
    finally:
        spring.app(CLIENT)


def test_a_config_server_without_the_clients_file_fails_the_config_line(spring, tmp_path):
    client_file = spring.repo / f"{CLIENT}.yml"
    kept = client_file.read_text()
    client_file.unlink()
    try:
        run = run_checker(spring_spec(spring), tmp_path, "config", extra=["--settle", "0"])
        assert run.code == 1
        line = run.line("config", CLIENT)
        assert line.startswith("FAIL") and "lacks user-service.yml (serves: application.yml)" in line
        assert run.status("config", "store-service") == "PASS"
    finally:
        client_file.write_text(kept)
