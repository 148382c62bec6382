#!/usr/bin/env python3
"""How long the verification's Kafka checks take, as numbers (not a test).

    venv/bin/python benchmarks/verify_bench.py [--runs N] [--brokers 1 3]

Starts a real loopback Kafka 3.9 (tests/integration/kafka_cluster.py: ZooKeeper + N brokers configured
as the stack renders them) and runs the checker's Kafka group the way the Job runs it, N times. Prints
the wall time per run and per tool JVM: the Kafka part dominates the Job's run time (the HTTP checks
take milliseconds), and `activeDeadlineSeconds` must leave room for it. Needs the jars that
`mvn -B -q -f tests/jvm/pom.xml package -DskipTests` lays out.
"""

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from integration.jvm_tools import LIB, ToolBox  # noqa: E402
from integration.kafka_world import KafkaWorld  # noqa: E402
from integration.verify_run import checker_command, install_checker  # noqa: E402

STACK_OF = {1: "dev", 3: "prod"}


def spec_for(stack: str, bootstrap: str) -> dict:
    from conftest import by_name, run_stack

    spec = json.loads(by_name(run_stack(stack), "ConfigMap", "verify")["data"]["spec.json"])
    spec["kafka"]["bootstrap"] = bootstrap
    return spec


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--brokers", type=int, nargs="+", default=[1, 3])
    args = parser.parse_args()
    if not (LIB / "kafka_2.13-3.9.1.jar").exists():
        sys.exit(f"missing {LIB}: run mvn -B -q -f tests/jvm/pom.xml package -DskipTests")
    print(f"{'brokers':>7} {'run':>3} {'wall s':>7}  per tool JVM (s)")
    for brokers in args.brokers:
        with tempfile.TemporaryDirectory() as tmp:
            tools = ToolBox(Path(tmp) / "tools")
            world = KafkaWorld(Path(tmp), tools)
            try:
                cluster = world.start(brokers=brokers, zookeepers=1, stack=STACK_OF.get(brokers, "prod"))
                spec_file = Path(tmp) / "spec.json"
                checker = install_checker(Path(tmp) / "mount")
                spec_file.write_text(json.dumps(spec_for(STACK_OF.get(brokers, "prod"), cluster.bootstrap_servers)))
                walls = []
                for run in range(1, args.runs + 1):
                    start = time.perf_counter()
                    done = subprocess.run([*checker_command(), "--spec", str(spec_file), "--only", "kafka"],
                                          cwd=checker, capture_output=True, text=True, env=tools.env())
                    wall = time.perf_counter() - start
                    walls.append(wall)
                    steps = re.findall(r"msa-verify: (\S+) (\S*) ?exit \d+ in ([\d.]+) s", done.stderr)
                    detail = ", ".join(f"{tool.replace('kafka-', '')}{(' ' + action) if action else ''} {secs}" for tool, action, secs in steps)
                    status = "" if done.returncode == 0 else "  FAILED:\n" + done.stdout
                    print(f"{brokers:>7} {run:>3} {wall:>7.1f}  {detail}{status}", flush=True)
                print(f"{brokers:>7} {'med':>3} {statistics.median(walls):>7.1f}")
            finally:
                world.stop()


if __name__ == "__main__":
    main()
