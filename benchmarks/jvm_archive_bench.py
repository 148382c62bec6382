#!/usr/bin/env python3
"""CPU seconds of the tests' tool JVMs with and without the class-data sharing archive (tests/integration/jvm_archive.py).

    venv/bin/python tests/integration/build_jvm_archive.py   # once: the archive for this jar set
    venv/bin/python benchmarks/jvm_archive_bench.py [--runs 5]

Each run is `kafka-storage format` of a KRaft node (a tool that needs no server and loads Kafka's core, Scala and
the metadata classes, like the tools the tests' Jobs call) through the harness's own wrappers, alternately with
MSA_JVM_ARCHIVE=off and on; CPU is the child's user+sys (os.wait4), so other load on the machine moves it little.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT)]

WRAPPERS = """\
import sys
from pathlib import Path
sys.path[:0] = [{tests!r}, {root!r}]
from integration.jvm_tools import ToolBox
from integration.kraft_cluster import add_kraft_tools
root = Path(sys.argv[1])
tools = add_kraft_tools(ToolBox(root / "tools"))
print(tools.bin)
"""


def toolbox(folder: Path, archive: bool) -> Path:
    """A wrapper folder made in a fresh interpreter (the JVM flags are fixed when jvm_tools is imported)."""
    env = {**os.environ, "MSA_JVM_ARCHIVE": "on" if archive else "off"}
    code = WRAPPERS.format(tests=str(ROOT / "tests"), root=str(ROOT))
    out = subprocess.run([sys.executable, "-c", code, str(folder)], env=env, check=True, capture_output=True, text=True)
    return Path(out.stdout.strip().splitlines()[-1])


def one_format(bin_dir: Path, folder: Path) -> tuple[float, float]:
    props = folder / f"kraft-{uuid.uuid4().hex}.properties"
    props.write_text("process.roles=broker,controller\nnode.id=1\ncontroller.quorum.voters=1@127.0.0.1:9093\n"
                     "listeners=PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093\ncontroller.listener.names=CONTROLLER\n"
                     f"log.dirs={folder / uuid.uuid4().hex}\n")
    start = time.monotonic()
    proc = subprocess.Popen([str(bin_dir / "kafka-storage"), "format", "-t", uuid.uuid4().hex[:22], "-c", str(props)],
                            env={**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"kafka-storage format failed ({bin_dir})")
    return usage.ru_utime + usage.ru_stime, time.monotonic() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    from integration.jvm_archive import archive_flags
    if not archive_flags():
        raise SystemExit("no archive for this jar set: venv/bin/python tests/integration/build_jvm_archive.py")
    with tempfile.TemporaryDirectory(prefix="jvm-archive-bench-") as tmp:
        bins = {mode: toolbox(Path(tmp) / mode, mode == "on") for mode in ("off", "on")}
        samples: dict[str, list[tuple[float, float]]] = {"off": [], "on": []}
        for _ in range(args.runs):
            for mode, bin_dir in bins.items():
                samples[mode].append(one_format(bin_dir, Path(tmp)))
    load = Path("/proc/loadavg").read_text().split()[0]
    print(f"kafka-storage format, {args.runs} runs each, load {load}: median CPU s / wall s")
    for mode, rows in samples.items():
        print(f"  archive {mode:3}: {statistics.median(c for c, _ in rows):5.2f} cpu  {statistics.median(w for _, w in rows):5.2f} wall")
    off, on = (statistics.median(c for c, _ in samples[m]) for m in ("off", "on"))
    print(f"  CPU saved per tool JVM: {100 * (off - on) / off:.0f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
