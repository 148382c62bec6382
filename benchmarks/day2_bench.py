#!/usr/bin/env python3
"""Cost of the readiness probes and run time of the day-two Jobs on a real loopback cluster (not a test).

    venv/bin/python benchmarks/day2_bench.py [--runs N]

Starts 3 ZooKeeper members (the pods' start script) and 3 brokers configured as the prod stack
renders them, then prints, per probe, the median and max wall time and the CPU time (user+sys of the
probe process and its children) of one run, next to what a JVM-based check (a Kafka CLI tool) costs;
and the wall time of the kafka-drain / kafka-rebalance / zookeeper-shrink scripts as the Jobs run them.
"""

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from conftest import by_name, run_stack  # noqa: E402
from integration.jvm_tools import ToolBox  # noqa: E402
from integration.kafka_world import KafkaWorld  # noqa: E402
from integration.rendered import run_job_script  # noqa: E402


def measure(command: list[str], env: dict, runs: int) -> tuple[float, float, float, int]:
    """(median wall ms, max wall ms, median CPU ms, last exit code) of `command`."""
    walls, cpus, code = [], [], 0
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        code = subprocess.run(command, env=env, capture_output=True).returncode
        walls.append((time.perf_counter() - start) * 1000)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)) * 1000)
    return statistics.median(walls), max(walls), statistics.median(cpus), code


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="msa-day2-"))
    tools = ToolBox(root / "tools")
    world = KafkaWorld(root, tools)
    try:
        cluster = world.start(brokers=3, zookeepers=3, stack="prod")
        tools.run("kafka-topics", "--bootstrap-server", cluster.bootstrap_servers, "--create", "--topic", "bench",
                  "--partitions", "12", "--replication-factor", "3")
        tools.run("kafka-producer-perf-test", "--topic", "bench", "--num-records", "200000", "--record-size", "200",
                  "--throughput", "-1", "--producer-props", f"bootstrap.servers={cluster.bootstrap_servers}", "acks=all")
        kafka = by_name(run_stack("prod"), "StatefulSet", "kafka")["spec"]["template"]["spec"]["containers"][0]
        broker = cluster.brokers[0]
        kafka_env = {**os.environ, "HOSTNAME": "kafka-0", "KAFKA_READY_PORT": str(broker.port)}
        zk = cluster.zookeeper
        zk_env = tools.env(**zk.member_env(zk.members[0], ""))
        rows = [
            ("kafka readiness (python3, Metadata v0)", kafka["readinessProbe"]["exec"]["command"], kafka_env, args.runs),
            ("zookeeper readiness (bash, srvr)", ["bash", "-c", zk.ready_script], zk_env, args.runs),
            ("JVM check: kafka-broker-api-versions", ["kafka-broker-api-versions", "--bootstrap-server", broker.address],
             tools.env(), 3),
            ("JVM check: zookeeper-shell ls /brokers/ids", ["zookeeper-shell", zk.members[0].connect, "ls", "/brokers/ids"],
             tools.env(), 3),
        ]
        print(f"{'probe':44} {'runs':>4} {'median ms':>10} {'max ms':>8} {'CPU ms':>8} {'exit':>4}")
        for name, command, env, runs in rows:
            median, worst, cpu, code = measure(command, env, runs)
            print(f"{name:44} {runs:>4} {median:>10.0f} {worst:>8.0f} {cpu:>8.0f} {code:>4}")

        print(f"\n{'job script (prod, 3 brokers, 12x3 partitions + internal topics, 40 MB)':72} {'seconds':>8} {'exit':>4}")
        loopback = {"BOOTSTRAP_SERVERS": cluster.bootstrap_servers, "ZOOKEEPER_CONNECT": zk.connect}
        for label, brokers, job in (("kafka-drain, no change (3 -> 3)", 3, "kafka-drain"),
                                    ("kafka-rebalance, no change (3 -> 3)", 3, "kafka-rebalance"),
                                    ("kafka-drain 3 -> 2 (moves every replica off broker 2)", 2, "kafka-drain")):
            rendered = by_name(run_stack("prod", lambda v, n=brokers: v["msa:kafka"].update(brokers=n)), "Job", job)
            start = time.perf_counter()
            done = run_job_script(rendered, tools, loopback, timeout=1200)
            print(f"{label:72} {time.perf_counter() - start:>8.1f} {done.returncode:>4}")
        shrink = by_name(run_stack("prod"), "Job", "zookeeper-shrink")
        start = time.perf_counter()
        done = run_job_script(shrink, tools, {"ZK_ENSEMBLE_CONNECT": zk.connect}, timeout=300)
        print(f"{'zookeeper-shrink, no change (3 -> 3)':72} {time.perf_counter() - start:>8.1f} {done.returncode:>4}")
    finally:
        world.stop()


if __name__ == "__main__":
    main()
