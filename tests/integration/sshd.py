"""A real OpenSSH server (Debian's openssh-server) standing in for a node, on a loopback port.

Everything is its own and lives in one temporary folder: host key, client key, authorized_keys, config
(`sshd -f`), pid file; PAM is off. The machine's sshd, /etc/ssh and host keys are never used or changed.
sshd wants its privilege-separation folder /run/sshd, which the package's service would create: it runs
in a private mount namespace with a tmpfs on /run instead, so nothing appears on the machine. In that
namespace /etc/hosts is a throwaway copy (or `hosts_text`) and /etc/containerd and /var/lib are empty tmpfs, so a session
that missed its parameters still cannot reach the machine's files; `start` checks that every session
sees `env` before the first command.

`env` is set in every session (sshd's `SetEnv`): this is how a test points the node script's parameters
(`MSA_HOSTS_FILE`, `MSA_CERTS_DIR`, ...) at a sandboxed containerd while the command that arrives over SSH
stays byte for byte what `pulumi up` sends.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
from pathlib import Path
from typing import Optional

from integration.harness import free_port, wait_for

SSHD = "/usr/sbin/sshd"


def _keygen(path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "msa-test", "-f", str(path)], check=True)


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            return s.recv(4).startswith(b"SSH-")
    except OSError:
        return False


class Sshd:
    def __init__(self, root: Path, env: dict[str, str], hosts_text: Optional[str] = None, sftp: bool = True):
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.host_key = root / "ssh_host_ed25519_key"
        self.client_key = root / "client_ed25519"
        self.known_hosts = root / "known_hosts"
        _keygen(self.host_key)
        _keygen(self.client_key)
        shutil.copy(self.client_key.with_suffix(".pub"), root / "authorized_keys")
        self.env = env
        self.hosts_text = hosts_text
        # One SetEnv line: sshd keeps the first of repeated SetEnv lines and drops the others.
        set_env = "SetEnv " + " ".join(f'"{k}={v}"' for k, v in env.items()) if env else ""
        self.config = root / "sshd_config"
        self.config.write_text(
            f"ListenAddress 127.0.0.1:{self.port}\n"
            f"HostKey {self.host_key}\n"
            f"PidFile {root / 'sshd.pid'}\n"
            f"AuthorizedKeysFile {root / 'authorized_keys'}\n"
            "PermitRootLogin prohibit-password\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
            "UsePAM no\nStrictModes no\nX11Forwarding no\nAllowTcpForwarding no\n"
            # As Debian's default config (OpenSSH 9's scp speaks SFTP); sftp=False: a server without it.
            + ("Subsystem sftp /usr/lib/openssh/sftp-server\n" if sftp else "") +
            f"{set_env}\n"
        )
        self.log = root / "sshd.log"
        self._process = None

    def start(self) -> None:
        hosts_copy = self.root / "machine-hosts-copy"
        if self.hosts_text is None:
            shutil.copy("/etc/hosts", hosts_copy)
        else:
            hosts_copy.write_text(self.hosts_text)
        inner = (
            f"mount --bind {hosts_copy} /etc/hosts && "
            "for d in /etc/containerd /var/lib; do [ ! -d $d ] || mount -t tmpfs tmpfs $d; done && "
            f"mount -t tmpfs -o mode=0755 tmpfs /run && mkdir -m 0755 /run/sshd && exec {SSHD} -D -e -f {self.config}"
        )
        with open(self.log, "ab") as log:
            self._process = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "--", "bash", "-c", inner],
                                             stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            wait_for(lambda: self._process.poll() is None and _accepts(self.port), 20, f"sshd on 127.0.0.1:{self.port}")
        except TimeoutError:
            self.stop()
            raise RuntimeError(f"sshd did not start: {self.log.read_text()[-2000:]}") from None
        self._check_env()

    def _check_env(self) -> None:
        key = self.keyscan().split(None, 1)[1]
        shown = self.run("env", "root", key, timeout=30)
        seen = dict(line.split("=", 1) for line in shown.stdout.splitlines() if "=" in line)
        wrong = {k: seen.get(k) for k, v in self.env.items() if seen.get(k) != v}
        if shown.returncode != 0 or wrong:
            self.stop()
            raise RuntimeError(f"sshd sessions do not see their environment: {wrong or shown.stderr}")

    def stop(self) -> None:
        if self._process and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()

    def keyscan(self) -> str:
        """The line an operator pastes into `msa:cluster.nodes[].hostKey`: `ssh-keyscan -t ed25519 <host>`."""
        out = subprocess.run(["ssh-keyscan", "-t", "ed25519", "-p", str(self.port), "127.0.0.1"],
                             check=True, capture_output=True, text=True, timeout=20).stdout
        (line,) = [line for line in out.splitlines() if line and not line.startswith("#")]
        return line

    def run(self, command: str, user: str, host_key: str, timeout: float = 180) -> subprocess.CompletedProcess:
        """`command` as one SSH exec request, as pulumi-command's remote.Command sends it, accepting
        exactly `host_key` (`<type> <base64>`, the config's form) as the server's key."""
        self.known_hosts.write_text(f"[127.0.0.1]:{self.port} {host_key}\n")
        return subprocess.run(
            ["ssh", "-F", "/dev/null", "-p", str(self.port), "-i", str(self.client_key),
             "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes",
             "-o", f"UserKnownHostsFile={self.known_hosts}", "-o", "GlobalKnownHostsFile=/dev/null",
             f"{user}@127.0.0.1", command],
            capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
        )
