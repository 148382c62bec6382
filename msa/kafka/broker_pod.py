"""The broker container of the Kafka StatefulSet: its env, probes and mounts in each authentication phase.

Split from cluster.py (which places it into the StatefulSet) so the component stays readable; pure but
for the k8s argument types it builds.
"""

from __future__ import annotations

from typing import Optional, Sequence

import pulumi

import pulumi_kubernetes as k8s

from .. import k8s as kx
from ..config import Kafka as KafkaConfig
from ..names import KafkaNames
from .broker_auth import PHASE_CONFIGMAP, PHASE_DIR, SET_ACL_ENV, phase_start, probe_port
from .jobs import kafka_ready_command
from .kraft import kraft_broker_env, kraft_broker_start, pod_env
from .kraft_auth import KraftLogin
from .scram import PROBE_CONFIG, BrokerScram
from .settings import kafka_env
from .zookeeper_auth import BrokerLogin

# broker.id from the StatefulSet ordinal (kafka-2 -> 2), then cp-kafka's own entrypoint.
KAFKA_START = 'export KAFKA_BROKER_ID="${HOSTNAME##*-}" && exec /etc/confluent/docker/run'


def broker_container(cfg: KafkaConfig, names: KafkaNames, image: str, scram: Optional[BrokerScram], login: BrokerLogin,
                     ports: Sequence[k8s.core.v1.ServicePortArgs], security: k8s.core.v1.SecurityContextArgs,
                     cluster_id: Optional[pulumi.Input[str]] = None, extra_env: Optional[dict[str, str]] = None,
                     kraft_login: Optional[KraftLogin] = None, tls_mount: Optional[k8s.core.v1.VolumeMountArgs] = None) -> k8s.core.v1.ContainerArgs:
    """`login`: the brokers' ZooKeeper login (zookeeper_auth.broker_zookeeper_login). KRaft (no ZooKeeper):
    kraft.py's env, formatted with `cluster_id`, and with authentication `kraft_login`'s Secret-sourced env
    (the controller login; in combined mode the format-time users too). `extra_env`: what the migration's
    step `migrate` adds to a ZooKeeper-mode broker (migration_plan.broker_extra_env)."""
    env = [
        kx.field_env("POD_NAME", "metadata.name"),
        *kx.env({**kafka_env(cfg, names), **(extra_env or {})}),
        # zookeeper.set.acl is a phase variable with authentication (broker_auth.phase_vars).
        *kx.env({k: v for k, v in login.env.items() if not (names.sasl and k == SET_ACL_ENV)}),
        *(scram.env if scram else ()),      # the JAAS line, from the broker user's Secret
    ]
    # With authentication (ZooKeeper mode) the start command picks the phase's listeners (broker_auth.phase_start).
    start = phase_start(KAFKA_START) if names.sasl else KAFKA_START
    if cfg.kraft:
        # Node id (and, combined, the controller role) from the ordinal (kraft.KRAFT_BROKER_START).
        env, start = pod_env(kraft_broker_env(cfg, names), cluster_id), kraft_broker_start(names.sasl)
        if kraft_login is not None:
            env += [*(scram.env if scram else ()), *kraft_login.controller_env, *(kraft_login.format_env if cfg.is_combined else ())]
    # The probes use the SCRAM listener with the broker's login in every sasl phase, PLAINTEXT in an open cluster.
    probe = probe_port(names.sasl)
    readiness = kafka_ready_command(probe, PROBE_CONFIG if names.sasl else None)
    return k8s.core.v1.ContainerArgs(
        name="kafka",
        image=image,
        image_pull_policy=kx.PULL_POLICY,
        command=["bash", "-c", start],
        env=env,
        ports=[k8s.core.v1.ContainerPortArgs(name=p.name, container_port=p.port) for p in ports],
        # Log recovery after an unclean stop can take minutes: a generous start budget.
        startup_probe=kx.tcp_probe(probe, period=5, failures=60),
        # Ready = registered and in the ISR of every partition it holds: a roll moves to the next pod
        # only then (the port opens long before the replicas have caught up).
        readiness_probe=kx.exec_probe(readiness, period=10, failures=3),
        liveness_probe=kx.tcp_probe(probe, period=10, failures=6),
        resources=kx.resources(cfg.resources),
        security_context=security,
        volume_mounts=[k8s.core.v1.VolumeMountArgs(name="data", mount_path="/var/lib/kafka/data"), *login.mounts,
                       *(scram.mounts if scram else ()), *((tls_mount,) if tls_mount else ()),
                       *((phase_mount(),) if names.sasl and not cfg.kraft else ())],
    )


def phase_volume() -> k8s.core.v1.VolumeArgs:
    """The ConfigMap kafka-auth-phase, optional: a pod that starts without it runs scram-only."""
    return k8s.core.v1.VolumeArgs(name="auth-phase", config_map=k8s.core.v1.ConfigMapVolumeSourceArgs(
        name=PHASE_CONFIGMAP, optional=True, default_mode=0o444))


def phase_mount() -> k8s.core.v1.VolumeMountArgs:
    return k8s.core.v1.VolumeMountArgs(name="auth-phase", mount_path=PHASE_DIR, read_only=True)
