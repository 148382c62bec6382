"""Brokers whose SCRAM listener speaks TLS (msa:kafka.tls), configured from the rendered StatefulSet, on
loopback, and the stack's clients with exactly the trust the stack renders.

- Names: TLS checks the broker's name, so the brokers advertise their pod names
  (kafka-N.kafka-headless.<ns>.svc.cluster.local) and every JVM here resolves those and the bootstrap
  Service's name to 127.0.0.1 through a hosts file of its own (`-Djdk.net.hosts.file`, via KAFKA_OPTS),
  never the machine's resolver. The Python probe connects to 127.0.0.1 and checks the advertised name,
  as it does in the pod.
- Files: the rendered kafka-tls Secret (its keystore.pem is what the dynamic resource's create makes:
  msa/render/engine.py runs it as `pulumi up` would) and the users' Secrets (client.properties + ca.crt)
  are laid out in folders; only the paths of their mounts are substituted.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Mapping

from integration.kafka_auth import resolved_pod_env
from integration.kafka_clients_auth import BROKER_USER, ScramKafkaCluster, add_scram_user, secret_data, user_secret
from integration.kafka_world import KafkaWorld
from msa.kafka.client_auth import CLIENT_CONFIG_DIR, PROPERTIES_KEY
from msa.kafka.jobs import kafka_ready_command
from msa.kafka.tls_settings import BROKER_TLS_DIR, CA_KEY
from msa.names import KAFKA_SCRAM_LISTENER, KafkaNames

STACK = "dev"


def hosts_file(path: Path, names: KafkaNames, brokers: int) -> Path:
    """Cluster DNS for the Kafka names on loopback: each broker's pod name and the bootstrap Service's."""
    hosts = [names.broker_host(str(i)) for i in range(brokers)] + [names.fqdn(names.bootstrap), "localhost"]
    path.write_text("".join(f"127.0.0.1 {host}\n" for host in hosts))
    return path


def hosts_opts(path: Path) -> str:
    return f"-Djdk.net.hosts.file={path}"


def client_folder(folder: Path, user_data: Mapping[str, str]) -> Path:
    """A user's Secret volume (client.properties and ca.crt) in `folder`: the mount path in its
    client.properties becomes the folder. Returns the client.properties."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / CA_KEY).write_text(user_data[CA_KEY])
    path = folder / PROPERTIES_KEY
    path.write_text(user_data[PROPERTIES_KEY].replace(f"{CLIENT_CONFIG_DIR}/", f"{folder}/"))
    path.chmod(0o440)
    return path


class TlsKafkaCluster(ScramKafkaCluster):
    """Brokers with one SASL_SSL listener (the rendered protocol map), advertised under their pod names."""

    names: KafkaNames
    hosts: Path
    tls_dir: Path

    def broker_env(self, broker_id: int, port: int, root: Path) -> dict[str, str]:
        env = super().broker_env(broker_id, port, root)
        env["KAFKA_ADVERTISED_LISTENERS"] = self.advertised(broker_id, port)
        for key, value in list(env.items()):
            if value.startswith(BROKER_TLS_DIR + "/"):       # the kafka-tls Secret's mount
                env[key] = str(self.tls_dir / value[len(BROKER_TLS_DIR) + 1:])
        env["KAFKA_OPTS"] = f"{env.get('KAFKA_OPTS', '')} {hosts_opts(self.hosts)}".strip()
        return env

    def advertised(self, broker_id: int, port: int) -> str:
        return f"{KAFKA_SCRAM_LISTENER}://{self.names.broker_host(str(broker_id))}:{port}"

    def probe(self, broker_id: int, client_config: Path) -> subprocess.CompletedProcess:
        """The rendered readiness probe, with the env the broker container gives it."""
        broker = self.brokers[broker_id]
        env = {**os.environ, "HOSTNAME": f"kafka-{broker_id}", "KAFKA_ADVERTISED_LISTENERS": self.advertised(broker_id, broker.port)}
        return subprocess.run(kafka_ready_command(broker.port, str(client_config)), env=env, capture_output=True, text=True, timeout=20)

    def ready(self, broker_id: int) -> bool:
        return self.probe(broker_id, self.probe_config).returncode == 0

    @property
    def bootstrap_by_name(self) -> str:
        """The bootstrap Service's name with each broker's loopback port (what the certificate names)."""
        return ",".join(f"{self.names.fqdn(self.names.bootstrap)}:{b.port}" for b in self.brokers.values())


def start_tls_cluster(world: KafkaWorld, rendered, names: KafkaNames, brokers: int, users: Mapping[str, str], zookeeper_edit) -> TlsKafkaCluster:
    """ZooKeeper (rendered by `zookeeper_edit`, no CA needed there), every SCRAM user, then `brokers`
    brokers exactly as `rendered` (tls: true) configures them, each Ready through its rendered probe."""
    ensemble = world.zookeeper(1, STACK, zookeeper_edit)
    root = world.root / f"kafka-tls{len(world._started)}"
    root.mkdir(parents=True)
    cluster = TlsKafkaCluster(root, world.tools, resolved_pod_env(rendered), ensemble)
    world._started.append(cluster)
    cluster.names, cluster.hosts, cluster.tls_dir = names, hosts_file(root / "hosts", names, brokers), root / "tls"
    cluster.tls_dir.mkdir(parents=True)
    (volume,) = [v for v in statefulset_volumes(rendered) if v["name"] == "tls"]
    for key, text in secret_data(rendered, volume["secret"]["secretName"]).items():
        (cluster.tls_dir / key).write_text(text)
    broker = user_secret(rendered, BROKER_USER)
    cluster.broker_password = broker["password"]
    for user, password in {BROKER_USER: broker["password"], **users}.items():
        add_scram_user(world.tools, ensemble.connect, user, password)
    cluster.probe_config = client_folder(root / "probe", broker)
    cluster.start(brokers)
    for broker_id in range(brokers):
        cluster.wait_ready(broker_id)
    return cluster


def statefulset_volumes(rendered) -> list[dict]:
    from conftest import by_name

    return by_name(rendered, "StatefulSet", "kafka")["spec"]["template"]["spec"]["volumes"]


# --- KRaft -------------------------------------------------------------------------------------------

def start_tls_kraft(rendered, root: Path, tools, names: KafkaNames, brokers: int):
    """The rendered KRaft brokers (combined: the first ones are the controllers too) with TLS on the SCRAM
    listener, advertised under their pod names; KAFKA_OPTS (the hosts file) must be in the environment."""
    from integration.kraft_cluster import KraftCluster

    class TlsKraftCluster(KraftCluster):
        def pod_env(self, node):
            env = super().pod_env(node)
            if node.port:
                env["KAFKA_ADVERTISED_LISTENERS"] = env["KAFKA_ADVERTISED_LISTENERS"].replace(
                    f"{KAFKA_SCRAM_LISTENER}://127.0.0.1:{node.port}", f"{KAFKA_SCRAM_LISTENER}://{names.broker_host(str(node.node_id))}:{node.port}")
            return {k: str(root / "tls" / v[len(BROKER_TLS_DIR) + 1:]) if v.startswith(BROKER_TLS_DIR + "/") else v for k, v in env.items()}

    workloads = {o["metadata"]["name"]: o for o in rendered.kubernetes_objects() if o["kind"] == "StatefulSet"}
    cluster = TlsKraftCluster(root, tools, workloads["kafka"], secrets=lambda name, key: secret_data(rendered, name)[key])
    (root / "tls").mkdir()
    (volume,) = [v for v in statefulset_volumes(rendered) if v["name"] == "tls"]
    for key, text in secret_data(rendered, volume["secret"]["secretName"]).items():
        (root / "tls" / key).write_text(text)
    cluster.probe_config = client_folder(root / "probe", user_secret(rendered, BROKER_USER))
    return cluster.start(brokers)
