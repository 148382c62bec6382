#!/usr/bin/env python3
"""How long `verify` takes against a stack whose NodePorts accept connections and never answer, and
when its first check line appears (issue 20: nothing for 70 s, then the table). Numbers, not a test.

    venv/bin/python benchmarks/verify_silent_bench.py [--timeout SECONDS ...]

Runs `verify.py dev --node 127.0.0.1` in a copy of the project with the fixture dev stack, against
three loopback listeners on the stack's NodePorts (30007 Eureka, 30008 config, 30010 gateway), once per
--timeout (default: 5, verify.py's default, and 10, the in-cluster Job's). Prints the seconds until the
first FAIL line, the total, and how many lines name the config server.
"""

import argparse
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from conftest import copy_project  # noqa: E402

PORTS = (30007, 30008, 30010)


def run_once(project: Path, timeout: float) -> tuple[float, float, int]:
    listeners = []
    for port in PORTS:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        s.listen(50)
        listeners.append(s)
    try:
        started = time.monotonic()
        proc = subprocess.Popen([sys.executable, "verify.py", "dev", "--node", "127.0.0.1", "--timeout", str(timeout)],
                                cwd=project, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        first, config_lines = None, 0
        for line in proc.stdout:
            if first is None and line.startswith("FAIL"):
                first = time.monotonic() - started
            config_lines += line.startswith("FAIL  config")
        proc.wait()
        return first or 0.0, time.monotonic() - started, config_lines
    finally:
        for s in listeners:
            s.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, nargs="+", default=[5, 10])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="msa-verify-silent-") as tmp:
        project = copy_project(Path(tmp) / "project")
        (project / "venv").symlink_to(ROOT / "venv")
        for timeout in args.timeout:
            first, total, config_lines = run_once(project, timeout)
            print(f"--timeout {timeout:>4.0f} s: first FAIL line after {first:5.1f} s, done after {total:5.1f} s, "
                  f"{config_lines} line(s) for the config server")
    shutil.rmtree(Path(tmp), ignore_errors=True)


if __name__ == "__main__":
    main()
