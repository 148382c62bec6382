"""The stack's Spring settings, proven with real Spring Cloud apps on loopback (tests/integration/spring_apps.py).

Eureka server, config server, gateway (both lines: 4.1 reads `spring.cloud.gateway.routes`, 4.3
`spring.cloud.gateway.server.webflux.routes`) and a client standing in for user-service each run
with exactly the SPRING_APPLICATION_JSON the dev stack renders.
"""

import json

import pytest

from integration.spring_apps import JARS, require_spring_apps, spring_system_for, wait_until

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
def spring(tmp_path_factory):
    require_spring_apps(*JARS)
    yield from spring_system_for(tmp_path_factory)


def test_eureka_lists_each_client_under_its_service_address_and_port(spring):
    spring.app("discovery-service")
    spring.app("user-service")
    (instance,) = spring.wait_registered("user-service")
    assert (instance["ipAddr"], instance["port"]["$"]) == (spring.stack.cluster_ips["user-service"], spring.stack.ports["user-service"])
    assert instance["hostName"] == spring.stack.cluster_ips["user-service"]


@pytest.mark.parametrize("gateway", ["gateway-4.3"])
def test_a_gateway_route_reaches_the_client(spring, gateway):
    spring.app("discovery-service")
    client = spring.app("user-service")
    spring.wait_registered("user-service")
    gw = spring.app("apigateway-service", app=gateway)

    def through_gateway():
        status, body = gw.get("/user-service/echo")
        return json.loads(body) if status == 200 else None

    echoed = wait_until(through_gateway, 90, f"{gateway} to route /user-service/echo")
    assert echoed["app"] == "user-service"
    assert echoed["instanceId"] == json.loads(client.get("/echo")[1])["instanceId"]
