#!/usr/bin/env python3
"""What KRaft saves in dev: pods, volumes, memory requests and start-up time of the Kafka side, ZooKeeper
mode vs KRaft combined mode, as numbers (not a test).

    venv/bin/python benchmarks/kraft_bench.py [--runs N] [--stack dev]

Pods, volumes and memory come from what the stack renders (`mode: zookeeper` as committed, and the same
stack with `mode: kraft`): every StatefulSet of the metadata quorum and the brokers, replicas x the
container's memory request. Start-up time is measured with the real Kafka 3.9.1 the integration tests
run (tests/integration/kafka_cluster.py, kraft_cluster.py), configured from the rendered env: from the
first server's start until every broker passes the rendered readiness probe (ZooKeeper mode: ZooKeeper
first, then the broker; KRaft: `kafka-storage format`, then the one combined JVM). Loopback, small heaps
(the harness's); a real node adds image pulls and volume attach to both. Needs the jars that
`mvn -B -q -f tests/jvm/pom.xml package -DskipTests` lays out.
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from integration.jvm_tools import LIB, ToolBox  # noqa: E402
from integration.kafka_world import KafkaWorld  # noqa: E402
from integration.kraft_cluster import KraftCluster, kraft_stack  # noqa: E402

from msa.config.forms import quantity_value  # noqa: E402

KAFKA_SIDE = ("zookeeper", "kafka", "kafka-controller")


def footprint(stack: str, mode: str) -> tuple[int, int, int]:
    """(pods, volumes, memory requested in MiB) of the rendered metadata quorum and brokers."""
    from conftest import run_stack

    result = run_stack(stack, lambda v: v["msa:kafka"].update(mode=mode))
    pods = volumes = memory = 0
    for sts in (o for o in result.kubernetes_objects() if o["kind"] == "StatefulSet" and o["metadata"]["name"] in KAFKA_SIDE):
        replicas = sts["spec"]["replicas"]
        pods += replicas
        volumes += replicas * len(sts["spec"].get("volumeClaimTemplates", []))
        for container in sts["spec"]["template"]["spec"]["containers"]:
            memory += replicas * int(quantity_value(container["resources"]["requests"]["memory"])) // 2**20
    return pods, volumes, memory


def start_zookeeper_mode(root: Path, tools: ToolBox, stack: str) -> float:
    world = KafkaWorld(root, tools)
    started = time.perf_counter()
    try:
        cluster = world.start(brokers=1, zookeepers=1, stack=stack)
        cluster.wait_ready(0)
        return time.perf_counter() - started
    finally:
        world.stop()


def start_kraft_mode(root: Path, tools: ToolBox, stack: str) -> float:
    brokers, controllers = kraft_stack(stack)
    cluster = KraftCluster(root / "kraft", tools, brokers, controllers)
    started = time.perf_counter()
    try:
        cluster.start(1)
        return time.perf_counter() - started
    finally:
        cluster.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--stack", default="dev")
    args = parser.parse_args()
    if not (LIB / "kafka_2.13-3.9.1.jar").exists():
        sys.exit(f"missing {LIB}: run mvn -B -q -f tests/jvm/pom.xml package -DskipTests")
    print(f"{args.stack}: the Kafka side as rendered (metadata quorum + brokers)")
    print(f"{'mode':<10} {'pods':>4} {'volumes':>7} {'memory requests':>16}  start-up to ready, s (runs)")
    for mode, start in (("zookeeper", start_zookeeper_mode), ("kraft", start_kraft_mode)):
        pods, volumes, memory = footprint(args.stack, mode)
        times = []
        for _ in range(args.runs):
            with tempfile.TemporaryDirectory() as tmp:
                times.append(start(Path(tmp), ToolBox(Path(tmp) / "tools"), args.stack))
        shown = " ".join(f"{t:.1f}" for t in times)
        print(f"{mode:<10} {pods:>4} {volumes:>7} {memory:>12} MiB  median {statistics.median(times):.1f} ({shown})", flush=True)


if __name__ == "__main__":
    main()
