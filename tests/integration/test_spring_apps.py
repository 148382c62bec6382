"""The stack's Spring settings, proven with real Spring Cloud apps on loopback (tests/integration/spring_apps.py).

Eureka server, config server, both gateway lines (4.1 reads `spring.cloud.gateway.routes`, 4.3
`spring.cloud.gateway.server.webflux.routes`) and a client standing in for user-service each run
with exactly the SPRING_APPLICATION_JSON the dev stack renders. The JVMs are shared by the tests of
the session (`spring_system`) and started in the order the tests need them.
"""

import json
import time
import urllib.request
from xml.etree import ElementTree

import pytest

from integration.spring_apps import spring_system_for, wait_until

pytestmark = pytest.mark.integration

CLIENT = "user-service"


@pytest.fixture
def spring(spring_system):
    return spring_system


def shared_services(spring) -> None:
    """Discovery and config server, started together (the client's config import waits for the latter)."""
    for app in [spring.start("discovery-service"), spring.start("config-service")]:
        app.wait_ready()


def echo(app, path: str = "/echo") -> dict:
    status, body = app.get(path)
    assert status == 200, body
    return json.loads(body)


def test_a_client_that_starts_before_the_config_server_still_gets_its_config(spring):
    """All services roll out in parallel: the client's config import retries (fail-fast + retry)
    instead of running on without config-repo's settings."""
    repo = spring.stack.config_repo()
    spring.stop_service("config-service")
    spring.stop_service(CLIENT)
    spring.app("discovery-service")
    client = spring.start(CLIENT)
    # Config data loads before Spring's logging starts (its log lines are replayed later): give the
    # client time for its first attempts, with no config server anywhere.
    time.sleep(8)
    assert client.running(), client.log_tail()
    spring.app("config-service")
    client.wait_ready()
    fetches = client.log_path.read_text().count("Fetching config from server at")
    assert fetches >= 2, client.log_tail()
    assert "Welcome to the msa user service" in repo["user-service.yml"]
    assert echo(client)["greeting"] == "Welcome to the msa user service"


def test_config_repo_exposes_the_refresh_endpoint(spring):
    shared_services(spring)
    client = spring.app(CLIENT)
    status, body = client.get("/actuator")
    assert status == 200 and '"refresh"' in body, body
    request_status = _post(client.url + "/actuator/refresh")
    assert request_status == 200


def _post(url: str) -> int:
    request = urllib.request.Request(url, data=b"", method="POST", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status


def test_eureka_lists_the_client_under_its_service_address_and_port(spring):
    shared_services(spring)
    client = spring.app(CLIENT)
    (instance,) = [i for i in spring.wait_registered(CLIENT) if i["instanceId"] == f"{CLIENT}:{client.pod_name}"]
    address = spring.stack.cluster_ips[CLIENT]
    assert (instance["ipAddr"], instance["hostName"], instance["port"]["$"]) == (address, address, spring.stack.ports[CLIENT])


def test_the_eureka_server_is_not_its_own_peer(spring):
    """Its defaultZone is its Service's DNS name, its registration an IP: `eureka.server.myUrl` tells it
    the URL is its own, so it does not replicate to itself (and list itself as an unavailable replica)."""
    discovery = spring.app("discovery-service")
    # XML: Eureka 2.0.4's JSON encoder fails on StatusInfo (a null `isHeathly`).
    status, body = discovery.get("/eureka/status", headers={"Accept": "application/xml"})
    assert status == 200, body
    stats = ElementTree.fromstring(body).find("applicationStats")
    replicas = {child.tag: (child.text or "") for child in stats}
    assert replicas["registered-replicas"] == "" and replicas["unavailable-replicas"] == "", replicas


# Diagnostics only: config-repo exposes health,info,refresh; a system property adds configprops
# (and its values) below everything the stack and config-repo set.
CONFIGPROPS = {"management.endpoints.web.exposure.include": "health,configprops",
               "management.endpoint.configprops.show-values": "always"}


@pytest.mark.parametrize("gateway, prefix", [("gateway-4.1", "spring.cloud.gateway.httpclient"),
                                             ("gateway-4.3", "spring.cloud.gateway.server.webflux.httpclient")])
def test_a_gateway_route_reaches_the_client_and_its_pool_is_bounded(spring, gateway, prefix):
    shared_services(spring)
    client = spring.app(CLIENT)
    spring.wait_registered(CLIENT)
    gw = spring.app("apigateway-service", app=gateway, properties=CONFIGPROPS)

    def through_gateway():
        status, body = gw.get("/user-service/echo")
        return json.loads(body) if status == 200 else None

    echoed = wait_until(through_gateway, 90, f"{gateway} to route /user-service/echo")
    assert echoed == echo(client)
    # The line's own key set is the one bound: 4.1 reads spring.cloud.gateway.*, 4.3 .server.webflux.*.
    beans = json.loads(gw.get("/actuator/configprops")[1])["contexts"]
    bound = [b for ctx in beans.values() for b in ctx["beans"].values() if b["prefix"] == prefix]
    assert bound, f"no {prefix} bean in {gateway}"
    pool = bound[0]["properties"]["pool"]
    assert (pool["maxIdleTime"], pool["maxLifeTime"]) == ("PT10S", "PT1M"), pool
    spring.stop(gw)   # the next line listens on the same address


def test_two_replicas_register_with_distinct_instance_ids(spring):
    shared_services(spring)
    first = spring.app(CLIENT)
    second = spring.app(CLIENT, replica=1)
    instances = spring.wait_registered(CLIENT, count=2)
    ids = {i["instanceId"] for i in instances}
    assert ids == {f"{CLIENT}:{first.pod_name}", f"{CLIENT}:{second.pod_name}"}
    assert {(i["ipAddr"], i["port"]["$"]) for i in instances} == {(spring.stack.cluster_ips[CLIENT], spring.stack.ports[CLIENT])}
    assert echo(second)["instanceId"] == f"{CLIENT}:{second.pod_name}"


@pytest.fixture(scope="module")
def impatient(tmp_path_factory):
    """The dev stack with user-service's startupSeconds at 10: its config retry gives up after ~13 s."""
    yield from spring_system_for(tmp_path_factory, edit=lambda v: v["msa:services"][CLIENT].update(startupSeconds=10))


def test_a_client_whose_config_server_never_answers_exits_instead_of_running_without_config(impatient):
    client = impatient.start(CLIENT)   # no config server at all
    client.process.wait(120)
    assert client.process.returncode != 0
    log = client.log_path.read_text()
    assert "Could not locate PropertySource and the fail fast property is set" in log, client.log_tail()
    assert log.count("Fetching config from server at") == impatient.stack.settings(CLIENT)["spring"]["cloud"]["config"]["retry"]["maxAttempts"]
