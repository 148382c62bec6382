"""The Kafka and ZooKeeper JVMs of the integration tests: the jars, the server processes, the cp-named tools.

The servers run the jars `tests/jvm` lays out (Kafka 3.9.1, ZooKeeper 3.8.4: what cp-kafka and
cp-zookeeper 7.9 ship) with small heaps. `ToolBox` is a bin folder with cp-kafka-named wrappers
(`kafka-topics`, `kafka-reassign-partitions`, `kafka-configs`, ...) around `java -cp lib/* <class>`, so a
script a Job runs in the cp-kafka image runs here unchanged with that folder first on PATH. `Server` is one
server JVM in its own process group.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Optional

from integration.harness import REPO, skip_or_fail
from integration.jvm_archive import archive_flags, archived_lib

LIB = REPO / "tests" / "jvm" / "kafka" / "target" / "lib"
# Small heaps: several servers and tool JVMs share a 2-core test machine with other test runs.
SERVER_HEAP = "-Xms64m -Xmx256m"
TOOL_HEAP = "-Xms32m -Xmx192m"
# The C1 compiler only and the serial collector: a tool JVM lives seconds, a test server a minute or two, too
# short for C2's compile work (a third of a test's CPU) to pay off; none of them is measured for throughput.
# Plus the class-data sharing archive built once before the tests, when there is one (jvm_archive.py).
TOOL_JVM = f"-XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Xshare:auto {archive_flags()}".rstrip()
SERVER_JVM = f"-XX:TieredStopAtLevel=1 -XX:+UseSerialGC {archive_flags()}".rstrip()
START_TIMEOUT = 90.0
STOP_TIMEOUT = 45.0


def require_jars() -> Path:
    """The jar folder, or skip (fail under MSA_REQUIRE_INTEGRATION=1) when it or java is missing."""
    missing = []
    if not (LIB / "kafka_2.13-3.9.1.jar").exists() or not list(LIB.glob("zookeeper-3.8.*.jar")):
        missing.append(f"{LIB.relative_to(REPO)} (mvn -B -q -f tests/jvm/pom.xml package)")
    if not shutil.which("java"):
        missing.append("java (openjdk-17-jdk-headless)")
    if missing:
        skip_or_fail("missing for the integration test: " + ", ".join(missing) + " (.ci/run installs them)")
    return LIB


LOG4J = """\
log4j.rootLogger=WARN, stderr
log4j.appender.stderr=org.apache.log4j.ConsoleAppender
log4j.appender.stderr.Target=System.err
log4j.appender.stderr.layout=org.apache.log4j.PatternLayout
log4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n
"""

# cp image tool name -> main class (Kafka 3.9 moved most tools to org.apache.kafka.tools).
TOOLS = {
    "kafka-topics": "org.apache.kafka.tools.TopicCommand",
    "kafka-configs": "kafka.admin.ConfigCommand",
    "kafka-reassign-partitions": "org.apache.kafka.tools.reassign.ReassignPartitionsCommand",
    "kafka-console-producer": "kafka.tools.ConsoleProducer",
    "kafka-console-consumer": "org.apache.kafka.tools.consumer.ConsoleConsumer",
    "kafka-producer-perf-test": "org.apache.kafka.tools.ProducerPerformance",
    "kafka-consumer-groups": "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
    "kafka-transactions": "org.apache.kafka.tools.TransactionsCommand",
    "kafka-get-offsets": "org.apache.kafka.tools.GetOffsetShell",
    "kafka-log-dirs": "org.apache.kafka.tools.LogDirsCommand",
    "kafka-leader-election": "org.apache.kafka.tools.LeaderElectionCommand",
    "kafka-broker-api-versions": "kafka.admin.BrokerApiVersionsCommand",
    # bin/zookeeper-shell.sh passes -server before the caller's arguments
    "zookeeper-shell": "org.apache.zookeeper.ZooKeeperMainWithTlsSupportForKafka -server",
    "kafka-server-start": "kafka.Kafka",
    "zookeeper-server-start": "org.apache.zookeeper.server.quorum.QuorumPeerMain",
    "zookeeper-security-migration": "kafka.admin.ZkSecurityMigrator",
}


# A cp-named wrapper. (Its JVM maps the archive built before the tests, never one recorded by a test's own run:
# a recording kafka-configs once hung at exit past its 120 s bound on a loaded machine.)
WRAPPER = """\
#!/usr/bin/env bash
# test stand-in for cp's @TOOL@: same arguments, same main class
exec java @HEAP@ @JVM@ -Djava.awt.headless=true -Dlog4j.configuration=file:@LOG4J@ ${KAFKA_OPTS:-} -cp '@LIB@/*' @MAIN@ "$@"
"""


class ToolBox:
    """A bin folder of cp-kafka-named wrappers; `env()` puts it first on PATH."""

    def __init__(self, root: Path, lib: Path = LIB):
        lib = archived_lib(lib)    # the archive's copy of the jars when the JVMs map an archive
        self.bin = root / "bin"
        self.bin.mkdir(parents=True, exist_ok=True)
        self.log4j = root / "log4j.properties"
        self.log4j.write_text(LOG4J)
        for tool, main in TOOLS.items():
            server = tool.endswith("-server-start")
            # Like kafka-run-class.sh: KAFKA_HEAP_OPTS and KAFKA_OPTS from the environment win.
            heap = "${KAFKA_HEAP_OPTS:-%s}" % (SERVER_HEAP if server else TOOL_HEAP)
            jvm = SERVER_JVM if server else TOOL_JVM
            script = self.bin / tool
            values = {"@TOOL@": tool, "@HEAP@": heap, "@JVM@": jvm, "@LOG4J@": str(self.log4j), "@LIB@": str(lib),
                      "@MAIN@": main}
            script.write_text(re.sub("@[A-Z0-9]+@", lambda m, values=values: values[m[0]], WRAPPER))
            script.chmod(0o755)

    def env(self, **extra: str) -> dict[str, str]:
        return {**os.environ, "PATH": f"{self.bin}:{os.environ['PATH']}", **extra}

    def run(self, *args: str, timeout: float = 120, check: bool = True, input: Optional[str] = None) -> subprocess.CompletedProcess:
        result = subprocess.run(list(args), env=self.env(), capture_output=True, text=True, timeout=timeout, input=input)
        if check and result.returncode != 0:
            raise AssertionError(f"{' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
        return result


class Server:
    """One JVM server process in its own session (so a stop reaches its whole process group)."""

    def __init__(self, name: str, command: list[str], workdir: Path, env: dict[str, str]):
        self.name = name
        self.command = command
        self.workdir = workdir
        self.env = env
        self.log_path = workdir / f"{name}.log"
        self.process: Optional[subprocess.Popen] = None

    def start(self) -> None:
        log = open(self.log_path, "a")
        self.process = subprocess.Popen(self.command, cwd=self.workdir, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, kill: bool = False) -> None:
        """SIGTERM (a broker shuts down in a controlled way, moving leadership away), SIGKILL after a bound."""
        if not self.running:
            return
        os.killpg(self.process.pid, signal.SIGKILL if kill else signal.SIGTERM)
        try:
            self.process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:]) if self.log_path.exists() else ""
