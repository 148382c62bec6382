"""Spring Cloud services: their settings (pure) and the SpringService component (Deployment + Service).

All Spring settings of a pod travel in one `SPRING_APPLICATION_JSON`, built from Python data:
`eureka.client.serviceUrl.defaultZone` is a case-sensitive map key that an upper-case env var
silently loses, and gateway route lists do not survive env-var binding (research: Spring relaxed
binding). One carrier also means each key is set in exactly one place.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Optional

import pulumi
import pulumi_kubernetes as k8s

from . import k8s as kx
from .config import Route, Service, Spring, StackConfig

CONFIG_REPO_MOUNT = "/config-repo"
CONFIG_REPO_MAP = "config-repo"
# Variables the kubelet expands inside SPRING_APPLICATION_JSON ($(NAME) syntax); declared before it.
POD_NAME, POD_IP = "POD_NAME", "POD_IP"


@dataclass(frozen=True)
class Directory:
    """Where the shared services live, as in-cluster URLs."""

    discovery_url: str          # Eureka defaultZone
    config_uri: str             # Spring Cloud Config server
    kafka_bootstrap: str        # host:port
    service_domain: str         # "<namespace>.svc.<cluster domain>"

    def fqdn(self, service: str) -> str:
        return f"{service}.{self.service_domain}"


def directory_for(cfg: StackConfig, kafka_bootstrap: str) -> Directory:
    domain = f"{cfg.namespace}.svc.{cfg.cluster.cluster_domain}"
    (discovery,) = cfg.by_role("discovery")
    (config,) = cfg.by_role("config")
    return Directory(
        discovery_url=f"http://{discovery}.{domain}:{cfg.services[discovery].port}/eureka/",
        config_uri=f"http://{config}.{domain}:{cfg.services[config].port}",
        kafka_bootstrap=kafka_bootstrap,
        service_domain=domain,
    )


def eureka_instance(name: str, svc: Service, spring: Spring, cluster_ip: str, directory: Directory) -> dict[str, Any]:
    """What a client registers in Eureka, by `msa:spring.registration` (README: registration modes).

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


def spring_settings(name: str, svc: Service, cfg: StackConfig, cluster_ip: str, directory: Directory) -> dict[str, Any]:
    """The full property tree of one service, before serialisation."""
    spring: dict[str, Any] = {"application": {"name": name}}
    settings: dict[str, Any] = {
        "spring": spring,
        "server": {"port": svc.port, "shutdown": "graceful"},
        "management": {
            "endpoint": {"health": {"probes": {"enabled": True}}},
            "endpoints": {"web": {"exposure": {"include": "health,info"}}},
        },
        "eureka": {
            "client": {"serviceUrl": {"defaultZone": directory.discovery_url}},
            "instance": eureka_instance(name, svc, cfg.spring, cluster_ip, directory),
        },
    }
    if svc.role == "discovery":
        # Standalone server: it neither registers with nor fetches from a peer.
        settings["eureka"]["client"].update({"registerWithEureka": False, "fetchRegistry": False})
        settings["eureka"]["server"] = {
            # Self-preservation exists for large fleets; with a handful of instances one restart trips
            # it and stale entries are then never evicted (Netflix/eureka#722).
            "enableSelfPreservation": cfg.spring.self_preservation,
            "evictionIntervalTimerInMs": cfg.spring.eviction_interval_ms,
        }
    if svc.role == "config":
        spring["profiles"] = {"active": "native"}
        spring["cloud"] = {"config": {"server": {"native": {"searchLocations": f"file:{CONFIG_REPO_MOUNT}/"}}}}
    else:
        # Clients import the config server with `spring.config.import: optional:configserver:` in their
        # own application.yml; the URI is the stack's to set (an env import would be *added* to theirs).
        spring.setdefault("cloud", {})["config"] = {"uri": directory.config_uri}
    if svc.role == "gateway":
        routes = gateway_routes(svc.routes)
        gateway = spring.setdefault("cloud", {}).setdefault("gateway", {})
        if cfg.spring.gateway_version == "4.2":
            gateway["routes"] = routes
        else:
            gateway["server"] = {"webflux": {"routes": routes}}
    if svc.kafka:
        spring["kafka"] = {
            "bootstrap-servers": directory.kafka_bootstrap,
            # Unique per pod, or two replicas fence each other's transactions (spring-kafka docs).
            "producer": {"transaction-id-prefix": f"{name}-$({POD_NAME})-"},
        }
    return settings


def spring_application_json(settings: dict[str, Any]) -> str:
    """Serialise for SPRING_APPLICATION_JSON. The kubelet expands `$(VAR)` in env values, so every
    `$(` is escaped as `$$(` except the downward-API references the stack puts there itself."""
    text = json.dumps(settings, sort_keys=True, separators=(",", ":"))
    text = text.replace("$(", "$$(")
    for var in (POD_NAME, POD_IP):
        text = text.replace(f"$$({var})", f"$({var})")
    return text


def config_repo_map(namespace: str, files: dict[str, str], opts: pulumi.ResourceOptions) -> k8s.core.v1.ConfigMap:
    """The files the config server serves: auto-named (`config-repo-<random>`) and immutable.

    pulumi-kubernetes replaces a ConfigMap on any data change (diff.go forceNew, unless the provider
    sets enableConfigMapMutable), and a *fixed* name makes that replacement delete-first: for a moment
    the config server's pods would point at a ConfigMap that does not exist. Auto-named, the new
    ConfigMap is created first, the config server's Deployment rolls to its name (maxUnavailable 0),
    and only then is the old one deleted. The price: a config-repo change restarts the config server.
    """
    return k8s.core.v1.ConfigMap(
        CONFIG_REPO_MAP,
        metadata=kx.metadata(CONFIG_REPO_MAP, namespace, "config", autonamed=True),
        data=files,
        immutable=True,
        opts=opts,
    )


def startup_failure_threshold(startup_seconds: int, period: int = 5) -> int:
    return math.ceil(startup_seconds / period)


@dataclass(frozen=True)
class SpringServiceArgs:
    name: str
    namespace: str
    service: Service
    cluster_ip: str
    node_port: Optional[int]
    settings_json: str
    image: pulumi.Input[str]
    # The pull Secret's generated name (images.harbor_pull_secret).
    pull_secret: Optional[pulumi.Input[str]] = None
    # The config server's files, mounted at CONFIG_REPO_MOUNT (its pods wait for the ConfigMap).
    config_map: Optional[k8s.core.v1.ConfigMap] = None
    # What the pods (not the Service object) must wait for: node setup, pull secret.
    pods_wait_for: tuple[pulumi.Resource, ...] = ()


class SpringService(pulumi.ComponentResource):
    """One Spring Boot service: a Deployment and a Service whose name is the Eureka app name."""

    def __init__(self, name: str, args: SpringServiceArgs, opts: Optional[pulumi.ResourceOptions] = None):
        svc = args.service
        super().__init__("msa:spring:SpringService", name, {"role": svc.role, "clusterIP": args.cluster_ip}, opts)
        child = kx.child_options(self, opts)
        component = {"app": "service"}.get(svc.role, svc.role)
        self.service = kx.cluster_ip_service(
            args.name, args.namespace, component, args.cluster_ip,
            [kx.port("http", svc.port, args.node_port)], args.name, child,
        )
        env = [kx.field_env(POD_NAME, "metadata.name")]
        if '"$(POD_IP)"' in args.settings_json:
            env.append(kx.field_env(POD_IP, "status.podIP"))
        env += kx.env({"SPRING_APPLICATION_JSON": args.settings_json, "JAVA_TOOL_OPTIONS": svc.java_opts})
        volumes, mounts, pods_wait_for = [], [], list(args.pods_wait_for)
        if args.config_map is not None:
            # The ConfigMap's generated name: new files are a new ConfigMap and a rollout (config_repo_map).
            volumes.append(k8s.core.v1.VolumeArgs(name="config-repo", config_map=k8s.core.v1.ConfigMapVolumeSourceArgs(name=args.config_map.metadata.name)))
            mounts.append(k8s.core.v1.VolumeMountArgs(name="config-repo", mount_path=CONFIG_REPO_MOUNT, read_only=True))
            pods_wait_for.append(args.config_map)
        container = k8s.core.v1.ContainerArgs(
            name=args.name,
            image=args.image,
            image_pull_policy="IfNotPresent",
            ports=[k8s.core.v1.ContainerPortArgs(name="http", container_port=svc.port)],
            env=env,
            startup_probe=kx.http_probe("/actuator/health/liveness", svc.port, period=5, failures=startup_failure_threshold(svc.startup_seconds)),
            liveness_probe=kx.http_probe("/actuator/health/liveness", svc.port, period=10, failures=3),
            readiness_probe=kx.http_probe("/actuator/health/readiness", svc.port, period=5, failures=3),
            resources=kx.resources(svc.resources),
            # Endpoints drop the pod before SIGTERM reaches the JVM, and Eureka gets a moment to deregister.
            lifecycle=k8s.core.v1.LifecycleArgs(pre_stop=k8s.core.v1.LifecycleHandlerArgs(
                exec_=k8s.core.v1.ExecActionArgs(command=["sleep", "5"]))),
            security_context=k8s.core.v1.SecurityContextArgs(allow_privilege_escalation=False),
            volume_mounts=mounts or None,
        )
        self.deployment = k8s.apps.v1.Deployment(
            args.name,
            metadata=kx.metadata(args.name, args.namespace, component),
            spec=k8s.apps.v1.DeploymentSpecArgs(
                replicas=svc.replicas,
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=kx.selector_labels(args.name)),
                # Never below the desired count during a rollout: a new pod must be ready first.
                strategy=k8s.apps.v1.DeploymentStrategyArgs(
                    type="RollingUpdate",
                    rolling_update=k8s.apps.v1.RollingUpdateDeploymentArgs(max_unavailable=0, max_surge=1),
                ),
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(labels=kx.labels(args.name, component)),
                    spec=kx.pod_spec(
                        containers=[container],
                        volumes=volumes or None,
                        termination_grace_period_seconds=45,
                        image_pull_secrets=[k8s.core.v1.LocalObjectReferenceArgs(name=args.pull_secret)] if args.pull_secret else None,
                    ),
                ),
            ),
            opts=kx.waiting_for(child, pods_wait_for),
        )
        self.register_outputs({"clusterIP": args.cluster_ip})
