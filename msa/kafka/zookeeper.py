"""The ZooKeeper ensemble (cp-zookeeper 7.9.x): members that change membership by dynamic
reconfiguration (scripts/zookeeper-start.sh), the zookeeper-shrink Job, and the super user's Secret
(zookeeper_auth.py) both log in with."""

from __future__ import annotations

from typing import Optional

import pulumi
import pulumi_kubernetes as k8s

from .. import k8s as kx
from ..config import Kafka as KafkaConfig
from ..names import ZOOKEEPER_CLIENT_PORT, ZOOKEEPER_ELECTION_PORT, ZOOKEEPER_PEER_PORT, KafkaNames
from .cluster import ADMIN_COMPONENT, TOOLS_WRITE, KafkaImages, _container_security, _cp_stateful_set, _pod_security, cp_checkov_skips, grow_claims
from .jobs import (
    zookeeper_member_env, zookeeper_ready_script, zookeeper_shrink_env, zookeeper_shrink_script, zookeeper_start_script,
)
from .zookeeper_auth import SERVER_AUTH_DIR, SUPER_PASSWORD_FILE, secret_volume, zookeeper_server_secret


def _zookeeper_container(cfg: KafkaConfig, images: KafkaImages, env: dict[str, str], ports: list,
                         auth_mount: k8s.core.v1.VolumeMountArgs) -> k8s.core.v1.ContainerArgs:
    return k8s.core.v1.ContainerArgs(
        name="zookeeper",
        image=images.zookeeper.ref,
        image_pull_policy=kx.PULL_POLICY,
        # Our start script instead of cp's `run`: membership by dynamic reconfiguration (zookeeper-start.sh).
        command=["bash", "-c", zookeeper_start_script()],
        env=kx.env(env),
        ports=[k8s.core.v1.ContainerPortArgs(name=p.name, container_port=p.port) for p in ports],
        # A joining member waits for the ensemble and syncs first: a generous start budget.
        startup_probe=kx.tcp_probe(ZOOKEEPER_CLIENT_PORT, period=5, failures=120),
        readiness_probe=kx.exec_probe(["bash", "-c", zookeeper_ready_script()], period=10, failures=3),
        liveness_probe=kx.tcp_probe(ZOOKEEPER_CLIENT_PORT, period=10, failures=6),
        resources=kx.resources(cfg.zookeeper_resources),
        security_context=_container_security(),
        volume_mounts=[
            k8s.core.v1.VolumeMountArgs(name="data", mount_path="/var/lib/zookeeper/data", sub_path="data"),
            k8s.core.v1.VolumeMountArgs(name="data", mount_path="/var/lib/zookeeper/log", sub_path="log"),
            auth_mount,
        ],
    )


class ZooKeeper(pulumi.ComponentResource):
    """A ZooKeeper StatefulSet (1 node, or an ensemble of 3 or 5) with headless and client Services."""

    def __init__(self, name: str, cfg: KafkaConfig, names: KafkaNames, client_ip: str, images: KafkaImages,
                 storage_guard: tuple[pulumi.Resource, ...] = (), opts: Optional[pulumi.ResourceOptions] = None,
                 auth_seed: Optional[pulumi.Input[str]] = None):
        super().__init__("msa:kafka:ZooKeeper", name, {"replicas": cfg.zookeeper_replicas, "image": cfg.zookeeper_image}, opts)
        child = kx.child_options(self, opts)
        ns, component = names.namespace, "zookeeper"
        if auth_seed is None:
            raise ValueError("ZooKeeper without msa:kafkaAuthSecret (config.check_secrets_present stops this earlier)")
        # The super user (reconfig) and the brokers' SASL user: zookeeper_auth.py.
        self.auth = zookeeper_server_secret(auth_seed, ns, child)
        auth_volume, auth_mount = secret_volume("auth", self.auth, SERVER_AUTH_DIR)
        ports = [
            kx.port("client", ZOOKEEPER_CLIENT_PORT),
            kx.port("peer", ZOOKEEPER_PEER_PORT),
            kx.port("election", ZOOKEEPER_ELECTION_PORT),
        ]
        self.headless = kx.headless_service(names.zookeeper_headless, ns, component, ports, names.zookeeper, child)
        self.client = kx.cluster_ip_service(names.zookeeper, ns, component, client_ip, [ports[0]], names.zookeeper, child)
        env = {
            "ZOOKEEPER_CLIENT_PORT": str(ZOOKEEPER_CLIENT_PORT),
            "ZOOKEEPER_TICK_TIME": "2000",
            "ZOOKEEPER_INIT_LIMIT": "10",
            "ZOOKEEPER_SYNC_LIMIT": "5",
            "ZOOKEEPER_AUTOPURGE_SNAP_RETAIN_COUNT": "3",
            "ZOOKEEPER_AUTOPURGE_PURGE_INTERVAL": "24",
            "KAFKA_HEAP_OPTS": f"-Xms{cfg.zookeeper_heap} -Xmx{cfg.zookeeper_heap}",
        }
        # Each member binds its quorum ports on all addresses, not only its own (not yet resolvable) name.
        env["ZOOKEEPER_QUORUM_LISTEN_ON_ALL_IPS"] = "true"
        env.update(zookeeper_member_env(names))
        container = _zookeeper_container(cfg, images, env, ports, auth_mount)
        # Members that go away leave the ensemble first, one at a time (a no-op unless it shrinks).
        self.shrink = kx.script_job(
            names.zookeeper_shrink, ns, ADMIN_COMPONENT, images.kafka.ref, zookeeper_shrink_script(),
            zookeeper_shrink_env(cfg.zookeeper_replicas, names), kx.waiting_for(child, (self.client, self.headless, self.auth)),
            timeout_seconds=300, security_context=_pod_security(), annotations=cp_checkov_skips(images.kafka, cfg.image, TOOLS_WRITE),
            pull_secrets=images.kafka.pull_secrets,
            # The Job needs the password only, not the digest or the servers' JAAS file.
            volumes=(secret_volume("auth", self.auth, SERVER_AUTH_DIR, [SUPER_PASSWORD_FILE]),),
        )
        self.stateful_set = _cp_stateful_set(
            names.zookeeper, ns, component, cfg.zookeeper_replicas, names.zookeeper_headless, images.zookeeper, cfg.zookeeper_image, container,
            kx.data_claim("data", cfg.storage_class, cfg.zookeeper_storage_size), termination_grace=30,
            opts=kx.waiting_for(child, (self.shrink, *storage_guard)), volumes=[auth_volume],
        )
        self.claims = grow_claims(self.stateful_set, names.zookeeper, ns, cfg.zookeeper_replicas, cfg.storage_class,
                                  cfg.zookeeper_storage_size, child)
        if cfg.zookeeper_replicas >= 3:
            self.disruption_budget = kx.pod_disruption_budget(names.zookeeper, ns, component, names.zookeeper, child)
        self.register_outputs({})
