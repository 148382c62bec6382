"""Real KRaft clusters (Kafka 3.9.1) for integration tests, on loopback, in temporary folders.

Like kafka_cluster.py and zookeeper_ensemble.py for ZooKeeper mode: each node is configured from the env the stack renders for
its StatefulSet. The rendered start command itself runs (with cp-kafka's /etc/confluent/docker/run
replaced by a stand-in that records the env it would configure from), so its per-pod rules (node id,
the controller role of the first combined pods) are what is tested. The stand-in then does what
cp-kafka 7.9's `configure` and `ensure` do in KRaft mode: require CLUSTER_ID, refuse advertised
listeners on a controller-only node, write the properties as the template does, and format the storage
with `kafka-storage format --cluster-id=$CLUSTER_ID` unless it is formatted already. Only what must
differ on one machine is substituted: ports in the listeners and voters, data folders and the heap.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Optional

from integration.harness import free_port, wait_until
from integration.jvm_archive import archived_lib
from integration.cp_properties import KAFKA_TEMPLATE_EXCLUDED, env_to_props, write_properties
from integration.jvm_tools import LIB, SERVER_HEAP, START_TIMEOUT, TOOL_HEAP, TOOL_JVM, Server, ToolBox
from integration.rendered import rendered_workload
from msa.kafka.cluster_id import new_cluster_id
from msa.names import CONTROLLER_ID_BASE

KRAFT_TOOLS = {
    "kafka-storage": "kafka.tools.StorageTool",
    "kafka-metadata-quorum": "org.apache.kafka.tools.MetadataQuorumCommand",
    "kafka-cluster": "org.apache.kafka.tools.ClusterTool",
}


def add_kraft_tools(tools: ToolBox, lib: Path = LIB) -> ToolBox:
    """The cp-named KRaft tools next to the ToolBox's others (same wrapper as jvm_tools.ToolBox)."""
    lib = archived_lib(lib)
    for tool, main in KRAFT_TOOLS.items():
        script = tools.bin / tool
        script.write_text(textwrap.dedent(f"""\
            #!/usr/bin/env bash
            exec java ${{KAFKA_HEAP_OPTS:-{TOOL_HEAP}}} {TOOL_JVM} -Dlog4j.configuration=file:{tools.log4j} \\
              ${{KAFKA_OPTS:-}} -cp '{lib}/*' {main} "$@"
        """))
        script.chmod(0o755)
    return tools


def kraft_properties_from_env(env: Mapping[str, str]) -> dict[str, str]:
    """server.properties as cp-kafka 7.9's configure + template write it in KRaft mode."""
    if not env.get("CLUSTER_ID"):
        raise ValueError("cp-kafka refuses to start: CLUSTER_ID is required in KRaft mode")
    if env.get("KAFKA_PROCESS_ROLES") == "controller":
        if env.get("KAFKA_ADVERTISED_LISTENERS"):
            raise ValueError("cp-kafka refuses to start: KAFKA_ADVERTISED_LISTENERS is not supported on a KRaft controller")
    elif not env.get("KAFKA_ADVERTISED_LISTENERS"):
        raise ValueError("cp-kafka refuses to start: KAFKA_ADVERTISED_LISTENERS is required")
    env = {**env}
    env.setdefault("KAFKA_LOG_DIRS", "/var/lib/kafka/data")
    props = env_to_props(env, "KAFKA_", "", exclude=KAFKA_TEMPLATE_EXCLUDED)
    props.update(env_to_props(env, "CONFLUENT_SUPPORT_", "confluent.support."))
    return props


# Stand-in for /etc/confluent/docker/run: the env the start command hands to cp-kafka, as JSON.
RUN_STANDIN = "#!/usr/bin/env bash\nexec python3 -c 'import json,os,sys; json.dump(dict(os.environ), open(sys.argv[1], \"w\"))' \"$MSA_ENV_OUT\"\n"
# Stand-in for /etc/confluent/docker/configure (the format step of an authenticating stack runs it before
# `kafka-storage format`): the properties as cp-kafka writes them, at $MSA_PROPS_OUT (for /etc/kafka/kafka.properties).
CONFIGURE_STANDIN = (
    "#!/usr/bin/env bash\nexec \"$MSA_PYTHON\" -c 'import os,sys; from pathlib import Path; "
    "from integration.kraft_cluster import kraft_properties_from_env, write_properties; "
    "write_properties(Path(sys.argv[1]), kraft_properties_from_env(os.environ))' \"$MSA_PROPS_OUT\"\n"
)
TESTS = Path(__file__).resolve().parents[1]


@dataclass
class KraftNode:
    name: str            # pod name: kafka-0, kafka-controller-1
    node_id: int
    port: int            # the broker listener (0 for a controller-only node)
    controller_port: int  # the controller listener (0 for a broker-only node)
    root: Path
    env: dict[str, str] = field(default_factory=dict)
    server: Optional[Server] = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"


class KraftCluster:
    """Brokers (and dedicated controllers) from the rendered StatefulSets of a KRaft stack."""

    def __init__(self, root: Path, tools: ToolBox, brokers_sts: Mapping, controllers_sts: Optional[Mapping] = None,
                 cluster_id: Optional[str] = None, secrets=None):
        """`secrets(name, key)`: a rendered Secret's value, for the env the kubelet fills from secretKeyRefs."""
        self.root, self.tools = root, add_kraft_tools(tools)
        self.cluster_id = cluster_id or new_cluster_id()   # what the kafka-cluster-id resource makes once
        self.specs = {"kafka": _container(brokers_sts, secrets),
                      "kafka-controller": _container(controllers_sts, secrets) if controllers_sts else None}
        self.nodes: dict[str, KraftNode] = {}
        self.probe_config: Optional[Path] = None     # the broker user's client.properties (the probe's SCRAM login)
        root.mkdir(parents=True, exist_ok=True)
        self.standin, self.configure = root / "cp-run", root / "cp-configure"
        for path, text in ((self.standin, RUN_STANDIN), (self.configure, CONFIGURE_STANDIN)):
            path.write_text(text)
            path.chmod(0o755)

    # --- the pods -----------------------------------------------------------------------------------

    def plan(self, brokers: int, controllers: int = 0) -> None:
        """Ports and folders for every pod (a pod keeps them across restarts, like its volume and DNS name)."""
        combined = int(self.specs["kafka"][1].get("MSA_CONTROLLERS", "0"))
        for i in range(controllers):
            self.nodes.setdefault(f"kafka-controller-{i}", KraftNode(f"kafka-controller-{i}", CONTROLLER_ID_BASE + i, 0, free_port(),
                                                                     self.root / f"kafka-controller-{i}"))
        for i in range(brokers):
            self.nodes.setdefault(f"kafka-{i}", KraftNode(f"kafka-{i}", i, free_port(), free_port() if i < combined else 0,
                                                          self.root / f"kafka-{i}"))

    def voters(self) -> str:
        spec = self.specs["kafka-controller"] or self.specs["kafka"]
        voters = []
        for voter in spec[1]["KAFKA_CONTROLLER_QUORUM_VOTERS"].split(","):
            node_id, host = voter.split("@", 1)
            pod = host.split(".", 1)[0]
            assert self.nodes[pod].node_id == int(node_id), (pod, node_id)
            voters.append(f"{node_id}@127.0.0.1:{self.nodes[pod].controller_port}")
        return ",".join(voters)

    def pod_env(self, node: KraftNode) -> dict[str, str]:
        """The rendered env with loopback substitutions, then the rendered start command's own exports."""
        command, env, _ = self.specs["kafka-controller" if node.name.startswith("kafka-controller-") else "kafka"]
        env = {**env, "CLUSTER_ID": self.cluster_id, "POD_NAME": node.name, "HOSTNAME": node.name, "KAFKA_HEAP_OPTS": SERVER_HEAP,
               "KAFKA_CONTROLLER_QUORUM_VOTERS": self.voters(), "KAFKA_LOG_DIRS": str(node.root / "data" / "logs")}
        if node.port:
            # The rendered broker listener (PLAINTEXT, or SCRAM when the stack authenticates) on its loopback port.
            listener = env["KAFKA_LISTENERS"].split("://", 1)[0]
            env["KAFKA_LISTENERS"] = env["KAFKA_ADVERTISED_LISTENERS"] = f"{listener}://127.0.0.1:{node.port}"
        if "MSA_CONTROLLER_LISTENER" in env:
            env["MSA_CONTROLLER_LISTENER"] = f"CONTROLLER://127.0.0.1:{node.controller_port}"
        if not node.port:
            env["KAFKA_LISTENERS"] = f"CONTROLLER://127.0.0.1:{node.controller_port}"
        out = node.root / "start-env.json"
        node.root.mkdir(parents=True, exist_ok=True)
        script = (command.replace("/etc/confluent/docker/run", str(self.standin)).replace("/etc/confluent/docker/configure", str(self.configure))
                  .replace("/etc/kafka/kafka.properties", str(node.root / "server.properties")))
        done = subprocess.run(["bash", "-c", script], env={**self.tools.env(), **env, "MSA_ENV_OUT": str(out), "MSA_PYTHON": sys.executable,
                                                          "MSA_PROPS_OUT": str(node.root / "server.properties"),
                                                          "PYTHONPATH": f"{TESTS}:{TESTS.parent}"},
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"the start command of {node.name} failed:\n{done.stdout}\n{done.stderr}"
        started = json.loads(out.read_text())
        return {k: v for k, v in started.items() if k in env or k.startswith(("KAFKA_", "MSA_", "CLUSTER_ID"))}

    def start_node(self, name: str) -> KraftNode:
        node = self.nodes[name]
        node.env = self.pod_env(node)
        props = kraft_properties_from_env(node.env)
        write_properties(node.root / "server.properties", props)
        # cp-kafka's ensure: format unless formatted already.
        done = self.tools.run("kafka-storage", "format", f"--cluster-id={node.env['CLUSTER_ID']}", "-c", str(node.root / "server.properties"),
                              check=False)
        if done.returncode != 0 and "already formatted" not in (done.stdout + done.stderr).lower():
            raise AssertionError(f"kafka-storage format failed for {name}:\n{done.stdout}\n{done.stderr}")
        node.server = Server(name, ["kafka-server-start", str(node.root / "server.properties")], node.root,
                             self.tools.env(KAFKA_HEAP_OPTS=SERVER_HEAP))
        node.server.start()
        return node

    def start(self, brokers: int, controllers: int = 0) -> "KraftCluster":
        """Every pod at once (podManagementPolicy Parallel), ready by the rendered readiness probe."""
        self.plan(brokers, controllers)
        for name in list(self.nodes):
            self.start_node(name)
        for name in self.nodes:
            self.wait_ready(name)
        return self

    def probe(self, name: str) -> subprocess.CompletedProcess:
        """The pod's readiness probe as the kubelet runs it (its own env, loopback voters; with a login, the
        broker listener's loopback port and the broker user's client.properties in place of the pod's)."""
        node = self.nodes[name]
        command = self.specs["kafka" if node.port else "kafka-controller"][2]
        if len(command) > 4:
            assert self.probe_config, "an authenticating probe needs the broker user's client.properties (probe_config)"
            command = [*command[:4], str(node.port), str(self.probe_config)]
        env = {**os.environ, **node.env, "HOSTNAME": name, "KAFKA_READY_PORT": str(node.port)}
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=20)

    def ready(self, name: str) -> bool:
        return self.probe(name).returncode == 0

    def probe_output(self, name: str) -> str:
        return self.probe(name).stdout

    def wait_ready(self, name: str, timeout: float = START_TIMEOUT + 60) -> None:
        def ready() -> bool:
            server = self.nodes[name].server
            if not server.running:
                raise AssertionError(f"{name} exited:\n{server.log_tail()}")
            return self.ready(name)
        wait_until(ready, timeout, f"{name} to be ready", interval=1)

    def remove_broker(self, ordinal: int) -> None:
        """A StatefulSet scale-down: the pod stops; its volume stays behind."""
        node = self.nodes.pop(f"kafka-{ordinal}")
        node.server.stop()

    def add_brokers(self, count: int) -> None:
        before = set(self.nodes)
        self.plan(count)
        for name in sorted(set(self.nodes) - before):
            self.start_node(name)
        for name in sorted(set(self.nodes) - before):
            self.wait_ready(name)

    @property
    def bootstrap_servers(self) -> str:
        return ",".join(n.address for n in self.nodes.values() if n.port and n.server and n.server.running)

    def brokers(self) -> list[KraftNode]:
        return [n for n in self.nodes.values() if n.port]

    def stop(self, kill: bool = False) -> None:
        # Brokers before controllers: a broker shuts down cleanly only while the quorum answers.
        # `kill`: SIGKILL, for a teardown that throws the data away.
        for node in sorted(self.nodes.values(), key=lambda n: not n.port):
            if node.server:
                node.server.stop(kill=kill)


def _container(sts: Mapping, secrets=None) -> tuple[str, dict[str, str], list[str]]:
    """(start command, env, readiness probe command); env from secretKeyRefs through `secrets(name, key)`."""
    (container,) = sts["spec"]["template"]["spec"]["containers"]
    assert container["command"][:2] == ["bash", "-c"]
    env = {e["name"]: e["value"] for e in container["env"] if isinstance(e.get("value"), str)}
    for entry in container["env"]:
        ref = entry.get("valueFrom", {}).get("secretKeyRef")
        if ref:
            assert secrets, f"{entry['name']} comes from Secret {ref['name']}: pass the rendered Secrets"
            env[entry["name"]] = secrets(ref["name"], ref["key"])
    return container["command"][2], env, container["readinessProbe"]["exec"]["command"]


def kraft_stack(stack: str = "dev", edit=None) -> tuple[dict, Optional[dict]]:
    """The broker and (dedicated) controller StatefulSets of `stack` rendered with mode: kraft."""
    from conftest import open_kafka_then, run_stack

    def kraft(values):
        values["msa:kafka"]["mode"] = "kraft"
        if edit:
            edit(values)
    result = run_stack(stack, open_kafka_then(kraft))
    workloads = {o["metadata"]["name"]: o for o in result.kubernetes_objects() if o["kind"] == "StatefulSet"}
    return workloads["kafka"], workloads.get("kafka-controller")


__all__ = ["KraftCluster", "kraft_stack", "kraft_properties_from_env", "add_kraft_tools", "rendered_workload"]
