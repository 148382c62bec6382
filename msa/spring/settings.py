"""Spring Cloud settings of every service (pure: no Pulumi), the one place each Spring fix lives.

All Spring settings of a pod travel in one `SPRING_APPLICATION_JSON`, built from Python data:
`eureka.client.serviceUrl.defaultZone` is a case-sensitive map key that an upper-case env var
silently loses, and gateway route lists do not survive env-var binding (research: Spring relaxed
binding). One carrier also means each key is set in exactly one place.

The settings work for Spring Boot 3.2-4.0 / Spring Cloud 2023.0-2025.1 (Gateway 4.1-5.0) without
knowing which one an image has; tests/integration/test_spring_apps.py runs them in real apps of the
oldest and the newest line.
"""

from __future__ import annotations

import copy
import json
import math
from dataclasses import dataclass
from typing import Any

from ..config import Route, Service, Spring, StackConfig
from ..kafka.client_auth import security_protocol
from ..kafka.credentials import SCRAM_MECHANISM
from ..kafka.tls_settings import truststore_inline_properties

CONFIG_REPO_MOUNT = "/config-repo"
# Variables the kubelet expands inside SPRING_APPLICATION_JSON ($(NAME) syntax); declared before it.
POD_NAME, POD_IP = "POD_NAME", "POD_IP"


@dataclass(frozen=True)
class Directory:
    """Where the shared services live, as in-cluster URLs."""

    discovery_url: str          # Eureka defaultZone
    config_uri: str             # Spring Cloud Config server
    kafka_bootstrap: str        # host:port
    service_domain: str         # "<namespace>.svc.<cluster domain>"
    kafka_ca: str = ""          # msa:kafka.tls: the CA certificate (public) the Kafka clients trust

    def fqdn(self, service: str) -> str:
        return f"{service}.{self.service_domain}"


def directory_for(cfg: StackConfig, kafka_bootstrap: str, kafka_ca: str = "") -> Directory:
    domain = f"{cfg.namespace}.svc.{cfg.cluster.cluster_domain}"
    (discovery,) = cfg.by_role("discovery")
    (config,) = cfg.by_role("config")
    return Directory(
        discovery_url=f"http://{discovery}.{domain}:{cfg.services[discovery].port}/eureka/",
        config_uri=f"http://{config}.{domain}:{cfg.services[config].port}",
        kafka_bootstrap=kafka_bootstrap,
        service_domain=domain,
        kafka_ca=kafka_ca if cfg.kafka.tls else "",
    )


def eureka_instance(name: str, svc: Service, spring: Spring, cluster_ip: str, directory: Directory) -> dict[str, Any]:
    """What a client registers in Eureka, by `msa:spring.registration` (docs/spring.md: registration modes).

    clusterIP (default): the Service's fixed ClusterIP. kube-proxy only routes to ready pods, so a
    dead pod's stale registration still reaches a live one; pod host names never leak into Eureka.
    """
    if spring.registration == "clusterIP":
        return {"preferIpAddress": True, "ipAddress": cluster_ip, "nonSecurePort": svc.port}
    if spring.registration == "serviceDns":
        return {"preferIpAddress": False, "hostname": directory.fqdn(name), "nonSecurePort": svc.port}
    return {"preferIpAddress": True, "ipAddress": f"$({POD_IP})", "nonSecurePort": svc.port}


def gateway_routes(routes: list[Route]) -> list[dict[str, Any]]:
    out = []
    for route in routes:
        entry: dict[str, Any] = {
            "id": route.service,
            "uri": f"lb://{route.service}",
            "predicates": [f"Path={route.path}"],
        }
        if route.strip_prefix:
            entry["filters"] = [f"StripPrefix={route.strip_prefix}"]
        out.append(entry)
    return out


# Gateway's HTTP client pool towards the services. Every replica of a service registers the same
# ClusterIP, so without limits a pooled keep-alive connection stays pinned to one pod, terminating
# ones included ("Connection prematurely closed" during rollouts): idle connections go before any
# backend's keep-alive timeout (Tomcat, Netty: 20 s and more), and every connection is re-opened
# (and so re-balanced by kube-proxy) within a minute.
GATEWAY_POOL = {"maxIdleTime": "10s", "maxLifeTime": "60s"}


def gateway_settings(routes: list[Route]) -> dict[str, Any]:
    """`spring.cloud.gateway`, readable by every Gateway line without knowing which one the image has:
    4.1/4.2 (Spring Cloud 2023.0/2024.0) bind `spring.cloud.gateway.*`, 4.3/5.0 (2025.0/2025.1) bind
    `spring.cloud.gateway.server.webflux.*` and read the old keys only through the properties migrator.
    Each line ignores the other's keys."""
    keys = {"routes": gateway_routes(routes), "httpclient": {"pool": dict(GATEWAY_POOL)}}
    return {**keys, "server": {"webflux": copy.deepcopy(keys)}}


# Config client retry (spring-cloud-config ConfigClientRetryBootstrapper): with `fail-fast` an app
# retries when spring-retry is on its classpath, and exits (the kubelet restarts it) when it is not
# or the attempts run out; without `fail-fast` an app that starts before the config server runs on
# without its config-repo settings until someone restarts it. Backing off from 1 s to 5 s for about
# half the startup budget, so the app still starts within the startup probe's patience.
CONFIG_RETRY = {"initialInterval": 1000, "multiplier": 1.5, "maxInterval": 5000}


def config_retry_attempts(startup_seconds: int) -> int:
    """Attempts whose back-off delays add up to about half of `startup_seconds` (at least Spring's 6)."""
    attempts, waited, delay = 1, 0, CONFIG_RETRY["initialInterval"]
    while waited + delay <= startup_seconds * 1000 // 2:
        waited += delay
        attempts += 1
        delay = min(delay * CONFIG_RETRY["multiplier"], CONFIG_RETRY["maxInterval"])
    return max(6, attempts)


def config_client(directory: Directory, startup_seconds: int) -> dict[str, Any]:
    return {
        # Apps whose own application.yml imports `optional:configserver:` (no URL) resolve it with this.
        "uri": directory.config_uri,
        "failFast": True,
        "retry": {**CONFIG_RETRY, "maxAttempts": config_retry_attempts(startup_seconds)},
    }


def spring_settings(name: str, svc: Service, cfg: StackConfig, cluster_ip: str, directory: Directory) -> dict[str, Any]:
    """The full property tree of one service, before serialisation.

    Only what the stack must decide is pinned here: SPRING_APPLICATION_JSON outranks everything but
    command-line arguments, config-repo included. What users tune (actuator exposure, logging, ...)
    belongs in config-repo/application.yml, where a service's own <name>.yml can override it."""
    spring: dict[str, Any] = {"application": {"name": name}}
    settings: dict[str, Any] = {
        "spring": spring,
        "server": {"port": svc.port, "shutdown": "graceful"},
        # The probes' endpoints; /actuator/health is exposed by default in every Boot 3.x/4.x.
        "management": {"endpoint": {"health": {"probes": {"enabled": True}}}},
        "eureka": {
            "client": {"serviceUrl": {"defaultZone": directory.discovery_url}},
            "instance": {
                **eureka_instance(name, svc, cfg.spring, cluster_ip, directory),
                # One id per pod: every replica registers the same address and port (clusterIP mode).
                "instanceId": f"{name}:$({POD_NAME})",
            },
        },
    }
    if svc.role == "discovery":
        # Standalone server: it neither registers with nor fetches from a peer, and knows the one
        # defaultZone URL as its own (else it replicates to itself through its Service).
        settings["eureka"]["client"].update({"registerWithEureka": False, "fetchRegistry": False})
        settings["eureka"]["server"] = {
            "myUrl": directory.discovery_url,
            # Self-preservation exists for large fleets; with a handful of instances one restart trips
            # it and stale entries are then never evicted (Netflix/eureka#722).
            "enableSelfPreservation": cfg.spring.self_preservation,
            "evictionIntervalTimerInMs": cfg.spring.eviction_interval_ms,
            # A registration is visible at once instead of after the read-only cache's 30 s refresh.
            "useReadOnlyResponseCache": False,
        }
    if svc.role == "config":
        spring["profiles"] = {"active": "native"}
        spring["cloud"] = {"config": {"server": {"native": {"searchLocations": f"file:{CONFIG_REPO_MOUNT}/"}}}}
    elif svc.role != "discovery":
        # The import itself, so an app needs none in its own yml (`optional:` makes it a no-op where the
        # app has no config client); an import in the app's yml is *added* to this one, not replaced.
        spring["config"] = {"import": f"optional:configserver:{directory.config_uri}"}
        spring["cloud"] = {"config": config_client(directory, svc.startup_seconds)}
    if svc.role == "gateway":
        spring.setdefault("cloud", {})["gateway"] = gateway_settings(svc.routes)
    if svc.kafka:
        spring["kafka"] = {"bootstrap-servers": directory.kafka_bootstrap}
        if svc.kafka_transactional:
            # Unique per pod, or two replicas fence each other's transactions (spring-kafka docs).
            spring["kafka"]["producer"] = {"transaction-id-prefix": f"{name}-$({POD_NAME})-"}
        spring["kafka"].update(kafka_login(cfg, directory.kafka_ca))
    return settings


def kafka_login(cfg: StackConfig, ca_certificate: str = "") -> dict[str, Any]:
    """`spring.kafka.*` for msa:kafka.authentication: sasl, without the secret part. The JAAS line (user
    and password) comes from the pod's env, bound from its Secret (client_auth.SPRING_JAAS_ENV): Boot merges
    `spring.kafka.properties` from every property source, and no key here may shadow it (SPRING_APPLICATION_JSON
    outranks OS environment variables). With msa:kafka.tls the CA certificate (public) is the truststore, inline."""
    protocol = security_protocol(cfg.kafka)
    if not protocol:
        return {}
    trust = truststore_inline_properties(ca_certificate) if cfg.kafka.tls else {}
    return {"security": {"protocol": protocol}, "properties": {"sasl.mechanism": SCRAM_MECHANISM, **trust}}


def spring_application_json(settings: dict[str, Any]) -> str:
    """Serialise for SPRING_APPLICATION_JSON. The kubelet expands `$(VAR)` in env values, so every
    `$(` is escaped as `$$(` except the downward-API references the stack puts there itself."""
    text = json.dumps(settings, sort_keys=True, separators=(",", ":"))
    text = text.replace("$(", "$$(")
    for var in (POD_NAME, POD_IP):
        text = text.replace(f"$$({var})", f"$({var})")
    return text


def startup_failure_threshold(startup_seconds: int, period: int = 5) -> int:
    return math.ceil(startup_seconds / period)
