#!/usr/bin/env python3
"""Where the test suite's time goes: wall and CPU seconds per test file, and for a whole run.

    venv/bin/python benchmarks/test_times.py files tests/integration/test_kafka_resize.py ...   # one pytest per file
    venv/bin/python benchmarks/test_times.py suite [-- PYTEST ARGS]                         # one run, per-file sums
    venv/bin/python benchmarks/test_times.py junit RUN.xml                                   # per-file sums of a junit file

`files`: each file in its own `pytest -n 0` process, one after the other; CPU is user+sys of that process and
every descendant it waited for (os.wait4's rusage: the test servers are children the fixtures reap), so it
is the work a file costs whatever else the shared machine runs, while wall time moves with the load.
`suite`: the whole run as CI runs it (pytest.ini's -n 2 unless PYTEST ARGS say otherwise), its wall and CPU,
the machine's CPU utilisation and load average meanwhile (from /proc), and per file the sum of its tests'
durations from a junit report (setup and teardown included), longest first: what bounds `--dist loadfile`.
Every line says the load average at start and end: compare figures taken on a similarly loaded machine.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = str(ROOT / "venv" / "bin" / "python") if (ROOT / "venv" / "bin" / "python").exists() else sys.executable


def loadavg() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def cpu_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine since boot."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def timed(argv: list[str], env: dict | None = None, log: Path | None = None) -> dict:
    """Run argv; wall seconds, CPU seconds of it and its reaped descendants, exit status, machine load."""
    load0, (busy0, total0), start = loadavg(), cpu_ticks(), time.monotonic()
    peak = [load0]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(5):
            peak[0] = max(peak[0], loadavg())
    threading.Thread(target=sample, daemon=True).start()
    out = open(log, "w") if log else subprocess.DEVNULL
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - start
    done.set()
    busy1, total1 = cpu_ticks()
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "rc": os.waitstatus_to_exitcode(status),
            "load": (load0, loadavg(), peak[0]), "machine_busy": (busy1 - busy0) / max(total1 - total0, 1)}


def module_path(classname: str) -> str:
    """tests.engine.test_engine_day2[.Class] -> tests/engine/test_engine_day2.py (xunit2 reports name no file)."""
    parts = classname.split(".")
    for end in range(len(parts), 0, -1):
        candidate = "/".join(parts[:end]) + ".py"
        if (ROOT / candidate).exists():
            return candidate
    return classname


def per_file(junit: Path) -> dict[str, tuple[float, int]]:
    """file -> (sum of its test cases' times, number of cases) from a pytest junit report."""
    sums: dict[str, list] = defaultdict(lambda: [0.0, 0])
    for case in ET.parse(junit).iter("testcase"):
        path = case.get("file") or module_path(case.get("classname", ""))
        sums[path][0] += float(case.get("time") or 0)
        sums[path][1] += 1
    return {k: (v[0], v[1]) for k, v in sums.items()}


def write_costs(junit: Path, path: Path) -> None:
    """Merge a report's per-file seconds into the scheduler's cost file; files that are gone leave it."""
    import json

    costs = json.loads(path.read_text()) if path.exists() else {}
    costs.update({file: round(seconds, 1) for file, (seconds, _) in per_file(junit).items()})
    costs = {file: costs[file] for file in sorted(costs) if (ROOT / file).exists()}
    path.write_text(json.dumps(costs, indent=1) + "\n")
    print(f"wrote {len(costs)} files' seconds to {path}")


def print_junit(junit: Path, top: int) -> None:
    rows = sorted(per_file(junit).items(), key=lambda kv: -kv[1][0])
    total = sum(t for t, _ in (v for _, v in rows))
    print(f"{'test seconds':>12} {'tests':>5}  file   (sum of case times from {junit}; all files: {total:.0f} s)")
    for path, (seconds, count) in rows[:top]:
        print(f"{seconds:12.1f} {count:5d}  {path}")


def cmd_files(args) -> int:
    env = {**os.environ, "MSA_REQUIRE_INTEGRATION": os.environ.get("MSA_REQUIRE_INTEGRATION", "1")}
    print(f"{'wall s':>8} {'cpu s':>8} {'rc':>3} {'load start/end/peak':>20}  file", flush=True)
    worst = 0
    for path in args.paths:
        r = timed([PYTHON, "-m", "pytest", path, "-n", "0", "-q", "-p", "no:cacheprovider", *args.pytest_args], env,
                  Path(tempfile.gettempdir()) / f"test_times-{Path(path).stem}.log")
        worst = worst or r["rc"]
        load = "/".join(f"{x:.1f}" for x in r["load"])
        print(f"{r['wall']:8.1f} {r['cpu']:8.1f} {r['rc']:3d} {load:>20}  {path}", flush=True)
    return worst


def cmd_suite(args) -> int:
    junit = Path(args.junit or tempfile.mkstemp(prefix="test_times-", suffix=".xml")[1])
    env = {**os.environ, "MSA_REQUIRE_INTEGRATION": os.environ.get("MSA_REQUIRE_INTEGRATION", "1")}
    log = junit.with_suffix(".log")
    r = timed([PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={junit}", *args.pytest_args], env, log)
    load = "/".join(f"{x:.1f}" for x in r["load"])
    print(f"suite: wall {r['wall']:.1f} s, cpu {r['cpu']:.1f} s (cpu/wall {r['cpu'] / r['wall']:.2f}), exit {r['rc']}, "
          f"machine busy {100 * r['machine_busy']:.0f}% of {os.cpu_count()} cores, load start/end/peak {load}; log {log}")
    if junit.exists() and junit.stat().st_size:
        print_junit(junit, args.top)
    return r["rc"]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    files = sub.add_parser("files", help="one pytest -n 0 per file: wall and CPU seconds")
    files.add_argument("paths", nargs="+")
    suite = sub.add_parser("suite", help="one run (pytest.ini's options + PYTEST ARGS): wall, CPU, per-file sums")
    suite.add_argument("--junit", help="where to keep the junit report (default: a temp file)")
    suite.add_argument("--top", type=int, default=25)
    junit = sub.add_parser("junit", help="per-file sums of an existing junit report")
    junit.add_argument("report", type=Path)
    junit.add_argument("--top", type=int, default=25)
    junit.add_argument("--write", type=Path, metavar="JSON",
                       help="merge the per-file seconds into JSON (tests/file_seconds.json: the scheduler's longest-first order)")
    own, _, rest = (argv[: argv.index("--")], None, argv[argv.index("--") + 1:]) if "--" in argv else (argv, None, [])
    args = parser.parse_args(own)
    args.pytest_args = rest
    if args.command == "files":
        return cmd_files(args)
    if args.command == "suite":
        return cmd_suite(args)
    print_junit(args.report, args.top)
    if args.write:
        write_costs(args.report, args.write)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
