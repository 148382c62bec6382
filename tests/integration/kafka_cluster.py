"""Real Kafka clusters (ZooKeeper mode) on loopback, configured from the Kafka StatefulSet's rendered env.

Each broker's server.properties is what cp-kafka 7.9 writes from the pod's env (cp_properties.py); only
the listener host and port, the data folder, `zookeeper.connect` and the heap are substituted. What the
StatefulSet does to pods (a rolling update, a scale-down) is a method here. KRaft clusters: kraft_cluster.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from integration.cp_properties import kafka_properties_from_env, write_properties
from integration.harness import free_port, wait_for, wait_until
from integration.jvm_tools import SERVER_HEAP, START_TIMEOUT, Server, ToolBox
from integration.zookeeper_ensemble import ZooKeeperEnsemble


@dataclass
class KafkaBroker:
    broker_id: int
    port: int
    root: Path
    props: dict[str, str]
    server: Server

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"


@dataclass
class KafkaCluster:
    """Brokers 0..N-1 configured from the KafkaCluster StatefulSet's env, against `zookeeper`."""

    root: Path
    tools: ToolBox
    pod_env: dict[str, str]
    zookeeper: ZooKeeperEnsemble
    brokers: dict[int, KafkaBroker] = field(default_factory=dict)

    @property
    def bootstrap_servers(self) -> str:
        return ",".join(b.address for b in self.brokers.values() if b.server.running)

    def broker_env(self, broker_id: int, port: int, root: Path) -> dict[str, str]:
        """The pod's env after KAFKA_START, with the loopback substitutions."""
        env = dict(self.pod_env)
        env["KAFKA_BROKER_ID"] = str(broker_id)                 # KAFKA_START: the pod ordinal
        env["KAFKA_LISTENERS"] = f"PLAINTEXT://127.0.0.1:{port}"
        env["KAFKA_ADVERTISED_LISTENERS"] = f"PLAINTEXT://127.0.0.1:{port}"
        env["KAFKA_LOG_DIRS"] = str(root / "data" / "logs")
        env["KAFKA_ZOOKEEPER_CONNECT"] = self.zookeeper.connect
        env["KAFKA_HEAP_OPTS"] = SERVER_HEAP
        if "KAFKA_OPTS" in env:   # the ZooKeeper login's Secret volume -> its files here (integration/zookeeper_auth.py)
            from integration.zookeeper_auth import localize_login

            env["KAFKA_OPTS"] = localize_login(env["KAFKA_OPTS"], self.root / "zookeeper-login")
        return env

    def server_env(self, env: Mapping[str, str]) -> dict[str, str]:
        """The JVM's env: cp-kafka's start passes KAFKA_HEAP_OPTS and KAFKA_OPTS to java."""
        return self.tools.env(KAFKA_HEAP_OPTS=env["KAFKA_HEAP_OPTS"], KAFKA_OPTS=env.get("KAFKA_OPTS", ""))

    def add_broker(self, broker_id: int) -> KafkaBroker:
        """Start broker `broker_id` (a new one, or again with its old data folder and port)."""
        if broker_id in self.brokers:
            broker = self.brokers[broker_id]
        else:
            root = self.root / f"kafka-{broker_id}"
            root.mkdir(parents=True, exist_ok=True)
            port = free_port()
            env = self.broker_env(broker_id, port, root)
            props = kafka_properties_from_env(env)
            write_properties(root / "server.properties", props)
            server = Server(f"kafka-{broker_id}", ["kafka-server-start", str(root / "server.properties")], root, self.server_env(env))
            broker = self.brokers[broker_id] = KafkaBroker(broker_id, port, root, props, server)
        broker.server.start()
        return broker

    def start(self, count: int) -> "KafkaCluster":
        """Every broker registered and Ready by the pod's readiness probe, as a StatefulSet's pods are before the
        Service sends them clients: registered alone, a broker may not listen yet nor know the controller (a
        CreateTopics then waited for one past librdkafka's timeout on a loaded CI machine)."""
        for broker_id in range(count):
            self.add_broker(broker_id)
        self.wait_registered(list(range(count)))
        for broker_id in range(count):
            self.wait_ready(broker_id)
        return self

    def _zookeeper_read(self, read):
        """read(client) against the cluster's ZooKeeper (kazoo; no JVM start), the controller's committed state."""
        from kazoo.client import KazooClient

        client = KazooClient(hosts=self.zookeeper.connect, timeout=5)
        client.start(timeout=10)
        try:
            return read(client)
        finally:
            client.stop()
            client.close()

    def registered(self) -> set[int]:
        return self._zookeeper_read(
            lambda zk: {int(i) for i in zk.get_children("/brokers/ids")} if zk.exists("/brokers/ids") else set())

    def wait_registered(self, broker_ids: list[int], timeout: float = START_TIMEOUT) -> None:
        def up() -> bool:
            for broker_id in broker_ids:
                server = self.brokers[broker_id].server
                if not server.running:
                    raise AssertionError(f"{server.name} exited:\n{server.log_tail()}")
            return set(broker_ids) <= self.registered()
        wait_for(up, timeout, f"brokers {broker_ids} to register in ZooKeeper")

    def roll(self, pod_env: Mapping[str, str], down_seconds: float = 0) -> None:
        """What a StatefulSet update does to running pods: one at a time, restart with the new env, the next
        only once the previous one is Ready (the rendered readiness probe). `down_seconds`: how long a pod
        stays away between stop and start (image pull, scheduling, volume attach on a real node)."""
        self.pod_env = dict(pod_env)
        for broker_id in sorted(self.brokers, reverse=True):   # the controller updates the highest ordinal first
            broker = self.brokers[broker_id]
            broker.server.stop()
            time.sleep(down_seconds)
            env = self.broker_env(broker_id, broker.port, broker.root)
            broker.props = kafka_properties_from_env(env)
            broker.server.env = self.server_env(env)
            write_properties(broker.root / "server.properties", broker.props)
            broker.server.start()
            self.wait_ready(broker_id)

    def ready(self, broker_id: int) -> bool:
        """The pod's readiness probe (registered, in sync for every partition it holds), run as the kubelet would."""
        from msa.kafka.jobs import kafka_ready_script

        env = {**os.environ, "HOSTNAME": f"kafka-{broker_id}", "KAFKA_READY_PORT": str(self.brokers[broker_id].port)}
        return subprocess.run(["python3", "-S", "-c", kafka_ready_script()], env=env, capture_output=True, timeout=15).returncode == 0

    def wait_ready(self, broker_id: int, timeout: float = START_TIMEOUT + 60) -> None:
        def ready() -> bool:
            server = self.brokers[broker_id].server
            if not server.running:
                raise AssertionError(f"{server.name} exited:\n{server.log_tail()}")
            return self.ready(broker_id)
        wait_until(ready, timeout, f"broker {broker_id} to be ready", interval=1)

    def stop_broker(self, broker_id: int, kill: bool = False) -> None:
        self.brokers[broker_id].server.stop(kill=kill)

    def remove_broker(self, broker_id: int) -> None:
        """What a StatefulSet scale-down does: stop the pod; its volume (data folder) stays behind unused."""
        self.stop_broker(broker_id)
        del self.brokers[broker_id]

    def stop(self, kill: bool = False) -> None:
        for broker in self.brokers.values():
            broker.server.stop(kill=kill)

    # --- client-side views (librdkafka; no JVM start) ---

    def admin(self):
        from confluent_kafka.admin import AdminClient

        return AdminClient({"bootstrap.servers": self.bootstrap_servers})

    def topics(self, include_internal: bool = True) -> dict[str, dict[int, "PartitionState"]]:
        """topic -> partition -> replicas (a reassignment's removed ones included until it ends), in-sync replicas,
        leader: as the controller committed them to ZooKeeper. Not from a metadata request: a broker's metadata
        cache trails the controller, and one that just restarted answered a finished move's midway replica set
        seconds after the move ended (CI, test_three_to_one_keeps_every_record_and_transactions_work)."""
        from kazoo.exceptions import NoNodeError

        def read(zk) -> dict[str, dict[int, PartitionState]]:
            deleting = set(zk.get_children("/admin/delete_topics")) if zk.exists("/admin/delete_topics") else set()
            found = {}
            for name in zk.get_children("/brokers/topics"):
                if name in deleting or not (include_internal or not name.startswith("__")):
                    continue
                try:
                    assignment = json.loads(zk.get(f"/brokers/topics/{name}")[0])["partitions"]
                except NoNodeError:     # deleted meanwhile
                    continue
                found[name] = {}
                for number, replicas in sorted(assignment.items(), key=lambda item: int(item[0])):
                    try:
                        state = json.loads(zk.get(f"/brokers/topics/{name}/partitions/{number}/state")[0])
                    except NoNodeError:     # a new topic whose partitions the controller has not started yet
                        state = {"isr": [], "leader": -1}
                    found[name][int(number)] = PartitionState(list(replicas), sorted(state["isr"]), state["leader"])
            return found
        return self._zookeeper_read(read)


@dataclass(frozen=True)
class PartitionState:
    replicas: list[int]
    isr: list[int]
    leader: int
