#!/usr/bin/env python3
"""The real engine's wall times, as numbers (not a test): per stack, against a fresh loopback control plane
(tests/engine: etcd, kube-apiserver, controller-manager, scheduler, kwok), next to render.py.

    bash tests/engine/build-engine.sh            # once (cached)
    venv/bin/python benchmarks/engine_bench.py [--stacks dev,prod]

Columns: `render.py STACK` as a fresh process; `preview` from empty; the first `up` (real awaits: kwok makes
pods Ready and Job pods Succeeded, so this is the engine + provider + API server + controllers, not image
pulls or JVM start-up); a no-op `up`; a no-op `preview`; and the control plane's own start time.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from engine import conftest as engine_env  # noqa: E402,F401  (applies build-engine.sh --env)
from engine.cluster import ControlPlane, missing_binaries  # noqa: E402
from engine.stack import EngineStack  # noqa: E402


def timed(action) -> tuple[float, object]:
    start = time.perf_counter()
    result = action()
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--stacks", default="dev,prod")
    args = parser.parse_args()
    if missing_binaries() or not Path(os.environ.get("MSA_K8S_PROVIDER_BIN", "/nonexistent")).is_file():
        sys.exit(f"missing: {missing_binaries()}; run tests/engine/build-engine.sh")
    print(f"{'stack':6} {'resources':>9} {'render s':>9} {'preview s':>10} {'first up s':>11} {'no-op up s':>11} "
          f"{'no-op preview s':>16} {'cluster start s':>16}")
    for name in args.stacks.split(","):
        with tempfile.TemporaryDirectory(prefix="engine-bench-") as tmp:
            command = [sys.executable, "render.py", name, "--out", f"{tmp}/rendered"]
            render_s, _ = timed(lambda: subprocess.run(command, cwd=ROOT, check=True, capture_output=True))  # noqa: B023
            with ControlPlane(Path(tmp) / "k8s") as control_plane:
                stack = EngineStack(Path(tmp) / "stack", name, control_plane)
                preview_s, _ = timed(stack.preview)
                up_s, first = timed(stack.up)
                noop_s, noop = timed(stack.up)
                noop_preview_s, _ = timed(stack.preview)
                assert set(noop.changes) == {"same"}, noop.changes
                print(f"{name:6} {sum(first.changes.values()):>9} {render_s:>9.1f} {preview_s:>10.1f} {up_s:>11.1f} "
                      f"{noop_s:>11.1f} {noop_preview_s:>16.1f} {control_plane.start_seconds:>16.1f}", flush=True)


if __name__ == "__main__":
    main()
