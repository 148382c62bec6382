#!/usr/bin/env python3
"""Build the tests' class-data sharing archive once (jvm_archive.py says why), before the test run.

    venv/bin/python tests/integration/build_jvm_archive.py        # nothing to do when it exists for this jar set

A short training run on loopback lists the classes the JVMs load: a ZooKeeper server, a ZooKeeper-mode
broker, a KRaft combined node and the Kafka tools the tests' Jobs and harness call. The union is then dumped
into one static archive (`java -Xshare:dump`), written under a temporary name and renamed into place, so a
half-written archive is never used. Any failure leaves no archive: the tests then run without one.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from integration.harness import free_port, wait_for  # noqa: E402
from integration.jvm_archive import LIB, archive_dir  # noqa: E402
from integration.cp_properties import write_properties  # noqa: E402
from integration.jvm_tools import Server, ToolBox  # noqa: E402
from integration.zookeeper_ensemble import four_letter_word  # noqa: E402
from integration.kraft_cluster import add_kraft_tools  # noqa: E402


class Training:
    """Servers and tool runs, each JVM writing the classes it loaded to a list of its own."""

    def __init__(self, root: Path, lib: Path):
        self.root = root
        self.tools = add_kraft_tools(ToolBox(root / "tools", lib), lib)
        self.lists: list[Path] = []
        self.servers: list[Server] = []

    def opts(self, name: str) -> str:
        path = self.root / f"{name}-{len(self.lists)}.classes"
        self.lists.append(path)
        return f"-XX:DumpLoadedClassList={path}"

    def server(self, name: str, props: Path) -> Server:
        server = Server(name, ["kafka-server-start" if name != "zookeeper" else "zookeeper-server-start", str(props)],
                        self.root, self.tools.env(KAFKA_OPTS=self.opts(name)))
        server.start()
        self.servers.append(server)
        return server

    def tool(self, *args: str, stdin: str | None = None, check: bool = True) -> str:
        result = subprocess.run(list(args), env=self.tools.env(KAFKA_OPTS=self.opts(args[0])), input=stdin,
                                capture_output=True, text=True, timeout=120)
        if check and result.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} exited {result.returncode}: {result.stderr[-2000:]}")
        return result.stdout

    def stop(self) -> None:
        for server in reversed(self.servers):
            server.stop()


def zookeeper_mode(t: Training) -> None:
    zk_port, broker_port = free_port(), free_port()
    zk = write_properties(t.root / "zookeeper.properties", {
        "dataDir": str(t.root / "zk"), "clientPort": str(zk_port), "clientPortAddress": "127.0.0.1",
        "admin.enableServer": "false", "4lw.commands.whitelist": "*"})
    t.server("zookeeper", zk)
    wait_for(lambda: "Mode" in four_letter_word(zk_port), 90, "the training ZooKeeper")
    broker = write_properties(t.root / "broker.properties", {
        "broker.id": "0", "listeners": f"PLAINTEXT://127.0.0.1:{broker_port}", "zookeeper.connect": f"127.0.0.1:{zk_port}",
        "log.dirs": str(t.root / "kafka-logs"), "offsets.topic.replication.factor": "1", "offsets.topic.num.partitions": "1",
        "transaction.state.log.replication.factor": "1", "transaction.state.log.min.isr": "1",
        "group.initial.rebalance.delay.ms": "0"})
    t.server("kafka", broker)
    bootstrap = f"127.0.0.1:{broker_port}"
    wait_for(lambda: "training" in t.tool("kafka-topics", "--bootstrap-server", bootstrap, "--create", "--if-not-exists",
                                          "--topic", "training", "--partitions", "2", check=False), 120, "the training broker")
    tools(t, bootstrap)
    t.tool("zookeeper-shell", f"127.0.0.1:{zk_port}", stdin="ls /brokers/ids\n")


def tools(t: Training, bootstrap: str) -> None:
    b = ["--bootstrap-server", bootstrap]
    t.tool("kafka-topics", *b, "--describe", "--topic", "training")
    t.tool("kafka-configs", *b, "--entity-type", "brokers", "--entity-default", "--alter", "--add-config",
           "leader.replication.throttled.rate=10000000")
    t.tool("kafka-configs", *b, "--entity-type", "brokers", "--entity-default", "--describe")
    t.tool("kafka-console-producer", *b, "--topic", "training", stdin="one\ntwo\n")
    t.tool("kafka-console-consumer", *b, "--topic", "training", "--from-beginning", "--max-messages", "2",
           "--group", "training", "--timeout-ms", "30000")
    t.tool("kafka-consumer-groups", *b, "--describe", "--group", "training", check=False)
    t.tool("kafka-get-offsets", *b, "--topic", "training")
    t.tool("kafka-log-dirs", *b, "--describe")
    t.tool("kafka-transactions", *b, "list")
    t.tool("kafka-broker-api-versions", *b)
    t.tool("kafka-leader-election", *b, "--election-type", "preferred", "--all-topic-partitions", check=False)
    plan = t.root / "topics.json"
    plan.write_text('{"version":1,"topics":[{"topic":"training"}]}')
    t.tool("kafka-reassign-partitions", *b, "--topics-to-move-json-file", str(plan), "--broker-list", "0", "--generate")
    t.tool("kafka-producer-perf-test", "--topic", "training", "--num-records", "50", "--record-size", "100",
           "--throughput", "-1", "--producer-props", f"bootstrap.servers={bootstrap}")


def kraft_mode(t: Training) -> None:
    broker_port, controller_port = free_port(), free_port()
    props = write_properties(t.root / "kraft.properties", {
        "process.roles": "broker,controller", "node.id": "1", "controller.quorum.voters": f"1@127.0.0.1:{controller_port}",
        "listeners": f"PLAINTEXT://127.0.0.1:{broker_port},CONTROLLER://127.0.0.1:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{broker_port}", "controller.listener.names": "CONTROLLER",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "log.dirs": str(t.root / "kraft-logs"), "offsets.topic.replication.factor": "1",
        "transaction.state.log.replication.factor": "1", "transaction.state.log.min.isr": "1"})
    t.tool("kafka-storage", "format", "-t", str(uuid.uuid4().hex[:22]), "-c", str(props), "--ignore-formatted")
    t.server("kafka-kraft", props)
    bootstrap = f"127.0.0.1:{broker_port}"
    wait_for(lambda: "training" in t.tool("kafka-topics", "--bootstrap-server", bootstrap, "--create", "--if-not-exists",
                                          "--topic", "training", check=False), 120, "the training KRaft node")
    t.tool("kafka-metadata-quorum", "--bootstrap-server", bootstrap, "describe", "--status")


def build(folder: Path) -> None:
    """Copy the jars (mtimes kept) to <folder>/lib, train from there, dump <folder>/archive.jsa; renames last."""
    folder.mkdir(parents=True, exist_ok=True)
    lib = folder / "lib"
    if not lib.is_dir():
        partial_lib = folder / f"lib.{uuid.uuid4().hex}.tmp"
        shutil.copytree(LIB, partial_lib, copy_function=shutil.copy2)
        partial_lib.rename(lib)
    with tempfile.TemporaryDirectory(prefix="msa-jvm-archive-") as tmp:
        t = Training(Path(tmp), lib)
        for mode in (zookeeper_mode, kraft_mode):
            step = time.monotonic()
            try:
                mode(t)
            finally:
                t.stop()
                t.servers.clear()
            print(f"{mode.__name__} {time.monotonic() - step:.0f} s", end="; ")
        classes: dict[str, None] = {}
        for path in t.lists:
            if path.exists():
                classes.update(dict.fromkeys(line for line in path.read_text().splitlines() if line and not line.startswith("#")))
        listing = Path(tmp) / "all.classes"
        listing.write_text("\n".join(classes) + "\n")
        partial = folder / f"archive.{uuid.uuid4().hex}.tmp"
        subprocess.run(["java", "-Xshare:dump", f"-XX:SharedClassListFile={listing}", f"-XX:SharedArchiveFile={partial}",
                        "-cp", f"{lib}/*"], check=True, capture_output=True, text=True, timeout=300)
        partial.rename(folder / "archive.jsa")
        print(f"{len(classes)} classes from {len(t.lists)} JVMs", end="; ")


def main() -> int:
    folder = archive_dir()
    target = folder / "archive.jsa"
    if target.is_file():
        print(f"JVM archive: {target} (exists)")
        return 0
    start = time.monotonic()
    build(folder)
    print(f"JVM archive: {target} ({target.stat().st_size >> 20} MiB, {time.monotonic() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
