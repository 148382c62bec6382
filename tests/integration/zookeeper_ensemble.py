"""Real ZooKeeper ensembles on loopback, started the way the ZooKeeper StatefulSet starts its members.

Only what must differ on one machine is substituted: peer and client addresses, data folders, the
AdminServer port and the heap (cp_properties.py writes the properties as the image does).
"""

from __future__ import annotations

import re
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Optional

from integration.harness import REPO, free_port, wait_for
from integration.jvm_tools import SERVER_HEAP, START_TIMEOUT, Server, ToolBox


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


# Stand-in for cp-zookeeper's /etc/confluent/docker/configure: the same env -> properties + myid.
CONFIGURE_STANDIN = """\
#!/usr/bin/env python3
import os, sys
from pathlib import Path
sys.path.insert(0, {tests!r})
from integration.cp_properties import write_properties, zookeeper_properties_from_env
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
