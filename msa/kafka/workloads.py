"""What every cp-* workload of the Kafka components shares: the StatefulSet shape (one container as
appuser, per-pod DNS, data on a claim, one pod at a time on update), growing its claims in place, the
security contexts and the checkov exceptions the cp images need."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_kubernetes as k8s

from .. import k8s as kx
from .storage import claim_names

# Label of the Jobs that administer Kafka (NetworkPolicies admit app.kubernetes.io/component=kafka-admin).
ADMIN_COMPONENT = "kafka-admin"
# cp-* images run as appuser (uid/gid 1000); the PVC must be writable by that group.
CP_USER = 1000


def pod_security() -> k8s.core.v1.PodSecurityContextArgs:
    return kx.restricted_pod_security(CP_USER, fs_group=CP_USER)


def container_security() -> k8s.core.v1.SecurityContextArgs:
    # The entrypoint writes the image itself (below): the root filesystem stays writable.
    return kx.restricted_container_security(read_only_root=False)


def cp_checkov_skips(image: kx.PodImage, what: str, writes: Optional[str] = None, extra: Optional[dict[str, str]] = None) -> dict[str, str]:
    """The restricted-profile checks a workload on a cp-* image fails on purpose, and why (checkov.io/skip):
    `writes` says what writes the image's own files (no read-only root filesystem), `extra` adds others.
    The tag-only exceptions apply only with msa:harbor.mirror: off and a configured tag without digest."""
    skips = {"CKV_K8S_40": f"the cp images run as appuser (uid {CP_USER}) which owns the folders their scripts write", **(extra or {})}
    if writes:
        skips["CKV_K8S_22"] = writes
    return kx.checkov_skips({**skips, **image.checkov_skips(what)})


@dataclass(frozen=True)
class KafkaImages:
    """The images of the Kafka components as pods pull them (mirrored into Harbor: images/mirror.py)."""

    kafka: kx.PodImage
    zookeeper: kx.PodImage
    ui: Optional[kx.PodImage] = None


ENTRYPOINT_WRITES = "the cp entrypoint (/etc/confluent/docker/configure) renders its properties into the image's /etc at every start"
TOOLS_WRITE = "the Kafka tools' start script (kafka-run-class) creates its log folder inside the image"


def cp_stateful_set(name: str, namespace: str, component: str, replicas: int, headless: str, image: kx.PodImage, what: str,
                     container: k8s.core.v1.ContainerArgs, claim: k8s.core.v1.PersistentVolumeClaimArgs,
                     termination_grace: int, opts: pulumi.ResourceOptions) -> k8s.apps.v1.StatefulSet:
    """A cp-* StatefulSet: one container as appuser, per-pod DNS through `headless`, data on a claim.

    Drift on volumeClaimTemplates is ignored: pulumi-kubernetes would replace the whole StatefulSet
    (every pod down at once) and existing PVCs would keep their size anyway; `grow_claims` grows them.
    """
    return k8s.apps.v1.StatefulSet(
        name,
        metadata=kx.metadata(name, namespace, component, annotations=cp_checkov_skips(image, what, ENTRYPOINT_WRITES)),
        spec=k8s.apps.v1.StatefulSetSpecArgs(
            replicas=replicas,
            service_name=headless,
            # All members start together: a ZooKeeper ensemble needs its peers to elect a leader, and
            # brokers gain nothing from waiting for each other.
            pod_management_policy="Parallel",
            # Parallel affects scaling only: an update still replaces one pod at a time, the next one
            # only after the previous one is Ready (in sync / a voting member: see the probes).
            update_strategy=k8s.apps.v1.StatefulSetUpdateStrategyArgs(type="RollingUpdate"),
            selector=k8s.meta.v1.LabelSelectorArgs(match_labels=kx.selector_labels(name)),
            template=k8s.core.v1.PodTemplateSpecArgs(
                metadata=k8s.meta.v1.ObjectMetaArgs(labels=kx.labels(name, component)),
                spec=kx.pod_spec(
                    security_context=pod_security(),
                    termination_grace_period_seconds=termination_grace,
                    image_pull_secrets=image.pull_secrets,
                    containers=[container],
                ),
            ),
            volume_claim_templates=[claim],
        ),
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(ignore_changes=["spec.volumeClaimTemplates"])),
    )


def grow_claims(statefulset: k8s.apps.v1.StatefulSet, name: str, namespace: str, replicas: int, storage_class: str,
                size: str, opts: pulumi.ResourceOptions) -> list[k8s.core.v1.PersistentVolumeClaimPatch]:
    """Set each claim's requested size through the API (server-side apply), after the StatefulSet. Needs a
    StorageClass with allowVolumeExpansion to grow; the same size is a no-op.

    A Patch resource is a server-side apply, and an apply of an object that does not exist *creates* it
    (pulumi-kubernetes await.go: Patch resources always apply). The claim need not exist yet: the preview
    of a scale-up (a dry run, nothing was created), an `up` whose StatefulSet was not awaited
    (`pulumi.com/skipAwait`, or pods still starting). A patch of the size alone then fails (`spec.accessModes:
    Required value`). So each patch declares the whole claim the StatefulSet controller would create from
    its template (`claim`: access modes, class, size; the selector labels the controller adds): a missing
    claim is created exactly so, and the controller uses it for the pod; on an existing claim the equal
    fields change nothing (server-side apply shares equal values) and only the size moves.

    retain_on_delete: when a patch goes (brokers 3 -> 1), the provider would hand back its fields, and after
    a growth the patch is the only owner of the size, which the API server refuses to drop
    (`spec.resources[storage]: Required value`). The claim stays, as the StatefulSet leaves it on a scale-down.
    """
    return [
        k8s.core.v1.PersistentVolumeClaimPatch(
            claim,
            metadata=k8s.meta.v1.ObjectMetaPatchArgs(
                name=claim, namespace=namespace, labels=kx.selector_labels(name),
                # The StatefulSet controller created the claim and owns the size: take it over.
                annotations={"pulumi.com/patchForce": "true"},
            ),
            spec=k8s.core.v1.PersistentVolumeClaimSpecPatchArgs(
                access_modes=kx.CLAIM_ACCESS_MODES,
                # "" = the cluster's default class: left out, as in the StatefulSet's template.
                storage_class_name=storage_class or None,
                resources=k8s.core.v1.VolumeResourceRequirementsPatchArgs(requests={"storage": size}),
            ),
            opts=pulumi.ResourceOptions.merge(kx.waiting_for(opts, (statefulset,)), pulumi.ResourceOptions(retain_on_delete=True)),
        )
        for claim in claim_names(name, replicas)
    ]
