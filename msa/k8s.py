"""Small pure builders for Kubernetes pieces every workload of the stack shares.

One fact in one place: the label set, the resource block, the pod defaults
(`enableServiceLinks: false` everywhere) and the Service shapes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import pulumi
import pulumi_kubernetes as k8s

from .config import Resources

PART_OF = "msa"


def child_options(parent: pulumi.Resource, opts: Optional[pulumi.ResourceOptions]) -> pulumi.ResourceOptions:
    """Options for a component's children: parented to it and waiting for what the component waits for
    (Pulumi does not pass a component's depends_on down to its children by itself)."""
    return pulumi.ResourceOptions(parent=parent, depends_on=(opts.depends_on if opts else None))


def waiting_for(opts: pulumi.ResourceOptions, resources: Sequence[pulumi.Resource]) -> pulumi.ResourceOptions:
    """`opts` plus explicit dependencies on `resources` (for one child that needs more than its siblings)."""
    return pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=list(resources)))


def labels(name: str, component: str) -> dict[str, str]:
    """The recommended app.kubernetes.io label set; `selector_labels` is its immutable subset."""
    return {
        **selector_labels(name),
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/part-of": PART_OF,
        "app.kubernetes.io/managed-by": "pulumi",
    }


def selector_labels(name: str) -> dict[str, str]:
    # Deployment/StatefulSet selectors are immutable; keep them to labels that never change.
    return {"app.kubernetes.io/name": name, "app.kubernetes.io/instance": name}


def resources(r: Resources) -> k8s.core.v1.ResourceRequirementsArgs:
    return k8s.core.v1.ResourceRequirementsArgs(
        requests={"cpu": r.cpu, "memory": r.memory},
        limits={"cpu": r.cpu_limit, "memory": r.memory_limit},
    )


def field_env(name: str, field_path: str) -> k8s.core.v1.EnvVarArgs:
    """An env var from the downward API (e.g. the pod's own name)."""
    return k8s.core.v1.EnvVarArgs(
        name=name,
        value_from=k8s.core.v1.EnvVarSourceArgs(field_ref=k8s.core.v1.ObjectFieldSelectorArgs(field_path=field_path)),
    )


def env(values: dict[str, str]) -> list[k8s.core.v1.EnvVarArgs]:
    return [k8s.core.v1.EnvVarArgs(name=k, value=v) for k, v in values.items()]


# Server-side apply conflicts: the stack owns every field it declares (and only those: SSA sends
# nothing else), so it takes them back from whoever changed them since (`kubectl scale`, `kubectl
# edit`) instead of failing `up` with "conflict with kubectl". pulumi-kubernetes reads this annotation
# per object on create and update (await.go patchForce); fields the stack does not declare keep their
# owners. Change a declared value in the stack config, not in the cluster.
FORCE_APPLY = {"pulumi.com/patchForce": "true"}
SKIP_AWAIT = {"pulumi.com/skipAwait": "true"}


def metadata(name: str, namespace: Optional[str], component: str, annotations: Optional[dict] = None,
             autonamed: bool = False) -> k8s.meta.v1.ObjectMetaArgs:
    """An explicit name switches off Pulumi auto-naming: clients find these objects by name.
    `autonamed` objects (ConfigMaps, Secrets) get `<name>-<random>` from the provider instead, so a new
    content is a new object that exists before its consumers switch to it (see spring.config_repo_map)."""
    return k8s.meta.v1.ObjectMetaArgs(
        name=None if autonamed else name, namespace=namespace, labels=labels(name, component),
        annotations={**FORCE_APPLY, **(annotations or {})},
    )


def pod_spec(**kwargs) -> k8s.core.v1.PodSpecArgs:
    """A PodSpec with the stack-wide defaults.

    enableServiceLinks is off because Kubernetes would inject `<SERVICE>_PORT=tcp://...` for every
    Service in the namespace: a Service named `kafka` makes cp-kafka refuse to start (KAFKA_PORT),
    and Spring binds such variables to properties.
    No pod gets a ServiceAccount token unless it says so (`automount_service_account_token=True`):
    none of the workloads talks to the API server, and a token in a pod is a credential to steal.
    """
    kwargs.setdefault("automount_service_account_token", False)
    return k8s.core.v1.PodSpecArgs(enable_service_links=False, **kwargs)


# --- hardened pods (Pod Security "restricted" where the image allows it) ---------------------------

def restricted_pod_security(uid: int, fs_group: Optional[int] = None) -> k8s.core.v1.PodSecurityContextArgs:
    """Non-root by number (the kubelet can only verify runAsNonRoot against a numeric uid), group = uid,
    the runtime's default seccomp profile."""
    return k8s.core.v1.PodSecurityContextArgs(
        run_as_non_root=True, run_as_user=uid, run_as_group=uid, fs_group=fs_group,
        seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
    )


def restricted_container_security(read_only_root: bool = True) -> k8s.core.v1.SecurityContextArgs:
    """No privilege escalation, no capabilities; a read-only root filesystem with a writable /tmp
    (`TMP_VOLUME`) for images that write nowhere else."""
    return k8s.core.v1.SecurityContextArgs(
        allow_privilege_escalation=False, read_only_root_filesystem=read_only_root,
        capabilities=k8s.core.v1.CapabilitiesArgs(drop=["ALL"]),
    )


# The JVM writes /tmp (hsperfdata, Tomcat/Netty work files); everything else stays read-only.
TMP_VOLUME = k8s.core.v1.VolumeArgs(name="tmp", empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs())
TMP_MOUNT = k8s.core.v1.VolumeMountArgs(name="tmp", mount_path="/tmp")


def checkov_skips(reasons: dict[str, str]) -> dict[str, str]:
    """`checkov.io/skip<N>: <check>=<reason>` annotations: the checks an object fails on purpose, each
    with why (the reason may not contain `=`, checkov splits on it)."""
    for check, reason in reasons.items():
        if "=" in reason:
            raise ValueError(f"checkov skip reason for {check} contains '=': {reason}")
    return {f"checkov.io/skip{i}": f"{check}={reason}" for i, (check, reason) in enumerate(sorted(reasons.items()), 1)}


# A Kafka login line (sasl.jaas.config) is a setting that Spring's relaxed binding and cp-kafka's templates
# read from the environment only; it comes from the client's own Secret by secretKeyRef, never a literal.
SECRET_ENV_SKIP = {"CKV_K8S_35": "the Kafka login line reaches Spring and cp-kafka only as env; it comes from the pod's own Secret by secretKeyRef"}


def has_digest(image: str) -> bool:
    return "@sha256:" in image


# Every image is pulled IfNotPresent: a pod restart must not depend on the registry (a plain-HTTP
# Harbor on the private network, Docker Hub's rate limits). Pin a digest so that is also exact; a
# tag-only image fails checkov's CKV_K8S_15 and CKV_K8S_43, and says so (TAG_ONLY_SKIPS).
PULL_POLICY = "IfNotPresent"


def tag_only_skips(image: str, pin_with: str) -> dict[str, str]:
    """The checkov exceptions of an image given by tag only, each naming the key that removes it."""
    if has_digest(image):
        return {}
    return {
        "CKV_K8S_43": f"{image} is given by tag; pin it with {pin_with} (image@sha256:...)",
        "CKV_K8S_15": f"IfNotPresent so that restarts never depend on the registry; a digest in {pin_with} makes that exact",
    }


@dataclass(frozen=True)
class PodImage:
    """An image as pods pull it: the reference (an Output when a copy or push decides the digest),
    whether it is pinned by digest, the config key that pins it, and Harbor's pull Secret if it
    comes from Harbor."""

    ref: pulumi.Input[str]
    pinned: bool
    pin_with: str
    pull_secret: Optional[pulumi.Input[str]] = None

    def checkov_skips(self, what: str) -> dict[str, str]:
        """The tag-only exceptions (none once pinned: a mirrored image always is)."""
        return {} if self.pinned else tag_only_skips(what, self.pin_with)

    @property
    def pull_secrets(self) -> Optional[list[k8s.core.v1.LocalObjectReferenceArgs]]:
        return [k8s.core.v1.LocalObjectReferenceArgs(name=self.pull_secret)] if self.pull_secret is not None else None


def cluster_ip_service(
    name: str,
    namespace: str,
    component: str,
    cluster_ip: str,
    ports: Sequence[k8s.core.v1.ServicePortArgs],
    selector_name: str,
    opts: pulumi.ResourceOptions,
) -> k8s.core.v1.Service:
    """A Service with a fixed address; of type NodePort when a port names a nodePort.

    delete_before_replace: a new ClusterIP (or any other replacement) must free the old object first,
    or the API server rejects the new one with "provided IP is already allocated".
    """
    node_port = any(p.node_port is not None for p in ports)
    return k8s.core.v1.Service(
        name,
        metadata=metadata(name, namespace, component),
        spec=k8s.core.v1.ServiceSpecArgs(
            type="NodePort" if node_port else "ClusterIP",
            cluster_ip=cluster_ip,
            selector=selector_labels(selector_name),
            ports=list(ports),
        ),
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(delete_before_replace=True)),
    )


def headless_service(
    name: str, namespace: str, component: str, ports: Sequence[k8s.core.v1.ServicePortArgs], selector_name: str,
    opts: pulumi.ResourceOptions,
) -> k8s.core.v1.Service:
    """Per-pod DNS for a StatefulSet; not-ready pods are published so peers can find each other at start.

    `pulumi.com/skipAwait`: pulumi-kubernetes waits for nothing on a headless Service anyway (no endpoints,
    no address), but its awaiter hands back the first copy of the object its informer has, which can predate
    the update it just applied; that stale copy became the recorded state, and the next `up` showed the
    Service as an update again (its ports, after the open -> sasl move; seen in the engine tests). Without
    the awaiter, the state is the apply's own answer."""
    return k8s.core.v1.Service(
        name,
        metadata=metadata(name, namespace, component, annotations=SKIP_AWAIT),
        spec=k8s.core.v1.ServiceSpecArgs(
            cluster_ip="None",
            publish_not_ready_addresses=True,
            selector=selector_labels(selector_name),
            ports=list(ports),
        ),
        opts=opts,
    )


def port(name: str, number: int, node_port: Optional[int] = None) -> k8s.core.v1.ServicePortArgs:
    return k8s.core.v1.ServicePortArgs(name=name, port=number, target_port=number, protocol="TCP", node_port=node_port)


def pod_disruption_budget(name: str, namespace: str, component: str, selector_name: str, opts: pulumi.ResourceOptions):
    """At most one member down during voluntary disruptions (node drains) keeps quorum / min ISR."""
    return k8s.policy.v1.PodDisruptionBudget(
        name,
        metadata=metadata(name, namespace, component),
        spec=k8s.policy.v1.PodDisruptionBudgetSpecArgs(
            max_unavailable=1,
            selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector_labels(selector_name)),
        ),
        opts=opts,
    )


def tcp_probe(port_number: int, period: int, failures: int, initial_delay: int = 0) -> k8s.core.v1.ProbeArgs:
    return k8s.core.v1.ProbeArgs(
        tcp_socket=k8s.core.v1.TCPSocketActionArgs(port=port_number),
        period_seconds=period,
        failure_threshold=failures,
        initial_delay_seconds=initial_delay,
        timeout_seconds=5,
    )


def exec_probe(command: list[str], period: int, failures: int) -> k8s.core.v1.ProbeArgs:
    return k8s.core.v1.ProbeArgs(
        exec_=k8s.core.v1.ExecActionArgs(command=command),
        period_seconds=period,
        failure_threshold=failures,
        timeout_seconds=5,
    )


def http_probe(path: str, port_number: int, period: int, failures: int) -> k8s.core.v1.ProbeArgs:
    return k8s.core.v1.ProbeArgs(
        http_get=k8s.core.v1.HTTPGetActionArgs(path=path, port=port_number),
        period_seconds=period,
        failure_threshold=failures,
        timeout_seconds=3,
    )


# One pod per volume: the access mode of every data claim (StatefulSet templates and the claim patches).
CLAIM_ACCESS_MODES = ["ReadWriteOnce"]


def data_claim(name: str, storage_class: str, size: str) -> k8s.core.v1.PersistentVolumeClaimArgs:
    return k8s.core.v1.PersistentVolumeClaimArgs(
        metadata=k8s.meta.v1.ObjectMetaArgs(name=name),
        spec=k8s.core.v1.PersistentVolumeClaimSpecArgs(
            access_modes=CLAIM_ACCESS_MODES,
            # "" means the cluster's default StorageClass: leave the field out rather than send "".
            storage_class_name=storage_class or None,
            resources=k8s.core.v1.VolumeResourceRequirementsArgs(requests={"storage": size}),
        ),
    )


# How long `pulumi up` waits for a replaced Job to be gone before it creates the new one. A Job's pods stop
# within their 30 s grace period. pulumi-kubernetes' delete awaiter can miss the deletion event and then
# sits out its whole timeout (10 min by default) before it looks again and goes on (pulumi-kubernetes
# #3317, seen here in the engine tests): a short timeout bounds that stall. A Job that is really not gone
# by then fails the `up`, and the next `up` deletes it again.
JOB_DELETE_TIMEOUT = "2m"


def job_timeouts(await_for: str) -> pulumi.CustomTimeouts:
    """A Job's timeouts: `await_for` to run (create/update), `JOB_DELETE_TIMEOUT` to be deleted."""
    return pulumi.CustomTimeouts(create=await_for, update=await_for, delete=JOB_DELETE_TIMEOUT)


def _token(service_account: Optional[str]) -> dict:
    """A pod's ServiceAccount and its mounted token, for the few pods that talk to the API server."""
    return {"service_account_name": service_account, "automount_service_account_token": True} if service_account else {}


def script_job(
    name: str, namespace: str, component: str, image: pulumi.Input[str], script: str, env_values: dict[str, str],
    opts: pulumi.ResourceOptions, timeout_seconds: int,
    inputs_hash: Optional[str] = None,
    security_context: Optional[k8s.core.v1.PodSecurityContextArgs] = None,
    annotations: Optional[dict[str, str]] = None,
    pull_secrets: Optional[Sequence[k8s.core.v1.LocalObjectReferenceArgs]] = None,
    volumes: Sequence[tuple[k8s.core.v1.VolumeArgs, k8s.core.v1.VolumeMountArgs]] = (), service_account: Optional[str] = None,
) -> k8s.batch.v1.Job:
    """A Job that runs `script` once with bash in `image`; `pulumi up` waits for it and fails with it.

    Day-two pattern: everything that decides the Job's work is in its spec (the script text, the env,
    and `inputs_hash` for inputs too large for env), so Pulumi replaces the Job, and so runs it again,
    exactly when one of them changes. A failed pod is not retried (backoffLimit 0): the script's one-line
    reason is its termination message; `pulumi.com/replaceUnready`: the next `pulumi up` runs a failed Job
    again. `volumes`: (volume, mount) besides /tmp. `service_account`: see `_token`."""
    pod_annotations = {"msa/inputs-sha256": inputs_hash} if inputs_hash else None
    return k8s.batch.v1.Job(
        name,
        metadata=metadata(name, namespace, component, annotations={"pulumi.com/replaceUnready": "true", **(annotations or {})}),
        spec=k8s.batch.v1.JobSpecArgs(
            backoff_limit=0,
            active_deadline_seconds=timeout_seconds + 300,
            template=k8s.core.v1.PodTemplateSpecArgs(
                metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels(name, component), annotations=pod_annotations),
                spec=pod_spec(
                    restart_policy="Never",
                    security_context=security_context,
                    **_token(service_account),
                    image_pull_secrets=pull_secrets,
                    containers=[k8s.core.v1.ContainerArgs(
                        name=name,
                        image=image,
                        image_pull_policy=PULL_POLICY,
                        command=["bash", "-c", script],
                        env=env(env_values),
                        termination_message_policy="FallbackToLogsOnError",
                        resources=k8s.core.v1.ResourceRequirementsArgs(
                            requests={"cpu": "100m", "memory": "384Mi"}, limits={"cpu": "1", "memory": "512Mi"},
                        ),
                        security_context=k8s.core.v1.SecurityContextArgs(
                            allow_privilege_escalation=False, capabilities=k8s.core.v1.CapabilitiesArgs(drop=["ALL"]),
                        ),
                        volume_mounts=[k8s.core.v1.VolumeMountArgs(name="tmp", mount_path="/tmp"), *(m for _, m in volumes)],
                    )],
                    volumes=[k8s.core.v1.VolumeArgs(name="tmp", empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs()), *(v for v, _ in volumes)],
                ),
            ),
        ),
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(
            # A fixed name: the old Job must go before its replacement can be created.
            delete_before_replace=True,
            custom_timeouts=job_timeouts(f"{timeout_seconds + 600}s"),
        )),
    )
