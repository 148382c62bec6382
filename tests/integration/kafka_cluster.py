"""Real ZooKeeper ensembles and Kafka clusters for integration tests, on loopback, in temporary folders.

The servers run the jars `tests/jvm` lays out (Kafka 3.9.1, ZooKeeper 3.8.4: what cp-kafka and
cp-zookeeper 7.9 ship) with small heaps, and are configured the way the images configure them: the
test takes the env a StatefulSet renders and turns it into a properties file exactly like
cp-kafka 7.9's `kafka.properties.template` (`env_to_props` from confluent-docker-utils' dub.py) and
cp-zookeeper 7.9's `zookeeper.properties.template` do. Only what must differ on one machine is
substituted: listener host and port, data folders, `zookeeper.connect`, peer addresses, the
AdminServer port and the heap.

`ToolBox` is a bin folder with cp-kafka-named wrappers (`kafka-topics`, `kafka-reassign-partitions`,
`kafka-configs`, ...) around `java -cp lib/* <class>`, so a script a Job runs in the cp-kafka image
runs here unchanged with that folder first on PATH.

Fixtures (imported by tests/integration/conftest.py):
- `kafka_jars` (session): the jar folder; fails under MSA_REQUIRE_INTEGRATION=1 when it is missing.
- `kafka_tools` (session): a `ToolBox`.
- `kafka_world`: a factory `world.start(brokers=3, zookeepers=1, stack="prod")` -> `KafkaCluster`;
  every server it started is stopped at the end of the test.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Optional

import pytest

from integration.harness import REPO, free_port, skip_or_fail, wait_for
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


# --- the images' env -> properties translation -----------------------------------------------------

def env_to_props(env: Mapping[str, str], env_prefix: str, prop_prefix: str, exclude=()) -> dict[str, str]:
    """confluent-docker-utils' dub.env_to_props: lower case, `_`->`.`, `__`->`_`, `___`->`-`."""
    single = re.compile("(?<=[^_])_(?=[^_])")
    props = {}
    for name, value in env.items():
        if name not in exclude and name.startswith(env_prefix):
            raw = name[len(env_prefix):].lower()
            dotted = ".".join(single.split(raw))
            props[prop_prefix + "_".join("-".join(dotted.split("___")).split("__"))] = value
    return props


# cp-kafka 7.9.x kafka.properties.template, verbatim, including its missing comma: Jinja joins
# 'KAFKA_HEAP_OPTS' 'KAFKA_LOG4J_OPTS' into one string, so neither is excluded and the broker sees
# `heap.opts=...` (an unknown key it ignores with a warning).
KAFKA_TEMPLATE_EXCLUDED = (
    "KAFKA_VERSION", "KAFKA_HEAP_OPTS" "KAFKA_LOG4J_OPTS", "KAFKA_OPTS", "KAFKA_JMX_OPTS",
    "KAFKA_JVM_PERFORMANCE_OPTS", "KAFKA_GC_LOG_OPTS", "KAFKA_LOG4J_ROOT_LOGLEVEL", "KAFKA_LOG4J_LOGGERS",
    "KAFKA_TOOLS_LOG4J_LOGLEVEL", "KAFKA_ZOOKEEPER_CLIENT_CNXN_SOCKET",
)


def kafka_properties_from_env(env: Mapping[str, str]) -> dict[str, str]:
    """server.properties as cp-kafka 7.9's configure + kafka.properties.template write it."""
    env = dict(env)
    for deprecated in ("KAFKA_PORT", "KAFKA_HOST", "KAFKA_ADVERTISED_PORT", "KAFKA_ADVERTISED_HOST"):
        if deprecated in env:   # configure exits: "port is deprecated. Please use KAFKA_ADVERTISED_LISTENERS instead."
            raise ValueError(f"cp-kafka refuses to start: {deprecated} is set")
    for required in ("KAFKA_ZOOKEEPER_CONNECT", "KAFKA_ADVERTISED_LISTENERS"):
        if required not in env:
            raise ValueError(f"cp-kafka refuses to start: {required} is required")
    env.setdefault("KAFKA_LOG_DIRS", "/var/lib/kafka/data")
    props = env_to_props(env, "KAFKA_", "", exclude=KAFKA_TEMPLATE_EXCLUDED)
    if "KAFKA_ZOOKEEPER_CLIENT_CNXN_SOCKET" in env:
        props["zookeeper.clientCnxnSocket"] = env["KAFKA_ZOOKEEPER_CLIENT_CNXN_SOCKET"]
    props.update(env_to_props(env, "CONFLUENT_SUPPORT_", "confluent.support."))
    return props


# cp-zookeeper 7.9.x zookeeper.properties.template: these variables, nothing else (no env_to_props).
ZOOKEEPER_TEMPLATE_PROPS = {
    "ZOOKEEPER_CLIENT_PORT": "clientPort", "ZOOKEEPER_TICK_TIME": "tickTime",
    "ZOOKEEPER_GLOBAL_OUTSTANDING_LIMIT": "globalOutstandingLimit", "ZOOKEEPER_PRE_ALLOC_SIZE": "preAllocSize",
    "ZOOKEEPER_SNAP_COUNT": "snapCount", "ZOOKEEPER_TRACE_FILE": "traceFile",
    "ZOOKEEPER_MAX_CLIENT_CNXNS": "maxClientCnxns", "ZOOKEEPER_CLIENT_PORT_ADDRESS": "clientPortAddress",
    "ZOOKEEPER_MIN_SESSION_TIMEOUT": "minSessionTimeout", "ZOOKEEPER_MAX_SESSION_TIMEOUT": "maxSessionTimeout",
    "ZOOKEEPER_FSYNC_WARNING_THRESHOLDMS": "fsync.warningthresholdms",
    "ZOOKEEPER_AUTOPURGE_SNAP_RETAIN_COUNT": "autopurge.snapRetainCount",
    "ZOOKEEPER_AUTOPURGE_PURGE_INTERVAL": "autopurge.purgeInterval", "ZOOKEEPER_SYNC_ENABLED": "syncEnabled",
    "ZOOKEEPER_ELECTION_ALG": "electionAlg", "ZOOKEEPER_INIT_LIMIT": "initLimit",
    "ZOOKEEPER_LEADER_SERVES": "leaderServes", "ZOOKEEPER_SYNC_LIMIT": "syncLimit",
    "ZOOKEEPER_CNX_TIMEOUT": "cnxTimeout", "ZOOKEEPER_FORCE_SYNC": "forceSync",
    "ZOOKEEPER_JUTE_MAX_BUFFER": "jute.maxbuffer", "ZOOKEEPER_SKIP_ACL": "skipACL",
    "ZOOKEEPER_QUORUM_LISTEN_ON_ALL_IPS": "quorumListenOnAllIPs",
    "ZOOKEEPER_CLIENT_CNXN_SOCKET": "clientCnxnSocket", "ZOOKEEPER_SECURE_CLIENT_PORT": "secureClientPort",
    "ZOOKEEPER_SERVER_CNXN_SOCKET": "serverCnxnSocket", "ZOOKEEPER_SERVER_CNXN_FACTORY": "serverCnxnFactory",
    "ZOOKEEPER_CLIENT_PORT_UNIFICATION": "client.portUnification",
    "ZOOKEEPER_ADMIN_ENABLE_SERVER": "admin.enableServer", "ZOOKEEPER_ADMIN_SERVER_ADDRESS": "admin.serverAddress",
    "ZOOKEEPER_ADMIN_SERVER_PORT": "admin.serverPort", "ZOOKEEPER_ADMIN_IDLE_TIMEOUT": "admin.idleTimeout",
    "ZOOKEEPER_ADMIN_COMMAND_URL": "admin.commandURL",
    "ZOOKEEPER_AUTH_PROVIDER_X509": "authProvider.x509", "ZOOKEEPER_AUTH_PROVIDER_SASL": "authProvider.sasl",
    "ZOOKEEPER_X509_AUTHENTICATION_PROVIDER_SUPER_USER": "X509AuthenticationProvider.superUser",
}


def zookeeper_properties_from_env(env: Mapping[str, str], data_dir: Path, log_dir: Path) -> dict[str, str]:
    """zookeeper.properties as cp-zookeeper 7.9's template writes it (data folders substituted)."""
    props = {"dataDir": str(data_dir), "dataLogDir": str(log_dir)}
    props.update({prop: env[var] for var, prop in ZOOKEEPER_TEMPLATE_PROPS.items() if var in env})
    for list_var, prefix in (("ZOOKEEPER_SERVERS", "server"), ("ZOOKEEPER_GROUPS", "group"), ("ZOOKEEPER_WEIGHTS", "weight")):
        if env.get(list_var):
            for index, item in enumerate(env[list_var].split(";"), start=1):
                props[f"{prefix}.{index}"] = item
    return props


def write_properties(path: Path, props: Mapping[str, str]) -> Path:
    path.write_text("".join(f"{k}={v}\n" for k, v in props.items()))
    return path


# --- processes ----------------------------------------------------------------------------------------

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


def four_letter_word(port: int, word: str = "srvr", timeout: float = 2.0) -> str:
    """ZooKeeper's 4lw on the client port (`srvr` is allowed by default); '' when it does not answer."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(word.encode())
            chunks = []
            while chunk := s.recv(4096):
                chunks.append(chunk)
            return b"".join(chunks).decode(errors="replace")
    except OSError:
        return ""


def zookeeper_mode(port: int) -> Optional[str]:
    """leader / follower / observer / standalone, or None while the server does not serve."""
    m = re.search(r"^Mode: (\w+)", four_letter_word(port), re.M)
    return m[1] if m else None


# --- ZooKeeper ------------------------------------------------------------------------------------------

# Stand-in for cp-zookeeper's /etc/confluent/docker/configure: the same env -> properties + myid.
CONFIGURE_STANDIN = """\
#!/usr/bin/env python3
import os, sys
from pathlib import Path
sys.path.insert(0, {tests!r})
from integration.kafka_cluster import write_properties, zookeeper_properties_from_env
data = Path(os.environ["ZK_DATA"]); log = data.parent / "log"
data.mkdir(parents=True, exist_ok=True); log.mkdir(parents=True, exist_ok=True)
write_properties(Path(os.environ["ZK_BASE_PROPS"]), zookeeper_properties_from_env(os.environ, data, log))
if os.environ.get("ZOOKEEPER_SERVER_ID"):
    (data / "myid").write_text(os.environ["ZOOKEEPER_SERVER_ID"] + "\\n")
"""


@dataclass
class ZooKeeperMember:
    ordinal: int
    client_port: int
    peer_port: int
    election_port: int
    admin_port: int
    root: Path
    server: Optional[Server] = None

    @property
    def server_id(self) -> int:
        return self.ordinal + 1

    @property
    def self_address(self) -> str:
        """ZK_SELF_TEMPLATE on loopback: host:peer:election;clientPort."""
        return f"127.0.0.1:{self.peer_port}:{self.election_port};{self.client_port}"

    @property
    def connect(self) -> str:
        return f"127.0.0.1:{self.client_port}"

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def mode(self) -> Optional[str]:
        return zookeeper_mode(self.client_port)


class ZooKeeperEnsemble:
    """Members started the way the ZooKeeper StatefulSet starts them: its rendered start script and
    env, with loopback ports and folders in place of pod names and volumes. Membership changes go
    through the same scripts the pods and the zookeeper-shrink Job run."""

    def __init__(self, root: Path, tools: ToolBox, statefulset: Mapping):
        self.root = root
        self.tools = tools
        (container,) = statefulset["spec"]["template"]["spec"]["containers"]
        assert container["command"][:2] == ["bash", "-c"]
        self.start_script = container["command"][2]
        self.ready_script = container["readinessProbe"]["exec"]["command"][2]
        self.pod_env = {e["name"]: e["value"] for e in container["env"] if "value" in e}
        self.configure = root / "cp-zookeeper-configure"
        root.mkdir(parents=True, exist_ok=True)
        self.configure.write_text(CONFIGURE_STANDIN.format(tests=str(REPO / "tests")))
        self.configure.chmod(0o755)
        self.members: dict[int, ZooKeeperMember] = {}
        # Members the StatefulSet scaled away: their volumes (folders) and pod addresses (ports) stay,
        # and a later scale-up brings the same ordinal back on them.
        self.removed: dict[int, ZooKeeperMember] = {}
        from integration.zookeeper_auth import server_auth_files

        # The zookeeper-auth Secret's volume (ZK_AUTH_DIR): the files the stack renders for the test seed.
        self.auth_dir = server_auth_files(root / "auth")

    @property
    def connect(self) -> str:
        return ",".join(m.connect for m in self.members.values())

    def member_env(self, member: ZooKeeperMember, ensemble_connect: str) -> dict[str, str]:
        env = dict(self.pod_env)
        env.update({
            "HOSTNAME": f"zookeeper-{member.ordinal}",
            "ZK_SELF_TEMPLATE": member.self_address,          # the pod's DNS name -> loopback ports
            "ZK_ENSEMBLE_CONNECT": ensemble_connect,          # the client Service -> the ready members
            "ZK_DATA": str(member.data),
            "ZK_CONFIGURE": str(self.configure),
            "ZK_BASE_PROPS": str(member.root / "zookeeper.properties"),
            "ZK_AUTH_DIR": str(self.auth_dir),
            "ZOOKEEPER_CLIENT_PORT": str(member.client_port),
            "ZOOKEEPER_ADMIN_SERVER_ADDRESS": "127.0.0.1",
            "ZOOKEEPER_ADMIN_SERVER_PORT": str(member.admin_port),
            "KAFKA_HEAP_OPTS": SERVER_HEAP,
        })
        return env

    def new_member(self, ordinal: int) -> ZooKeeperMember:
        if ordinal in self.removed:
            member = self.members[ordinal] = self.removed.pop(ordinal)
            return member
        member = ZooKeeperMember(ordinal, free_port(), free_port(), free_port(), free_port(), self.root / f"zookeeper-{ordinal}")
        member.root.mkdir(parents=True, exist_ok=True)
        self.members[ordinal] = member
        return member

    def start_member(self, ordinal: int) -> ZooKeeperMember:
        """Start (or restart) a pod: the rendered start script, asking the ready members to join."""
        member = self.members.get(ordinal) or self.new_member(ordinal)
        ready = [m.connect for m in self.members.values() if m.ordinal != ordinal and m.server and m.server.running and self.ready(m)]
        env = self.tools.env(**self.member_env(member, ",".join(ready) or "127.0.0.1:1"))
        member.server = Server(f"zookeeper-{ordinal}", ["bash", "-c", self.start_script], member.root, env)
        member.server.start()
        return member

    def ready(self, member: ZooKeeperMember) -> bool:
        """The pod's readiness probe, run as the kubelet would."""
        env = self.member_env(member, "")
        result = subprocess.run(["bash", "-c", self.ready_script], env=self.tools.env(**env), capture_output=True, timeout=15)
        return result.returncode == 0

    def wait_ready(self, ordinals=None, timeout: float = START_TIMEOUT) -> None:
        ordinals = list(self.members) if ordinals is None else list(ordinals)

        def all_ready() -> bool:
            for ordinal in ordinals:
                server = self.members[ordinal].server
                if not server.running:
                    raise AssertionError(f"{server.name} exited:\n{server.log_tail()}")
            return all(self.ready(self.members[o]) for o in ordinals)
        wait_for(all_ready, timeout, f"ZooKeeper members {ordinals} to be ready")

    def scale_up(self, size: int) -> None:
        """StatefulSet with podManagementPolicy Parallel: every new pod starts at once."""
        new = [o for o in range(size) if o not in self.members]
        for ordinal in new:
            self.start_member(ordinal)
        self.wait_ready(range(size), timeout=START_TIMEOUT + 30 * len(new))

    def start(self, size: int) -> "ZooKeeperEnsemble":
        self.start_member(0)
        self.wait_ready([0])
        self.scale_up(size)
        return self

    def remove_member(self, ordinal: int) -> None:
        """A StatefulSet scale-down: the pod stops; its volume stays behind (and comes back with the ordinal)."""
        member = self.removed[ordinal] = self.members.pop(ordinal)
        member.server.stop()

    def leaders(self) -> list[int]:
        return [m.server_id for m in self.members.values() if m.server and m.server.running and m.mode == "leader"]

    def stop(self, kill: bool = False) -> None:
        for member in [*self.members.values(), *self.removed.values()]:
            if member.server:
                member.server.stop(kill=kill)


# --- Kafka ----------------------------------------------------------------------------------------------

@dataclass
class KafkaBroker:
    broker_id: int
    port: int
    root: Path
    props: dict[str, str]
    server: Server

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"


@dataclass
class KafkaCluster:
    """Brokers 0..N-1 configured from the KafkaCluster StatefulSet's env, against `zookeeper`."""

    root: Path
    tools: ToolBox
    pod_env: dict[str, str]
    zookeeper: ZooKeeperEnsemble
    brokers: dict[int, KafkaBroker] = field(default_factory=dict)

    @property
    def bootstrap_servers(self) -> str:
        return ",".join(b.address for b in self.brokers.values() if b.server.running)

    def broker_env(self, broker_id: int, port: int, root: Path) -> dict[str, str]:
        """The pod's env after KAFKA_START, with the loopback substitutions."""
        env = dict(self.pod_env)
        env["KAFKA_BROKER_ID"] = str(broker_id)                 # KAFKA_START: the pod ordinal
        env["KAFKA_LISTENERS"] = f"PLAINTEXT://127.0.0.1:{port}"
        env["KAFKA_ADVERTISED_LISTENERS"] = f"PLAINTEXT://127.0.0.1:{port}"
        env["KAFKA_LOG_DIRS"] = str(root / "data" / "logs")
        env["KAFKA_ZOOKEEPER_CONNECT"] = self.zookeeper.connect
        env["KAFKA_HEAP_OPTS"] = SERVER_HEAP
        if "KAFKA_OPTS" in env:   # the ZooKeeper login's Secret volume -> its files here (integration/zookeeper_auth.py)
            from integration.zookeeper_auth import localize_login

            env["KAFKA_OPTS"] = localize_login(env["KAFKA_OPTS"], self.root / "zookeeper-login")
        return env

    def server_env(self, env: Mapping[str, str]) -> dict[str, str]:
        """The JVM's env: cp-kafka's start passes KAFKA_HEAP_OPTS and KAFKA_OPTS to java."""
        return self.tools.env(KAFKA_HEAP_OPTS=env["KAFKA_HEAP_OPTS"], KAFKA_OPTS=env.get("KAFKA_OPTS", ""))

    def add_broker(self, broker_id: int) -> KafkaBroker:
        """Start broker `broker_id` (a new one, or again with its old data folder and port)."""
        if broker_id in self.brokers:
            broker = self.brokers[broker_id]
        else:
            root = self.root / f"kafka-{broker_id}"
            root.mkdir(parents=True, exist_ok=True)
            port = free_port()
            env = self.broker_env(broker_id, port, root)
            props = kafka_properties_from_env(env)
            write_properties(root / "server.properties", props)
            server = Server(f"kafka-{broker_id}", ["kafka-server-start", str(root / "server.properties")], root, self.server_env(env))
            broker = self.brokers[broker_id] = KafkaBroker(broker_id, port, root, props, server)
        broker.server.start()
        return broker

    def start(self, count: int) -> "KafkaCluster":
        """Every broker registered and Ready by the pod's readiness probe, as a StatefulSet's pods are before the
        Service sends them clients: registered alone, a broker may not listen yet nor know the controller (a
        CreateTopics then waited for one past librdkafka's timeout on a loaded CI machine)."""
        for broker_id in range(count):
            self.add_broker(broker_id)
        self.wait_registered(list(range(count)))
        for broker_id in range(count):
            self.wait_ready(broker_id)
        return self

    def _zookeeper_read(self, read):
        """read(client) against the cluster's ZooKeeper (kazoo; no JVM start), the controller's committed state."""
        from kazoo.client import KazooClient

        client = KazooClient(hosts=self.zookeeper.connect, timeout=5)
        client.start(timeout=10)
        try:
            return read(client)
        finally:
            client.stop()
            client.close()

    def registered(self) -> set[int]:
        return self._zookeeper_read(
            lambda zk: {int(i) for i in zk.get_children("/brokers/ids")} if zk.exists("/brokers/ids") else set())

    def wait_registered(self, broker_ids: list[int], timeout: float = START_TIMEOUT) -> None:
        def up() -> bool:
            for broker_id in broker_ids:
                server = self.brokers[broker_id].server
                if not server.running:
                    raise AssertionError(f"{server.name} exited:\n{server.log_tail()}")
            return set(broker_ids) <= self.registered()
        wait_for(up, timeout, f"brokers {broker_ids} to register in ZooKeeper")

    def roll(self, pod_env: Mapping[str, str], down_seconds: float = 0) -> None:
        """What a StatefulSet update does to running pods: one at a time, restart with the new env, the next
        only once the previous one is Ready (the rendered readiness probe). `down_seconds`: how long a pod
        stays away between stop and start (image pull, scheduling, volume attach on a real node)."""
        self.pod_env = dict(pod_env)
        for broker_id in sorted(self.brokers, reverse=True):   # the controller updates the highest ordinal first
            broker = self.brokers[broker_id]
            broker.server.stop()
            time.sleep(down_seconds)
            env = self.broker_env(broker_id, broker.port, broker.root)
            broker.props = kafka_properties_from_env(env)
            broker.server.env = self.server_env(env)
            write_properties(broker.root / "server.properties", broker.props)
            broker.server.start()
            self.wait_ready(broker_id)

    def ready(self, broker_id: int) -> bool:
        """The pod's readiness probe (registered, in sync for every partition it holds), run as the kubelet would."""
        from msa.kafka.jobs import kafka_ready_script

        env = {**os.environ, "HOSTNAME": f"kafka-{broker_id}", "KAFKA_READY_PORT": str(self.brokers[broker_id].port)}
        return subprocess.run(["python3", "-S", "-c", kafka_ready_script()], env=env, capture_output=True, timeout=15).returncode == 0

    def wait_ready(self, broker_id: int, timeout: float = START_TIMEOUT + 60) -> None:
        def ready() -> bool:
            server = self.brokers[broker_id].server
            if not server.running:
                raise AssertionError(f"{server.name} exited:\n{server.log_tail()}")
            return self.ready(broker_id)
        wait_until(ready, timeout, f"broker {broker_id} to be ready", interval=1)

    def stop_broker(self, broker_id: int, kill: bool = False) -> None:
        self.brokers[broker_id].server.stop(kill=kill)

    def remove_broker(self, broker_id: int) -> None:
        """What a StatefulSet scale-down does: stop the pod; its volume (data folder) stays behind unused."""
        self.stop_broker(broker_id)
        del self.brokers[broker_id]

    def stop(self, kill: bool = False) -> None:
        for broker in self.brokers.values():
            broker.server.stop(kill=kill)

    # --- client-side views (librdkafka; no JVM start) ---

    def admin(self):
        from confluent_kafka.admin import AdminClient

        return AdminClient({"bootstrap.servers": self.bootstrap_servers})

    def topics(self, include_internal: bool = True) -> dict[str, dict[int, "PartitionState"]]:
        """topic -> partition -> replicas (a reassignment's removed ones included until it ends), in-sync replicas,
        leader: as the controller committed them to ZooKeeper. Not from a metadata request: a broker's metadata
        cache trails the controller, and one that just restarted answered a finished move's midway replica set
        seconds after the move ended (CI, test_three_to_one_keeps_every_record_and_transactions_work)."""
        from kazoo.exceptions import NoNodeError

        def read(zk) -> dict[str, dict[int, PartitionState]]:
            deleting = set(zk.get_children("/admin/delete_topics")) if zk.exists("/admin/delete_topics") else set()
            found = {}
            for name in zk.get_children("/brokers/topics"):
                if name in deleting or not (include_internal or not name.startswith("__")):
                    continue
                try:
                    assignment = json.loads(zk.get(f"/brokers/topics/{name}")[0])["partitions"]
                except NoNodeError:     # deleted meanwhile
                    continue
                found[name] = {}
                for number, replicas in sorted(assignment.items(), key=lambda item: int(item[0])):
                    try:
                        state = json.loads(zk.get(f"/brokers/topics/{name}/partitions/{number}/state")[0])
                    except NoNodeError:     # a new topic whose partitions the controller has not started yet
                        state = {"isr": [], "leader": -1}
                    found[name][int(number)] = PartitionState(list(replicas), sorted(state["isr"]), state["leader"])
            return found
        return self._zookeeper_read(read)


@dataclass(frozen=True)
class PartitionState:
    replicas: list[int]
    isr: list[int]
    leader: int


def _job_command(job: Mapping, tools: ToolBox, substitute: Mapping[str, str]) -> tuple[list[str], dict[str, str]]:
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["command"][:2] == ["bash", "-c"], container["command"][:2]
    env = {e["name"]: e["value"] for e in container.get("env", []) if "value" in e}
    missing = set(substitute) - set(env)
    assert not missing, f"the Job has no {missing} to substitute"
    env.update(substitute)
    return ["bash", "-c", container["command"][2]], tools.env(**env)


def run_job_script(job: Mapping, tools: ToolBox, substitute: Mapping[str, str], timeout: float = 600) -> subprocess.CompletedProcess:
    """Run a rendered Job's script unchanged: its own env with `substitute` (loopback addresses), the
    cp-named tools first on PATH. The kubelet would expand $(VAR) references in the command first; the
    scripts contain none (tests/kafka/test_kafka_jobs.py), so the text runs as it is."""
    command, env = _job_command(job, tools, substitute)
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)


def start_job_script(job: Mapping, tools: ToolBox, substitute: Mapping[str, str]) -> subprocess.Popen:
    """`run_job_script` in the background, in its own process group (a Job's pod: kill the group to kill it)."""
    command, env = _job_command(job, tools, substitute)
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)


# --- pytest fixtures --------------------------------------------------------------------------------------

# Renders by the stack config they were made from: a cluster's start renders the same config twice (its
# ZooKeeper's StatefulSet, its brokers' env) and tests start the same few configs again and again, at about
# half a CPU-second a render. Only the StatefulSets are kept; rendered_workload hands out copies.
_statefulsets: dict[str, dict[str, dict]] = {}


def _rendered_statefulsets(stack: str, edit=None) -> dict[str, dict]:
    from conftest import edited_values, objects, open_kafka_then, render_values

    values = edited_values(stack, open_kafka_then(edit))
    key = json.dumps([stack, values], sort_keys=True)
    if key not in _statefulsets:
        _statefulsets[key] = {o["metadata"]["name"]: o for o in objects(render_values(stack, values), "StatefulSet")}
    return _statefulsets[key]


def rendered_workload(stack: str, workload: str, edit=None) -> dict:
    """A StatefulSet as the stack renders it (mock runtime)."""
    return copy.deepcopy(_rendered_statefulsets(stack, edit)[workload])


def rendered_pod_env(stack: str, workload: str, edit=None) -> dict[str, str]:
    """The literal env of a StatefulSet's container as the stack renders it (mock runtime); with
    authentication plus what the start command exports for a new cluster's phase (scram-only)."""
    from conftest import env_of
    from msa.kafka.broker_auth import phase_env

    env = {k: v for k, v in env_of(rendered_workload(stack, workload, edit)).items() if isinstance(v, str)}
    return {**env, **phase_env(env, None)} if any(k.startswith("MSA_AUTH_") for k in env) else env


@pytest.fixture(scope="session")
def kafka_jars() -> Path:
    return require_jars()


@pytest.fixture(scope="session")
def kafka_tools(kafka_jars, tmp_path_factory) -> ToolBox:
    return ToolBox(tmp_path_factory.mktemp("kafka-tools"), kafka_jars)


class KafkaWorld:
    """Starts ensembles and clusters for one test and stops every one of them afterwards."""

    def __init__(self, root: Path, tools: ToolBox):
        self.root = root
        self.tools = tools
        self._started: list = []

    def zookeeper(self, size: int = 1, stack: str = "dev", edit=None) -> ZooKeeperEnsemble:
        ensemble = ZooKeeperEnsemble(self.root / f"zk{len(self._started)}", self.tools, rendered_workload(stack, "zookeeper", edit))
        self._started.append(ensemble)
        return ensemble.start(size)

    def start(self, brokers: int, zookeepers: int = 1, stack: str = "prod", edit=None, env_edit=None) -> KafkaCluster:
        """A cluster of `brokers` configured as `stack` renders it (with `edit` applied to its config).
        `env_edit(env)` changes the rendered broker env in place: a fault no valid config renders."""
        def set_count(values):
            values.setdefault("msa:kafka", {})
            values["msa:kafka"]["brokers"] = brokers
            values["msa:kafka"]["zookeeperReplicas"] = zookeepers
            if edit:
                edit(values)
        ensemble = self.zookeeper(zookeepers, stack, set_count)
        env = rendered_pod_env(stack, "kafka", set_count)
        if env_edit:
            env_edit(env)
        cluster = KafkaCluster(self.root / f"kafka{len(self._started)}", self.tools, env, ensemble)
        self._started.append(cluster)
        return cluster.start(brokers)

    def stop(self, kill: bool = False) -> None:
        """Stop everything started. `kill`: SIGKILL at once, for a teardown that throws the data away (a
        controlled shutdown costs each broker a second and some CPU, and a KRaft broker without its quorum
        waits out the whole bound)."""
        for thing in reversed(self._started):   # brokers before their ZooKeeper
            thing.stop(kill=kill)


@pytest.fixture
def kafka_world(kafka_tools, tmp_path):
    world = KafkaWorld(tmp_path, kafka_tools)
    try:
        yield world
    finally:
        world.stop(kill=True)


def wait_until(predicate, timeout: float, what: str, interval: float = 0.5) -> None:
    """Like harness.wait_for, with a slower poll for checks that cost a request."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}")


@pytest.fixture(scope="session")
def kafka_session_world(kafka_tools, tmp_path_factory):
    """A `KafkaWorld` shared by a whole session, for tests that only read from a cluster."""
    world = KafkaWorld(tmp_path_factory.mktemp("kafka-session"), kafka_tools)
    try:
        yield world
    finally:
        world.stop(kill=True)
