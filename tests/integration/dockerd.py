"""A real Docker daemon (Debian's docker.io) for the tests, on a unix socket in a temporary folder.

Own data root, exec root, pid file and socket; no iptables rules, no bridge, the vfs storage driver (works
on any filesystem), so nothing on the machine changes and its own Docker (if any) is never used. It runs in
a private mount namespace whose /etc/hosts is `hosts_text`, so a registry name such as harbor.test
resolves to loopback for it alone. A plain-HTTP registry must be in its insecure registries, exactly as
docs/images-and-nodes.md asks of a user's daemon.

Builds use the classic builder: Debian's docker.io has no buildx, which BuildKit through the CLI needs.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from integration.harness import wait_for

DOCKERD = "dockerd"
# Debian's CLI, the one that comes with the daemon (another docker CLI on PATH may want buildx).
DOCKER_CLI = "/usr/bin/docker"


class Dockerd:
    def __init__(self, root: Path, insecure_registries: list[str], hosts_text: str):
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        # Unix socket paths are limited to 107 bytes, and containerd's (inside the exec root) is long:
        # sockets and exec root go to a short folder of their own, removed by stop().
        self.short = Path(tempfile.mkdtemp(prefix="msa-dockerd-", dir="/tmp"))
        self.socket = self.short / "docker.sock"
        self.hosts = root / "hosts"
        self.hosts.write_text(hosts_text)
        self.log = root / "dockerd.log"
        self.args = [
            DOCKERD, "--host", f"unix://{self.socket}", "--data-root", str(root / "data"), "--exec-root", str(self.short / "exec"),
            "--pidfile", str(root / "docker.pid"), "--iptables=false", "--ip-masq=false", "--bridge=none",
            "--storage-driver=vfs", *[f"--insecure-registry={r}" for r in insecure_registries],
        ]
        self._process = None

    @property
    def host(self) -> str:
        """DOCKER_HOST for clients of this daemon."""
        return f"unix://{self.socket}"

    def start(self) -> None:
        inner = f'mount --bind {self.hosts} /etc/hosts && exec "$@"'
        with open(self.log, "ab") as log:
            self._process = subprocess.Popen(
                ["unshare", "--mount", "--propagation", "private", "--", "bash", "-c", inner, "bash", *self.args],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            wait_for(lambda: self._process.poll() is None and self.docker("info").returncode == 0, 60, "dockerd")
        except TimeoutError:
            self.stop()
            raise RuntimeError(f"dockerd did not start: {self.log.read_text()[-2000:]}") from None

    def docker(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([DOCKER_CLI, "--host", self.host, *args], capture_output=True, text=True, timeout=120)

    def stop(self) -> None:
        if self._process and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        shutil.rmtree(self.short, ignore_errors=True)
