#!/usr/bin/env python3
"""Where a command's CPU goes, by kind of process: Kafka brokers, ZooKeeper, each Kafka tool, each Spring app,
the engine's binaries, the pytest workers... A number to cut from, not a test.

    venv/bin/python benchmarks/cpu_by_process.py                       # the whole suite: python3 tasks.py test
    venv/bin/python benchmarks/cpu_by_process.py -- venv/bin/python -m pytest tests/integration/test_mirror.py -n 0

Every second it reads /proc: each process's command line (once) and its user+sys ticks (the latest), and the
machine's busy share; only the command and what descends from it count. A process that lives under a second
between two reads is missed, and a process's last second is lost: the table is a lower bound, and its last
line says how much of the machine's busy CPU it explains (on a machine running nothing else).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TICK = os.sysconf("SC_CLK_TCK")
SERVERS = {"kafka.Kafka": "Kafka broker/controller", "org.apache.zookeeper.server.quorum.QuorumPeerMain": "ZooKeeper server",
           "org.apache.zookeeper.server.ZooKeeperServerMain": "ZooKeeper server"}


def kind(cmdline: str) -> str:
    """A short name for what a process is, from its command line."""
    argv = cmdline.split()
    program = argv[0].rsplit("/", 1)[-1] if argv else ""
    if program == "java":
        if jar := re.search(r"-jar \S*?(spring-[\w.-]+)\.jar", cmdline):
            return f"java: Spring app {jar.group(1)}"
        main = re.search(r" -(?:cp|classpath) \S+ ([\w.$]+)", cmdline)
        if not main:
            return "java: other"
        return "java: " + SERVERS.get(main.group(1), f"tool {main.group(1).rsplit('.', 1)[-1]}")
    if program.startswith("python"):
        if "sys.stdin.readline" in cmdline:      # how xdist (execnet) starts a worker
            return "python: pytest worker (tests, mock renders, inline engine programs, load clients)"
        if "-c" in argv[1:3]:
            return "python: -c (an inline script: probes, Job scripts)"
        args = [a for a in argv[1:] if a == "-m" or not a.startswith("-")]
        if args[:1] == ["-m"] and len(args) > 1:
            return f"python: -m {args[1]}"
        return f"python: {Path(args[0]).name}" if args else "python"
    return program or "(no command line: kernel thread or exiting)"


def ticks() -> tuple[int, int]:
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def sample(root: int, seen: dict, stop: threading.Event) -> None:
    """Every second: the processes descended from `root` (a child of one seen before counts too, so a server
    whose starter exited stays counted), with their command lines and latest CPU ticks."""
    ours = {root}
    while not stop.is_set():
        stats = {}
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                stat = Path(f"/proc/{pid}/stat").read_text()
                stats[int(pid)] = stat[stat.rindex(")") + 2:].split()
            except (OSError, ValueError):
                continue                             # exited between listdir and read
        for pid in sorted(stats):                    # parents (lower pids, mostly) first
            fields = stats[pid]
            parent = int(fields[1])
            if pid not in ours and parent not in ours:
                chain, up = [], parent
                while up in stats and up not in ours and up > 1:
                    chain.append(up)
                    up = int(stats[up][1])
                if up not in ours:
                    continue
                ours.update(chain)
            ours.add(pid)
            key = (pid, fields[19])                  # pid and start time: a reused pid is another process
            used = int(fields[11]) + int(fields[12])
            if key not in seen:
                try:
                    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                except OSError:
                    continue
                seen[key] = [cmdline, used]
            else:
                seen[key][1] = used
        stop.wait(1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("command", nargs="*", default=["python3", "tasks.py", "test"])
    args = parser.parse_args()
    seen: dict = {}
    stop = threading.Event()
    busy0, total0 = ticks()
    start = time.monotonic()
    proc = subprocess.Popen(args.command, cwd=ROOT)
    thread = threading.Thread(target=sample, args=(proc.pid, seen, stop), daemon=True)
    thread.start()
    status = proc.wait()
    wall = time.monotonic() - start
    stop.set()
    thread.join()
    busy1, total1 = ticks()
    machine = (busy1 - busy0) / TICK     # CPU-seconds the machine was busy (all cores, all processes)
    groups: dict[str, list] = defaultdict(lambda: [0.0, 0])
    for cmdline, used in seen.values():
        group = groups[kind(cmdline)]
        group[0] += used / TICK
        group[1] += 1
    counted = sum(cpu for cpu, _ in groups.values())
    print(f"{' '.join(args.command)}: exit {status}, {wall:.0f} s wall, machine busy {machine:.0f} CPU-s "
          f"({100 * (busy1 - busy0) / max(1, total1 - total0):.0f}% of {os.cpu_count()} cores)")
    print(f"{'CPU s':>8} {'procs':>6}  kind")
    for name, (cpu, count) in sorted(groups.items(), key=lambda item: -item[1][0])[:args.top]:
        print(f"{cpu:8.1f} {count:6d}  {name}")
    print(f"{counted:8.1f} {len(seen):6d}  counted: {100 * counted / max(machine, 1e-9):.0f}% of the machine's busy CPU "
          "(the rest: processes shorter than a second, last seconds, the kernel, whatever else ran)")
    return status


if __name__ == "__main__":
    sys.exit(main())
