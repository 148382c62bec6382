"""A Kafka cluster that authenticates every client (SASL/SCRAM-SHA-512), and the stack's Kafka users as
the rendered Secrets hold them, for the clients' proofs (test_kafka_clients_auth.py).

- `secret_value(rendered, name, key)`: what the kubelet reads for a `secretKeyRef` or a Secret volume:
  the rendered Secret's own value (the mock runtime records it; the rendered YAML shows `[secret]`).
- `ScramKafkaCluster`: brokers whose only listener is SASL_PLAINTEXT with SCRAM-SHA-512, inter-broker
  traffic included, the broker logging in as the `broker` user. Where the rendered broker env already
  configures the listener (msa:kafka.authentication: sasl on the broker side), only addresses are
  substituted; otherwise the listener settings are added the way Kafka documents them
  (listener.name.<listener>.scram-sha-512.sasl.jaas.config, sasl.enabled.mechanisms, ...).
- The users' SCRAM credentials are created in ZooKeeper before the brokers start
  (`kafka-configs --zookeeper ... --add-config SCRAM-SHA-512=[password=...]`), with the passwords the
  rendered Secrets carry: a client that logs in with its Secret's line proves the Secret right.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Mapping, Optional

from integration.kafka_cluster import KafkaCluster
from integration.kafka_world import KafkaWorld
from integration.rendered import rendered_pod_env
from msa.kafka.client_auth import CLIENT_CONFIG_ENV, PROPERTIES_KEY
from msa.kafka.credentials import SCRAM_MECHANISM, derived_password, scram_jaas_config
from msa.kafka.jobs import kafka_ready_command
from msa.render.engine import SECRET_SIG

LISTENER = "SCRAM"
BROKER_USER = "broker"
BROKER_JAAS_ENV = f"KAFKA_LISTENER_NAME_{LISTENER}_SCRAM___SHA___512_SASL_JAAS_CONFIG"


def unwrap(value: Any) -> Any:
    """Wire-format inputs with Pulumi's secret wrappers removed (the values the provider would send)."""
    if isinstance(value, dict):
        if value.get(SECRET_SIG) is not None and "value" in value:
            return unwrap(value["value"])
        return {k: unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap(v) for v in value]
    return value


def secret_data(rendered, name: str) -> dict[str, str]:
    """The data of the Secret the program named `name` (its generated name), as the kubelet sees it."""
    for resource in rendered.resources:
        if resource.type == "kubernetes:core/v1:Secret" and resource.inputs.get("metadata", {}).get("name") == name:
            return dict(unwrap(resource.inputs.get("stringData") or {}))
    raise AssertionError(f"no Secret named {name} in the rendered stack")


def user_secret(rendered, user: str) -> dict[str, str]:
    """The rendered Secret of Kafka user `user` (kafka-user-<user>-<hash>)."""
    found = [r for r in rendered.resources if r.type == "kubernetes:core/v1:Secret"
             and re.fullmatch(rf"kafka-user-{re.escape(user)}-[0-9a-f]{{8}}", r.inputs.get("metadata", {}).get("name", ""))]
    assert len(found) == 1, f"{len(found)} Secrets for Kafka user {user}"
    return dict(unwrap(found[0].inputs["stringData"]))


def secret_value(rendered, name: str, key: str) -> str:
    return secret_data(rendered, name)[key]


def write_client_config(folder: Path, user_data: Mapping[str, str], name: str = PROPERTIES_KEY) -> Path:
    """The Secret volume's client.properties, as a Job's pod sees it at client_auth.CLIENT_CONFIG."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(user_data[PROPERTIES_KEY])
    path.chmod(0o440)
    return path


def wrong_password_config(folder: Path, user: str) -> Path:
    """A client.properties of `user` with a password the broker does not know (a Secret out of date)."""
    text = user_secret_like(user, "Wrong-Canary-" + user)
    return write_client_config(folder, {PROPERTIES_KEY: text}, f"wrong-{user}.properties")


def user_secret_like(user: str, password: str) -> str:
    return (f"security.protocol=SASL_PLAINTEXT\nsasl.mechanism={SCRAM_MECHANISM}\n"
            f"sasl.jaas.config={scram_jaas_config(user, password)}\n")


class ScramKafkaCluster(KafkaCluster):
    """Brokers with one SASL_PLAINTEXT/SCRAM-SHA-512 listener on their loopback port."""

    broker_password: str = ""
    probe_config: Optional[Path] = None

    def broker_env(self, broker_id: int, port: int, root: Path) -> dict[str, str]:
        env = super().broker_env(broker_id, port, root)
        env["KAFKA_LISTENERS"] = env["KAFKA_ADVERTISED_LISTENERS"] = f"{LISTENER}://127.0.0.1:{port}"
        if "KAFKA_SASL_ENABLED_MECHANISMS" not in self.pod_env:
            env.update({
                "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": f"{LISTENER}:SASL_PLAINTEXT",
                "KAFKA_INTER_BROKER_LISTENER_NAME": LISTENER,
                "KAFKA_SASL_ENABLED_MECHANISMS": SCRAM_MECHANISM,
                "KAFKA_SASL_MECHANISM_INTER_BROKER_PROTOCOL": SCRAM_MECHANISM,
            })
        # env_to_props: `___` -> `-`: listener.name.scram.scram-sha-512.sasl.jaas.config. The rendered pod has it
        # from the broker user's Secret (a secretKeyRef, which rendered_pod_env leaves out): the same line here.
        env.setdefault(BROKER_JAAS_ENV, scram_jaas_config(BROKER_USER, self.broker_password))
        return env

    def ready(self, broker_id: int) -> bool:
        """The readiness probe as the kubelet runs it, logging in on the SCRAM listener."""
        import os
        import subprocess

        command = kafka_ready_command(self.brokers[broker_id].port, str(self.probe_config))
        env = {**os.environ, "HOSTNAME": f"kafka-{broker_id}"}
        return subprocess.run(command, env=env, capture_output=True, timeout=15).returncode == 0

    def admin(self):
        raise AssertionError("librdkafka views need credentials here: use the Kafka tools with a client.properties")


def add_scram_user(tools, zookeeper_connect: str, user: str, password: str) -> None:
    tools.run("kafka-configs", "--zookeeper", zookeeper_connect, "--alter", "--entity-type", "users", "--entity-name", user,
              "--add-config", f"{SCRAM_MECHANISM}=[iterations=4096,password={password}]")


def start_scram_cluster(world: KafkaWorld, rendered, seed: str, users: Mapping[str, str], stack: str = "dev",
                        brokers: int = 1, edit=None) -> ScramKafkaCluster:
    """A `brokers`-broker cluster as `stack` renders it (after `edit`), SCRAM on its one listener; `users`
    (name -> password, from the rendered Secrets) and the broker user exist before the brokers start."""
    def set_count(values):
        values["msa:kafka"]["brokers"] = brokers
        values["msa:kafka"]["zookeeperReplicas"] = 1
        if edit:
            edit(values)
    ensemble = world.zookeeper(1, stack, set_count)
    cluster = ScramKafkaCluster(world.root / f"kafka-scram{len(world._started)}", world.tools, rendered_pod_env(stack, "kafka", set_count), ensemble)
    cluster.broker_password = derived_password(seed, BROKER_USER)
    world._started.append(cluster)
    for user, password in {BROKER_USER: cluster.broker_password, **users}.items():
        add_scram_user(world.tools, ensemble.connect, user, password)
    cluster.probe_config = write_client_config(cluster.root / "probe", {PROPERTIES_KEY: user_secret_like(BROKER_USER, cluster.broker_password)})
    cluster.start(brokers)
    for broker_id in range(brokers):
        cluster.wait_ready(broker_id)
    return cluster


def job_substitutions(cluster: KafkaCluster, client_config: Optional[Path]) -> dict[str, str]:
    """A Job's loopback substitutions: the cluster's addresses, and where its Secret volume's file is here."""
    subs = {"BOOTSTRAP_SERVERS": cluster.bootstrap_servers, "ZOOKEEPER_CONNECT": cluster.zookeeper.connect}
    if client_config is not None:
        subs[CLIENT_CONFIG_ENV] = str(client_config)
    return subs
