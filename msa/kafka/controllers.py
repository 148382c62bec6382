"""KRaft's dedicated controllers (`msa:kafka.combined: false`): a StatefulSet of cp-kafka pods with
`process.roles=controller`, a headless Service for their per-pod DNS (the voters' addresses), and a
disruption budget from 3. Their env is kraft.py's `controller_env`; CLUSTER_ID comes from the
KafkaClusterId resource, so every controller formats its storage with the stack's one id.

Ready = a voter of a quorum with a leader, caught up with its log (kafka_ready.py asks the voters'
DescribeQuorum): a roll moves to the next controller only then, so the quorum never loses two voters.
"""

from __future__ import annotations

from typing import Optional

import pulumi
import pulumi_kubernetes as k8s

from .. import k8s as kx
from ..config import Kafka as KafkaConfig
from ..names import CONTROLLER_ID_BASE, CONTROLLER_PORT, KafkaNames
from .jobs import kafka_ready_script
from .cluster import KafkaImages, _container_security, _cp_stateful_set, grow_claims
from .kraft import DATA_MOUNT, controller_env, controller_start, pod_env
from .kraft_auth import KraftLogin

COMPONENT = "kafka-controller"


def quorum_ready_probe() -> k8s.core.v1.ProbeArgs:
    # -S: no site module, a third less start-up time for a probe that needs only the standard library.
    return kx.exec_probe(["python3", "-S", "-c", kafka_ready_script()], period=10, failures=3)


class KafkaControllers(pulumi.ComponentResource):
    """`controllers` dedicated KRaft controllers (node ids 100 + ordinal) and their headless Service."""

    def __init__(self, name: str, cfg: KafkaConfig, names: KafkaNames, images: KafkaImages, cluster_id: pulumi.Input[str],
                 guards: tuple[pulumi.Resource, ...] = (), opts: Optional[pulumi.ResourceOptions] = None,
                 extra_env: Optional[dict[str, str]] = None, kraft_login: Optional[KraftLogin] = None):
        # extra_env: migration mode during the migration from ZooKeeper (migration_plan.controller_extra_env).
        # kraft_login (msa:kafka.authentication: sasl): the controller listener's JAAS line and the users the
        # controllers write at format time, from Secrets (kraft_auth.py).
        super().__init__("msa:kafka:KafkaControllers", name, {"controllers": cfg.controller_count, "image": cfg.image}, opts)
        if names.sasl and kraft_login is None:
            raise ValueError("KRaft controllers with authentication need their login (kraft_auth.kraft_login)")
        child = kx.child_options(self, opts)
        ns = names.namespace
        ports = [kx.port("controller", CONTROLLER_PORT)]
        self.headless = kx.headless_service(names.controller_headless, ns, COMPONENT, ports, names.controller, child)
        env = {**controller_env(cfg, names), **(extra_env or {}), "MSA_READY_ROLES": "controller", "MSA_NODE_ID_BASE": str(CONTROLLER_ID_BASE)}
        container = k8s.core.v1.ContainerArgs(
            name="controller",
            image=images.kafka.ref,
            image_pull_policy=kx.PULL_POLICY,
            command=["bash", "-c", controller_start(names.sasl)],
            env=[*pod_env(env, cluster_id), *((*kraft_login.controller_env, *kraft_login.format_env) if kraft_login else ())],
            ports=[k8s.core.v1.ContainerPortArgs(name="controller", container_port=CONTROLLER_PORT)],
            startup_probe=kx.tcp_probe(CONTROLLER_PORT, period=5, failures=60),
            readiness_probe=quorum_ready_probe(),
            liveness_probe=kx.tcp_probe(CONTROLLER_PORT, period=10, failures=6),
            resources=kx.resources(cfg.controller_resources),
            security_context=_container_security(),
            volume_mounts=[k8s.core.v1.VolumeMountArgs(name="data", mount_path=DATA_MOUNT)],
        )
        self.stateful_set = _cp_stateful_set(
            names.controller, ns, COMPONENT, cfg.controller_count, names.controller_headless, images.kafka, cfg.image, container,
            kx.data_claim("data", cfg.storage_class, cfg.controller_storage_size), termination_grace=30,
            opts=kx.waiting_for(child, (self.headless, *guards, *(kraft_login.waits_for if kraft_login else ()))),
        )
        self.claims = grow_claims(self.stateful_set, names.controller, ns, cfg.controller_count, cfg.storage_class,
                                  cfg.controller_storage_size, child)
        if cfg.controller_count >= 3:
            self.disruption_budget = kx.pod_disruption_budget(names.controller, ns, COMPONENT, names.controller, child)
        self.register_outputs({})
