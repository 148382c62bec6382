"""NetworkPolicies: deny every ingress in the namespace, then admit exactly the flows the system uses.

    ZooKeeper  <- Kafka brokers, the Kafka admin Jobs (client port); its own peers (quorum ports)
    Kafka      <- brokers, kafka-ui, services with `kafka`, the Kafka admin Jobs, the verification Job
    discovery, config, apps <- the Spring pods and the verification Job
    gateway, any configured NodePort (kafka-ui's too) <- anywhere (NodePort traffic arrives from the
                                                          nodes and the outside world)

`policy_plan` computes the policies (pure: plain data, tested on its own); `NetworkPolicies` creates
them. Only ingress is restricted: egress (DNS, the Kubernetes API for the verification Job, Harbor) is
left open. They need a CNI that enforces NetworkPolicies (Calico, Cilium, ...); flannel alone ignores
them (docs/security.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_kubernetes as k8s

from . import k8s as kx
from .config import StackConfig
from .kafka.cluster import ADMIN_COMPONENT as KAFKA_ADMIN
from .kafka.migration_plan import migration_step
from .names import CONTROLLER_PORT, DEFAULT_DENY, KAFKA_PORT, ZOOKEEPER_CLIENT_PORT, ZOOKEEPER_ELECTION_PORT, ZOOKEEPER_PEER_PORT, KafkaNames
from .verify.job import COMPONENT as VERIFICATION

# Pod labels the policies select on (k8s.labels).
NAME, COMPONENT, PART_OF = "app.kubernetes.io/name", "app.kubernetes.io/component", "app.kubernetes.io/part-of"
SPRING_COMPONENTS = ("discovery", "config", "gateway", "service")   # spring.SpringService labels by role
KAFKA_UI_PORT = 8080


@dataclass(frozen=True)
class Peer:
    """Pods of the namespace selected by labels: `labels` must all match, `key` must be in `values`."""

    labels: tuple[tuple[str, str], ...] = ()
    key: str = ""
    values: tuple[str, ...] = ()


@dataclass(frozen=True)
class Rule:
    ports: tuple[int, ...]
    sources: Optional[tuple[Peer, ...]]     # None: from anywhere


@dataclass(frozen=True)
class Policy:
    name: str
    pod_name: Optional[str]                 # the pods' app.kubernetes.io/name; None: every pod
    rules: tuple[Rule, ...]


def by_name(*names: str) -> Peer:
    return Peer(key=NAME, values=tuple(sorted(names))) if len(names) > 1 else Peer(labels=((NAME, names[0]),))


def by_component(component: str) -> Peer:
    return Peer(labels=((COMPONENT, component), (PART_OF, kx.PART_OF)))


SPRING_PODS = Peer(labels=((PART_OF, kx.PART_OF),), key=COMPONENT, values=SPRING_COMPONENTS)


def _metadata_policies(cfg: StackConfig, names: KafkaNames) -> list[Policy]:
    """Who reaches the metadata quorum: ZooKeeper's ports, or KRaft's controller listener (voters among
    themselves; brokers register and heartbeat there)."""
    step = migration_step(cfg.kafka)
    if step is not None:
        # The migration: dedicated controllers, and ZooKeeper (until finalize) read and written by them too.
        zookeeper = [Policy(names.zookeeper, names.zookeeper, (
            Rule((ZOOKEEPER_CLIENT_PORT,), (by_name(names.kafka, names.controller), by_component(KAFKA_ADMIN))),
            Rule((ZOOKEEPER_CLIENT_PORT, ZOOKEEPER_PEER_PORT, ZOOKEEPER_ELECTION_PORT), (by_name(names.zookeeper),)),
        ))] if step.zookeeper else []
        return [*zookeeper, Policy(names.controller, names.controller, (Rule((CONTROLLER_PORT,), (by_name(names.kafka, names.controller),)),))]
    if cfg.kafka.mode == "zookeeper":
        return [Policy(names.zookeeper, names.zookeeper, (
            Rule((ZOOKEEPER_CLIENT_PORT,), (by_name(names.kafka), by_component(KAFKA_ADMIN))),
            Rule((ZOOKEEPER_CLIENT_PORT, ZOOKEEPER_PEER_PORT, ZOOKEEPER_ELECTION_PORT), (by_name(names.zookeeper),)),
        ))]
    if cfg.kafka.is_combined:
        return [Policy(names.controller, names.kafka, (Rule((CONTROLLER_PORT,), (by_name(names.kafka),)),))]
    return [Policy(names.controller, names.controller, (Rule((CONTROLLER_PORT,), (by_name(names.kafka, names.controller),)),))]


def policy_plan(cfg: StackConfig, names: KafkaNames, node_ports: dict[str, int]) -> list[Policy]:
    """Every NetworkPolicy of the namespace, from the stack config (pure)."""
    verification = (by_component(VERIFICATION),) if cfg.verify.enabled else ()
    kafka_clients = sorted(name for name, svc in cfg.services.items() if svc.kafka is not None)
    policies = [Policy(DEFAULT_DENY, None, ()), *_metadata_policies(cfg, names)]
    policies += [
        # With authentication the SCRAM port, and PLAINTEXT's for the steps of a running cluster's move to it
        # (kafka/broker_auth.py); nothing listens on 9092 once the move is done.
        Policy(names.kafka, names.kafka, (Rule((names.client_port, KAFKA_PORT) if names.sasl else (KAFKA_PORT,), (
            # During the migration the controllers send the ZooKeeper-mode brokers their RPCs (LeaderAndIsr, ...).
            by_name(names.kafka, *((names.controller,) if migration_step(cfg.kafka) else ())),
            *((by_name(names.ui),) if cfg.kafka.ui.enabled else ()),
            *((by_name(*kafka_clients),) if kafka_clients else ()),
            by_component(KAFKA_ADMIN),
            *verification,
        )),)),
    ]
    for name, svc in cfg.services.items():
        if svc.role == "gateway" or name in node_ports:
            rule = Rule((svc.port,), None)        # the entry point, and whatever is published on a NodePort
        else:
            rule = Rule((svc.port,), (SPRING_PODS, *verification))
        policies.append(Policy(name, name, (rule,)))
    if cfg.kafka.ui.enabled and names.ui in node_ports:
        policies.append(Policy(names.ui, names.ui, (Rule((KAFKA_UI_PORT,), None),)))
    return policies


def _selector(peer: Peer) -> k8s.meta.v1.LabelSelectorArgs:
    return k8s.meta.v1.LabelSelectorArgs(
        match_labels=dict(peer.labels) or None,
        match_expressions=[k8s.meta.v1.LabelSelectorRequirementArgs(key=peer.key, operator="In", values=list(peer.values))]
        if peer.key else None,
    )


def network_policies(namespace: str, plan: list[Policy], opts: pulumi.ResourceOptions) -> list[k8s.networking.v1.NetworkPolicy]:
    created = []
    for policy in plan:
        ingress = [
            k8s.networking.v1.NetworkPolicyIngressRuleArgs(
                ports=[k8s.networking.v1.NetworkPolicyPortArgs(port=p, protocol="TCP") for p in rule.ports],
                from_=[k8s.networking.v1.NetworkPolicyPeerArgs(pod_selector=_selector(s)) for s in rule.sources]
                if rule.sources is not None else None,
            )
            for rule in policy.rules
        ]
        created.append(k8s.networking.v1.NetworkPolicy(
            f"netpol-{policy.name}",
            metadata=kx.metadata(policy.name, namespace, "network-policy"),
            spec=k8s.networking.v1.NetworkPolicySpecArgs(
                pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels={NAME: policy.pod_name} if policy.pod_name else None),
                policy_types=["Ingress"],
                ingress=ingress or None,
            ),
            opts=opts,
        ))
    return created
