#!/usr/bin/env python3
"""How long the node script takes on real containerd, and how long containerd is restarted.

    venv/bin/python benchmarks/node_script_bench.py      (as root, after .ci/run's package installs)

For each containerd line found (1.6 system, 1.7 and 2.x from tests/integration/fetch-containerd.sh):
first apply on the stock default config (rewrite + restart + CRI health check), second apply (no-op),
and revert (restore + restart), wall time in ms, median of N runs.
"""

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from msa.config import Cluster, Harbor  # noqa: E402
from msa.nodes.containerd import node_script  # noqa: E402
from integration.harness import Containerd, containerd_versions  # noqa: E402


def timed(script: Path, action: str, daemon: Containerd) -> float:
    start = time.perf_counter()
    subprocess.run(["bash", str(script), action], env=daemon.script_env(), check=True, capture_output=True)
    return (time.perf_counter() - start) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print(f"{'containerd':10} {'apply ms':>9} {'re-apply ms':>12} {'revert ms':>10}")
    for version, bin_dir in containerd_versions().items():
        rows = []
        for _ in range(args.runs):
            with tempfile.TemporaryDirectory() as tmp:
                tmp = Path(tmp)
                stock = subprocess.run([str(bin_dir / "containerd"), "config", "default"], check=True, capture_output=True, text=True).stdout
                daemon = Containerd(bin_dir, tmp / "node", stock, "127.0.0.1 localhost\n")
                script = tmp / "node.sh"
                script.write_text(node_script("bench", Harbor(host="harbor.test:5000"), Cluster()))
                daemon.start()
                try:
                    rows.append((timed(script, "apply", daemon), timed(script, "apply", daemon), timed(script, "revert", daemon)))
                finally:
                    daemon.stop()
        apply, again, revert = (statistics.median(col) for col in zip(*rows))
        print(f"{version:10} {apply:>9.0f} {again:>12.0f} {revert:>10.0f}")


if __name__ == "__main__":
    main()
