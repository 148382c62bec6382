"""KRaft controllers and the ZooKeeper -> KRaft migration's steps on the loopback harness (kafka_cluster.py, jvm_tools.py).

Pods that run cp-kafka 7.9 with `KAFKA_PROCESS_ROLES` go through the image's KRaft path, which this
module reproduces: `configure` requires CLUSTER_ID (and refuses KAFKA_ADVERTISED_LISTENERS on a
controller) and writes the properties with the same template as in ZooKeeper mode; `ensure` formats
the data folder with `kafka-storage format --cluster-id=$CLUSTER_ID` and accepts a folder that is
"already formatted" (a migrated broker's folder, a restarted pod's). Only what must differ on one
machine is substituted: node id (the pod ordinal), listener ports, quorum voters, folders, ZooKeeper.

`MigrationWorld` is the stack in the middle of a migration: the ZooKeeper ensemble and brokers of a
`KafkaCluster` plus a `KraftQuorum`, moved step by step with the env the step renders; `run_gate`
runs the migration Job's script (msa/kafka/scripts/kafka-migration.sh) unchanged.
"""

from __future__ import annotations

import json
import re
import subprocess
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Optional

from integration.harness import free_port, wait_until
from msa.kafka.migration import gate_script
from integration.cp_properties import KAFKA_TEMPLATE_EXCLUDED, env_to_props, kafka_properties_from_env, write_properties
from integration.jvm_tools import SERVER_HEAP, TOOL_HEAP, TOOL_JVM, Server, ToolBox
from integration.kafka_cluster import KafkaCluster

# Tools a KRaft pod's entrypoint and the operator use besides the ones ToolBox has.
KRAFT_TOOLS = {
    "kafka-storage": "kafka.tools.StorageTool",
    "kafka-metadata-quorum": "org.apache.kafka.tools.MetadataQuorumCommand",
    "kafka-features": "org.apache.kafka.tools.FeatureCommand",
}
VOTER = re.compile(r"(\d+)@[^,]+")


def add_kraft_tools(tools: ToolBox) -> None:
    """kafka-storage & co. beside the other cp-named wrappers (same form as ToolBox's)."""
    lib = _lib_of(tools)
    for tool, main in KRAFT_TOOLS.items():
        script = tools.bin / tool
        script.write_text(textwrap.dedent(f"""\
            #!/usr/bin/env bash
            exec java ${{KAFKA_HEAP_OPTS:-{TOOL_HEAP}}} {TOOL_JVM} -Djava.awt.headless=true -Dlog4j.configuration=file:{tools.log4j} \\
              ${{KAFKA_OPTS:-}} -cp '{lib}/*' {main} "$@"
        """))
        script.chmod(0o755)


def _lib_of(tools: ToolBox) -> str:
    """The jar folder the ToolBox's wrappers run from."""
    text = (tools.bin / "kafka-topics").read_text()
    return re.search(r"-cp '([^']+)/\*'", text)[1]


def cp_kafka_properties(env: Mapping[str, str]) -> dict[str, str]:
    """server.properties as cp-kafka 7.9's configure writes it, in either mode."""
    roles = env.get("KAFKA_PROCESS_ROLES")
    if not roles:
        return kafka_properties_from_env(env)
    if not env.get("CLUSTER_ID"):
        raise ValueError("cp-kafka refuses to start: CLUSTER_ID is required in KRaft mode")
    if roles == "controller" and "KAFKA_ADVERTISED_LISTENERS" in env:
        raise ValueError("cp-kafka refuses to start: KAFKA_ADVERTISED_LISTENERS is not supported on a KRaft controller")
    if roles != "controller" and "KAFKA_ADVERTISED_LISTENERS" not in env:
        raise ValueError("cp-kafka refuses to start: KAFKA_ADVERTISED_LISTENERS is required")
    env = {"KAFKA_LOG_DIRS": "/var/lib/kafka/data", **env}
    return env_to_props(env, "KAFKA_", "", exclude=KAFKA_TEMPLATE_EXCLUDED)


def cp_kafka_ensure(tools: ToolBox, env: Mapping[str, str], properties: Path) -> None:
    """cp-kafka 7.9's `ensure` in KRaft mode: format unless "already formatted" (its grep, verbatim)."""
    if not env.get("KAFKA_PROCESS_ROLES"):
        return
    result = tools.run("kafka-storage", "format", f"--cluster-id={env['CLUSTER_ID']}", "-c", str(properties), check=False)
    output = result.stdout + result.stderr
    if result.returncode != 0 and "already formatted" not in output.lower():
        raise AssertionError(f"kafka-storage format failed:\n{output}")


def loopback_voters(voters: str, ports: Mapping[int, int]) -> str:
    """controller.quorum.voters with each voter's pod address replaced by its loopback port."""
    return ",".join(f"{node}@127.0.0.1:{ports[int(node)]}" for node in VOTER.findall(voters))


@dataclass
class KraftController:
    node_id: int
    port: int
    root: Path
    server: Optional[Server] = None


@dataclass
class KraftQuorum:
    """Dedicated controllers (process.roles=controller) as a controller StatefulSet's pods run them."""

    root: Path
    tools: ToolBox
    zookeeper_connect: str
    node_ids: list[int]
    controllers: dict[int, KraftController] = field(default_factory=dict)

    def __post_init__(self):
        for node_id in self.node_ids:
            root = self.root / f"controller-{node_id}"
            root.mkdir(parents=True, exist_ok=True)
            self.controllers[node_id] = KraftController(node_id, free_port(), root)

    @property
    def ports(self) -> dict[int, int]:
        return {c.node_id: c.port for c in self.controllers.values()}

    def pod_env(self, node_id: int, env: Mapping[str, str]) -> dict[str, str]:
        controller = self.controllers[node_id]
        env = dict(env)
        env["KAFKA_NODE_ID"] = str(node_id)
        env["KAFKA_LISTENERS"] = f"CONTROLLER://127.0.0.1:{controller.port}"
        env["KAFKA_CONTROLLER_QUORUM_VOTERS"] = loopback_voters(env["KAFKA_CONTROLLER_QUORUM_VOTERS"], self.ports)
        env["KAFKA_LOG_DIRS"] = str(controller.root / "data" / "logs")
        if "KAFKA_ZOOKEEPER_CONNECT" in env:
            env["KAFKA_ZOOKEEPER_CONNECT"] = self.zookeeper_connect
        env["KAFKA_HEAP_OPTS"] = SERVER_HEAP
        return env

    def start(self, node_id: int, env: Mapping[str, str]) -> None:
        controller = self.controllers[node_id]
        pod_env = self.pod_env(node_id, env)
        properties = write_properties(controller.root / "server.properties", cp_kafka_properties(pod_env))
        cp_kafka_ensure(self.tools, pod_env, properties)
        # Kafka's docs advise logging the migration components while a migration runs; INFO is enough
        # for "Completed migration of metadata from ZooKeeper to KRaft" (the last -D wins over ToolBox's).
        log4j = controller.root / "log4j.properties"
        log4j.write_text(self.tools.log4j.read_text() + "log4j.logger.org.apache.kafka.metadata.migration=INFO\n")
        controller.server = Server(f"controller-{node_id}", ["kafka-server-start", str(properties)], controller.root,
                                   self.tools.env(KAFKA_HEAP_OPTS=pod_env["KAFKA_HEAP_OPTS"], KAFKA_OPTS=f"-Dlog4j.configuration=file:{log4j}"))
        controller.server.start()

    def roll(self, env: Mapping[str, str]) -> None:
        """Start every controller, or restart each one after the other with `env` (a StatefulSet roll)."""
        for node_id in sorted(self.controllers, reverse=True):
            self.stop_one(node_id)
            self.start(node_id, env)
        self.wait_quorum()

    def stop_one(self, node_id: int, kill: bool = False) -> None:
        server = self.controllers[node_id].server
        if server:
            server.stop(kill=kill)

    def wait_quorum(self, timeout: float = 180) -> None:
        """Every controller running and a leader elected (what a controller pod's readiness waits for)."""
        def elected() -> bool:
            for controller in self.controllers.values():
                if not controller.server.running:
                    raise AssertionError(f"{controller.server.name} exited:\n{controller.server.log_tail()}")
            return self.leader() is not None
        wait_until(elected, timeout, "a KRaft controller leader", interval=2)

    def leader(self) -> Optional[int]:
        result = self.tools.run("kafka-metadata-quorum", "--bootstrap-controller", self.bootstrap, "describe", "--status",
                                check=False, timeout=60)
        found = re.search(r"^LeaderId:\s+(\d+)", result.stdout, re.M)
        return int(found[1]) if found and int(found[1]) >= 0 else None

    @property
    def bootstrap(self) -> str:
        return ",".join(f"127.0.0.1:{c.port}" for c in self.controllers.values())

    def logs(self) -> str:
        return "\n".join(c.server.log_path.read_text(errors="replace") for c in self.controllers.values() if c.server)

    def stop(self, kill: bool = False) -> None:
        for node_id in self.controllers:
            self.stop_one(node_id, kill=kill)


def roll_brokers(cluster: KafkaCluster, quorum: KraftQuorum, pod_env: Mapping[str, str], only: Optional[list[int]] = None) -> None:
    """A broker StatefulSet roll with `pod_env` in either mode: highest ordinal first, each pod Ready before
    the next (the rendered readiness probe). `only`: the pods a roll got to before it was interrupted."""
    cluster.pod_env = dict(pod_env)
    for broker_id in sorted(cluster.brokers, reverse=True):
        if only is not None and broker_id not in only:
            continue
        broker = cluster.brokers[broker_id]
        broker.server.stop()
        env = broker_pod_env(cluster, quorum, broker_id)
        broker.props = cp_kafka_properties(env)
        properties = write_properties(broker.root / "server.properties", broker.props)
        cp_kafka_ensure(quorum.tools, env, properties)
        broker.server.start()
        cluster.wait_ready(broker_id)


def broker_pod_env(cluster: KafkaCluster, quorum: KraftQuorum, broker_id: int) -> dict[str, str]:
    """The broker pod's env after its start command, with the loopback substitutions of either mode."""
    broker = cluster.brokers[broker_id]
    env = cluster.broker_env(broker_id, broker.port, broker.root)
    if "KAFKA_ZOOKEEPER_CONNECT" not in cluster.pod_env:
        del env["KAFKA_ZOOKEEPER_CONNECT"]
    if "KAFKA_PROCESS_ROLES" in env:     # the KRaft start command sets the node id instead of the broker id
        env["KAFKA_NODE_ID"] = env.pop("KAFKA_BROKER_ID")
    if "KAFKA_CONTROLLER_QUORUM_VOTERS" in env:
        env["KAFKA_CONTROLLER_QUORUM_VOTERS"] = loopback_voters(env["KAFKA_CONTROLLER_QUORUM_VOTERS"], quorum.ports)
    return env


def run_gate(tools: ToolBox, step: str, zookeeper_connect: str, timeout: int = 300, **env: str) -> subprocess.CompletedProcess:
    """The migration Job's script for `step`, unchanged, with the cp-named tools first on PATH."""
    job_env = tools.env(STEP=step, ZOOKEEPER_CONNECT=zookeeper_connect, TIMEOUT_SECONDS=str(timeout), **env)
    return subprocess.run(["bash", "-c", gate_script()], env=job_env, capture_output=True, text=True,
                          timeout=timeout + 300)


def zookeeper_json(tools: ToolBox, connect: str, path: str) -> Optional[dict]:
    """A znode's JSON (the operator's `zookeeper-shell <connect> get <path>`), None when it does not exist."""
    result = tools.run("zookeeper-shell", connect, "get", path, check=False)
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    return json.loads(lines[-1]) if lines else None
