"""Spring Cloud services: the SpringService component (Deployment + Service) and the config-repo ConfigMap.

What goes into each pod's SPRING_APPLICATION_JSON is computed in settings.py (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_kubernetes as k8s

from .. import k8s as kx
from ..config import Service
from ..kafka.client_auth import SPRING_JAAS_ENV, ClientSecret
from ..names import CONFIG_REPO_MAP
from .settings import CONFIG_REPO_MOUNT, POD_IP, POD_NAME, startup_failure_threshold


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


@dataclass(frozen=True)
class SpringServiceArgs:
    name: str
    namespace: str
    service: Service
    cluster_ip: str
    node_port: Optional[int]
    settings_json: str
    image: pulumi.Input[str]
    # Deployed by digest (built by the stack, or a configured digest); else by tag (checkov exceptions).
    image_pinned: bool = False
    # The pull Secret's generated name (images.harbor_pull_secret).
    pull_secret: Optional[pulumi.Input[str]] = None
    # The config server's files, mounted at CONFIG_REPO_MOUNT (its pods wait for the ConfigMap).
    config_map: Optional[k8s.core.v1.ConfigMap] = None
    # What the pods (not the Service object) must wait for: node setup, pull secret.
    pods_wait_for: tuple[pulumi.Resource, ...] = ()
    # The service's own Kafka user (msa:kafka.authentication: sasl, `kafka: true`): its JAAS line as env.
    kafka_secret: Optional[ClientSecret] = None


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
        # Read-only root filesystem: the JVM writes only /tmp.
        volumes, mounts, pods_wait_for = [kx.TMP_VOLUME], [kx.TMP_MOUNT], list(args.pods_wait_for)
        if args.config_map is not None:
            # The ConfigMap's generated name: new files are a new ConfigMap and a rollout (config_repo_map).
            volumes.append(k8s.core.v1.VolumeArgs(name="config-repo", config_map=k8s.core.v1.ConfigMapVolumeSourceArgs(name=args.config_map.metadata.name)))
            mounts.append(k8s.core.v1.VolumeMountArgs(name="config-repo", mount_path=CONFIG_REPO_MOUNT, read_only=True))
            pods_wait_for.append(args.config_map)
        if args.kafka_secret is not None:
            pods_wait_for.append(args.kafka_secret.secret)
        container = _container(args, mounts)
        # The checks a tag-only image fails on purpose; a digest in the config removes the exceptions.
        skips = {} if args.image_pinned else kx.tag_only_skips(f"the prebuilt {args.name} image", f"msa:services.{args.name}.digest")
        if args.kafka_secret is not None:
            skips = {**skips, **kx.SECRET_ENV_SKIP}
        self.deployment = k8s.apps.v1.Deployment(
            args.name,
            metadata=kx.metadata(args.name, args.namespace, component, annotations=kx.checkov_skips(skips)),
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
                        security_context=kx.restricted_pod_security(svc.run_as_user),
                        containers=[container],
                        volumes=volumes,
                        termination_grace_period_seconds=45,
                        image_pull_secrets=[k8s.core.v1.LocalObjectReferenceArgs(name=args.pull_secret)] if args.pull_secret else None,
                    ),
                ),
            ),
            opts=kx.waiting_for(child, pods_wait_for),
        )
        self.register_outputs({"clusterIP": args.cluster_ip})


def _env(args: SpringServiceArgs) -> list[k8s.core.v1.EnvVarArgs]:
    """The pod's name (and address, where the settings use it) for the kubelet to expand, then the settings;
    with a Kafka user, its JAAS line from its Secret (never part of SPRING_APPLICATION_JSON or the spec)."""
    env = [kx.field_env(POD_NAME, "metadata.name")]
    if '"$(POD_IP)"' in args.settings_json:
        env.append(kx.field_env(POD_IP, "status.podIP"))
    if args.kafka_secret is not None:
        env.append(args.kafka_secret.jaas_env(SPRING_JAAS_ENV))
    return env + kx.env({"SPRING_APPLICATION_JSON": args.settings_json, "JAVA_TOOL_OPTIONS": args.service.java_opts})


def _container(args: SpringServiceArgs, mounts: list[k8s.core.v1.VolumeMountArgs]) -> k8s.core.v1.ContainerArgs:
    svc = args.service
    return k8s.core.v1.ContainerArgs(
        name=args.name,
        image=args.image,
        image_pull_policy=kx.PULL_POLICY,
        ports=[k8s.core.v1.ContainerPortArgs(name="http", container_port=svc.port)],
        env=_env(args),
        startup_probe=kx.http_probe("/actuator/health/liveness", svc.port, period=5, failures=startup_failure_threshold(svc.startup_seconds)),
        liveness_probe=kx.http_probe("/actuator/health/liveness", svc.port, period=10, failures=3),
        readiness_probe=kx.http_probe("/actuator/health/readiness", svc.port, period=5, failures=3),
        resources=kx.resources(svc.resources),
        # Endpoints drop the pod before SIGTERM reaches the JVM, and Eureka gets a moment to deregister.
        lifecycle=k8s.core.v1.LifecycleArgs(pre_stop=k8s.core.v1.LifecycleHandlerArgs(
            exec_=k8s.core.v1.ExecActionArgs(command=["sleep", "5"]))),
        security_context=kx.restricted_container_security(read_only_root=True),
        volume_mounts=mounts,
    )
