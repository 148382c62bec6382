"""Brokers configured from the rendered StatefulSet with and without authentication, on loopback, through
the very scripts the stack renders (issue 17; the one-up move of an open cluster: kafka_auth_roll.py).

- `rendered_kafka(stack, brokers, authentication)`: the stack rendered with that authentication.
- `resolved_pod_env(rendered)`: the broker container's env as the kubelet fills it: literal values, and
  `secretKeyRef`s read from the rendered Secret they name (the broker's JAAS line). Only the pod name
  ($(POD_NAME), a fieldRef) is left to the harness's per-broker substitution.
- `AuthKafkaCluster`: a KafkaCluster whose brokers keep a loopback port per listener (PLAINTEXT and SCRAM,
  as 9092 and 9094 in a pod) across rolls, and whose readiness is the rendered probe of the phase
  (PLAINTEXT without a login, SCRAM logged in as `broker` with its Secret's client.properties).
- `run_scram_users_job(rendered, ...)`: the rendered kafka-scram-users Job's script, with its users
  Secret volume laid out as files.
- `client_config(rendered, user)`: a user's rendered client.properties as librdkafka settings.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Mapping, Optional

from conftest import by_name, run_stack
from integration.harness import free_port
from integration.jvm_tools import ToolBox
from integration.kafka_cluster import KafkaCluster
from integration.kafka_world import KafkaWorld
from integration.rendered import run_job_script
from integration.kafka_clients_auth import secret_data, user_secret, write_client_config
from integration.zookeeper_auth import localize_login
from msa.kafka.broker_auth import SCRAM_ONLY, phase_env, phase_of
from msa.kafka.jobs import kafka_ready_command
from msa.kafka.scram import SCRAM_USERS_JOB
from msa.names import KAFKA_PLAINTEXT_LISTENER, KAFKA_SCRAM_LISTENER

BROKER_USER = "broker"


def rendered_kafka(stack: str, brokers: int, authentication: str):
    def edit(values):
        values.setdefault("msa:kafka", {}).update(brokers=brokers, zookeeperReplicas=1, authentication=authentication)
    return run_stack(stack, edit)


def resolved_pod_env(rendered, workload: str = "kafka", phase: Optional[str] = None) -> dict[str, str]:
    """With authentication, plus what the start command exports for `phase` (the phase ConfigMap's
    text; None: not mounted, scram-only)."""
    (container,) = by_name(rendered, "StatefulSet", workload)["spec"]["template"]["spec"]["containers"]
    env = {}
    for entry in container["env"]:
        if "value" in entry:
            env[entry["name"]] = entry["value"]
        elif "secretKeyRef" in entry.get("valueFrom", {}):
            ref = entry["valueFrom"]["secretKeyRef"]
            env[entry["name"]] = secret_data(rendered, ref["name"])[ref["key"]]
    return {**env, **phase_env(env, phase)} if is_phased(env) else env


def is_phased(env: Mapping[str, str]) -> bool:
    """Whether a broker env carries the sasl phases (broker_auth.phase_vars)."""
    return any(name.startswith("MSA_AUTH_") for name in env)


def loopback_listeners(value: str, ports: Mapping[str, int]) -> str:
    """`NAME://host:port,...` with every listener on 127.0.0.1 and its loopback port."""
    return ",".join(f"{item.split('://')[0]}://127.0.0.1:{ports[item.split('://')[0]]}" for item in value.split(","))


class AuthKafkaCluster(KafkaCluster):
    """Brokers with a PLAINTEXT and a SCRAM loopback port each; which ones listen is the rendered phase's."""

    scram_ports: dict[int, int]
    probe_config: Optional[Path] = None

    def broker_env(self, broker_id: int, port: int, root: Path) -> dict[str, str]:
        env = super().broker_env(broker_id, port, root)
        ports = {KAFKA_PLAINTEXT_LISTENER: port, KAFKA_SCRAM_LISTENER: self.scram_ports.setdefault(broker_id, free_port())}
        for key in ("KAFKA_LISTENERS", "KAFKA_ADVERTISED_LISTENERS"):
            env[key] = loopback_listeners(self.pod_env[key], ports)
        return env

    @property
    def phase(self) -> str:
        return phase_of(self.pod_env)

    def scram_bootstrap(self) -> str:
        return ",".join(f"127.0.0.1:{self.scram_ports[b]}" for b, broker in self.brokers.items() if broker.server.running)

    def ready(self, broker_id: int) -> bool:
        """The phase's rendered readiness probe, run as the kubelet would."""
        if self.phase == SCRAM_ONLY:
            command = kafka_ready_command(self.scram_ports[broker_id], str(self.probe_config))
        else:
            command = kafka_ready_command(self.brokers[broker_id].port)
        env = {**os.environ, "HOSTNAME": f"kafka-{broker_id}", "KAFKA_READY_PORT": str(self.brokers[broker_id].port)}
        return subprocess.run(command, env=env, capture_output=True, timeout=15).returncode == 0

    def use_probe_of(self, rendered) -> None:
        if phase_of(resolved_pod_env(rendered)) == SCRAM_ONLY:
            self.probe_config = write_client_config(self.root / "probe", user_secret(rendered, BROKER_USER))


def start_auth_cluster(world: KafkaWorld, rendered, brokers: int, stack: str = "dev") -> AuthKafkaCluster:
    """ZooKeeper and `brokers` brokers as `rendered` says (its SCRAM users must exist first when it uses SCRAM)."""
    def one_member(values):
        values.setdefault("msa:kafka", {}).update(brokers=brokers, zookeeperReplicas=1)
    ensemble = world.zookeeper(1, stack, one_member)
    cluster = AuthKafkaCluster(world.root / f"kafka-auth{len(world._started)}", world.tools, resolved_pod_env(rendered), ensemble)
    cluster.scram_ports = {}
    world._started.append(cluster)
    return cluster


def start_brokers(cluster: AuthKafkaCluster, rendered, brokers: int) -> AuthKafkaCluster:
    cluster.use_probe_of(rendered)
    cluster.start(brokers)
    for broker_id in range(brokers):
        cluster.wait_ready(broker_id)
    return cluster


def run_scram_users_job(rendered, tools: ToolBox, zookeeper_connect: str, folder: Path) -> subprocess.CompletedProcess:
    """The rendered kafka-scram-users Job's script; its users Secret volume laid out in `folder`."""
    job = by_name(rendered, "Job", SCRAM_USERS_JOB)
    pod = job["spec"]["template"]["spec"]
    (volume,) = [v for v in pod["volumes"] if v["name"] == "users"]
    folder.mkdir(parents=True, exist_ok=True)
    for user, password in secret_data(rendered, volume["secret"]["secretName"]).items():
        (folder / user).write_text(password)
    substitute = {"ZOOKEEPER_CONNECT": zookeeper_connect, "USERS_DIR": str(folder)}
    (container,) = pod["containers"]
    opts = next((e["value"] for e in container["env"] if e["name"] == "KAFKA_OPTS"), None)
    if opts:    # its ZooKeeper login (once the brokers set ACLs): the Secret volume's JAAS file here
        substitute["KAFKA_OPTS"] = localize_login(opts, folder.parent / f"{folder.name}-zookeeper-login")
    return run_job_script(job, tools, substitute, timeout=300)


def client_config(rendered, user: str, bootstrap: str, **extra) -> dict:
    """librdkafka settings from `user`'s rendered client.properties (its JAAS line split into name and password)."""
    props = dict(line.split("=", 1) for line in user_secret(rendered, user)["client.properties"].splitlines() if "=" in line)
    jaas = props.pop("sasl.jaas.config")
    return {
        "bootstrap.servers": bootstrap,
        "security.protocol": props["security.protocol"],
        "sasl.mechanism": props["sasl.mechanism"],
        "sasl.username": re.search(r'username="([^"]*)"', jaas)[1],
        "sasl.password": re.search(r'password="([^"]*)"', jaas)[1],
        **extra,
    }


def metadata_error(config: dict, timeout: float = 10) -> Optional[str]:
    """None when a metadata request with `config` answers, else librdkafka's error and the ones it
    reported on the way (a refused login is one of those)."""
    from confluent_kafka import KafkaException, Producer

    reported: list[str] = []
    client = Producer({**config, "socket.connection.setup.timeout.ms": 5000, "log_level": 0,
                       "error_cb": lambda error: reported.append(str(error))})
    try:
        client.list_topics(timeout=timeout)
        return None
    except KafkaException as error:
        client.poll(1)       # serves the error callbacks
        return "; ".join([str(error), *reported])
