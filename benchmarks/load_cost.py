#!/usr/bin/env python3
"""What the day-two tests' client load (tests/integration/kafka_load.py) costs the brokers it writes to.

    venv/bin/python benchmarks/load_cost.py [--seconds 20]

Starts ZooKeeper and three brokers on loopback (the test jars: `mvn -B -q -f tests/jvm/pom.xml package`),
two topics at replication 3, then runs `ProductionLoad` for the given seconds per line: paced as the tests run
it, unpaced (a record round and a transaction as fast as the client goes: what the tests did before), and
the probe alone. Prints the brokers' CPU seconds (user+sys, from /proc) and what the load wrote. The
brokers' idle cost is the `probe only` line, minus the probe's few records.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT)]

from integration.harness import free_port, wait_for  # noqa: E402
from integration.cp_properties import write_properties  # noqa: E402
from integration.jvm_tools import Server, ToolBox, require_jars  # noqa: E402
from integration.zookeeper_ensemble import four_letter_word  # noqa: E402
from integration.kafka_load import RECORD_INTERVAL, TRANSACTION_INTERVAL, ProductionLoad  # noqa: E402

TOPICS = ["orders", "scratch"]


def cpu_seconds(server: Server) -> float:
    fields = Path(f"/proc/{server.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100


def start_cluster(root: Path, tools: ToolBox) -> tuple[list[Server], str]:
    zk_port = free_port()
    zk_props = write_properties(root / "zookeeper.properties", {
        "dataDir": str(root / "zookeeper"), "clientPort": str(zk_port), "clientPortAddress": "127.0.0.1", "admin.enableServer": "false"})
    servers = [Server("zookeeper", ["zookeeper-server-start", str(zk_props)], root, tools.env())]
    servers[0].start()
    wait_for(lambda: "Mode" in four_letter_word(zk_port), 90, "ZooKeeper")
    ports = [free_port() for _ in range(3)]
    for broker_id, port in enumerate(ports):
        props = write_properties(root / f"kafka-{broker_id}.properties", {
            "broker.id": str(broker_id), "listeners": f"PLAINTEXT://127.0.0.1:{port}", "zookeeper.connect": f"127.0.0.1:{zk_port}",
            "log.dirs": str(root / f"kafka-{broker_id}"), "min.insync.replicas": "2",
            "offsets.topic.num.partitions": "4", "transaction.state.log.num.partitions": "4"})
        servers.append(Server(f"kafka-{broker_id}", ["kafka-server-start", str(props)], root, tools.env()))
        servers[-1].start()
    bootstrap = ",".join(f"127.0.0.1:{p}" for p in ports)
    for topic in TOPICS:
        create = ["kafka-topics", "--bootstrap-server", bootstrap, "--create", "--if-not-exists", "--topic", topic,
                  "--partitions", "3", "--replication-factor", "3"]
        wait_for(lambda topic=topic, create=create: topic in subprocess.run(create, env=tools.env(), capture_output=True, text=True).stdout,
                 120, f"topic {topic}")
    time.sleep(3)
    return servers, bootstrap


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    require_jars()
    with tempfile.TemporaryDirectory(prefix="msa-load-cost-") as tmp:
        root = Path(tmp)
        tools = ToolBox(root / "tools")
        servers, bootstrap = start_cluster(root, tools)
        brokers = servers[1:]
        try:
            # A first, unmeasured run: the brokers' first transactions load the coordinator and warm the JIT.
            lines = (
                ("warm-up", RECORD_INTERVAL, TRANSACTION_INTERVAL, True),
                ("unpaced (about the rate before: a round every 5 ms, a transaction every 0.05 s)", 0.005, 0.05, True),
                (f"paced (a round every {RECORD_INTERVAL}s, a transaction every {TRANSACTION_INTERVAL}s)", RECORD_INTERVAL, TRANSACTION_INTERVAL, True),
                ("probe only", RECORD_INTERVAL, TRANSACTION_INTERVAL, False),
            )
            for name, record_interval, transaction_interval, writers in lines:
                load = ProductionLoad(bootstrap, TOPICS, record_interval, transaction_interval)
                if not writers:   # only the probe thread: the other two writers are left out
                    load._threads = [t for t in load._threads if t.name == "load-_probe_loop"]
                before = sum(cpu_seconds(b) for b in brokers)
                with load:
                    time.sleep(args.seconds)
                used = sum(cpu_seconds(b) for b in brokers) - before
                report = load.report
                if name == "warm-up":
                    continue
                print(f"{name:60s} brokers {used:5.1f} CPU-s in {args.seconds:.0f} s ({used / args.seconds:.2f} of a core); "
                      f"records {len(report.acked)}, transactions {report.commits}, probes {len(report.probes)}")
        finally:
            for server in reversed(servers):
                server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
