#!/usr/bin/env python3
"""Render speed and output size, as numbers (not a test).

    venv/bin/python benchmarks/render_bench.py [--runs N]

Per stack: wall time of one in-process render (program under the mock runtime + writing the files),
median and max over N runs after one warm-up, the number of Kubernetes objects and the size of
kubernetes.yaml; and the cold wall time of `python render.py STACK` as a fresh process (imports included).
"""

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import render  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    print(f"{'stack':6} {'objects':>7} {'yaml bytes':>10} {'in-process median ms':>21} {'max ms':>7} {'cold process ms':>16}")
    for stack in ("dev", "prod"):
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / stack
            render.render(stack, out)  # warm-up: imports and first registration
            times = []
            for _ in range(args.runs):
                start = time.perf_counter()
                result = render.render(stack, out)
                times.append((time.perf_counter() - start) * 1000)
            size = (out / "kubernetes.yaml").stat().st_size
            start = time.perf_counter()
            subprocess.run([sys.executable, "render.py", stack, "--out", str(Path(tmp) / "cold")], cwd=ROOT,
                           check=True, capture_output=True)
            cold = (time.perf_counter() - start) * 1000
        print(f"{stack:6} {len(result.kubernetes_objects()):>7} {size:>10} {statistics.median(times):>21.1f} {max(times):>7.1f} {cold:>16.0f}")


if __name__ == "__main__":
    main()
