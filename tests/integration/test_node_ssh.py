"""Node setup over a real SSH connection: the command `pulumi up` sends to a node, through a real sshd.

What pulumi-command's `remote.Command` sends is one SSH exec request: `ssh_command(node_script(...), action,
user)`, the rendered script as a heredoc to `bash -s`. Here that very string goes through Debian's OpenSSH
(client and server on loopback) to a real containerd in a temp folder, with the node's host key taken the
way docs/ci-and-secrets.md says (`ssh-keyscan -t ed25519`) and validated by the config model. The engine
itself cannot drive it here: the pulumi-command plugin is not served by the Go module proxy
(tests/engine/README.md).

The sandbox is on the server's side (sshd's SetEnv points the script's parameters into the temp folder), so
the command is the one a real node gets; the test checks that the machine's /etc/hosts and containerd
files are untouched.
"""

import hashlib
import ipaddress
import subprocess
from pathlib import Path

import grpc
import pytest

from msa.config import Cluster, Harbor
from msa.config.model import Node
from msa.nodes.containerd import node_script, ssh_command
from integration.cri import CriClient
from integration.harness import REGISTRY_NAME, Containerd, Registry, build_oci_layout, push_layout, require
from integration.sshd import SSHD, Sshd

pytestmark = pytest.mark.integration
HTTPS_TO_HTTP = "server gave HTTP response to HTTPS client"
# What the script would change on a real node; on this machine none of it may change.
MACHINE_PATHS = [Path("/etc/hosts"), Path("/etc/containerd"), Path("/var/lib/msa-node-setup")]


def _fingerprint(paths: list[Path]) -> dict:
    found = {}
    for path in paths:
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path] if path.exists() else []
        found[str(path)] = {str(f): hashlib.sha256(f.read_bytes()).hexdigest() for f in files} if path.exists() else None
    return found


def _files(daemon: Containerd) -> dict:
    return {p: p.read_bytes() for p in sorted(daemon.root.joinpath("etc").rglob("*")) if p.is_file()} | (
        {p: p.read_bytes() for p in sorted(daemon.state_dir.rglob("*")) if p.is_file()} if daemon.state_dir.exists() else {}
    )


@pytest.fixture
def node(tmp_path):
    """A registry holding one image, a containerd 1.6 that cannot pull from it yet, and an sshd whose
    sessions see the script's parameters pointed at that containerd."""
    require("docker-registry", "skopeo", "umoci", "/bin/busybox", "unshare", "/usr/bin/containerd", SSHD, "ssh", "ssh-keyscan")
    registry = Registry(tmp_path / "registry")
    layout = build_oci_layout(tmp_path / "image", "hello over ssh")
    push_layout(layout, f"{registry.address}/library/app:1.0")
    stock = subprocess.run(["/usr/bin/containerd", "config", "default"], check=True, capture_output=True, text=True).stdout
    daemon = Containerd(Path("/usr/bin"), tmp_path / "node", stock, f"127.0.0.1 localhost\n127.0.0.1 {REGISTRY_NAME}\n")
    params = {k: v for k, v in daemon.script_env().items() if k.startswith("MSA_")}
    sshd = Sshd(tmp_path / "sshd", params)
    daemon.start()
    cri = CriClient(daemon.socket, tmp_path / "cri")
    try:
        sshd.start()
        yield registry, daemon, cri, sshd
    finally:
        sshd.stop()
        cri.close()
        daemon.stop()
        registry.stop()


def _pull_error(cri: CriClient, image: str) -> str:
    with pytest.raises(grpc.RpcError) as caught:
        cri.pull(image)
    return caught.value.details()


def test_node_setup_over_ssh_checks_applies_and_reverts_a_real_containerd(node):
    registry, daemon, cri, sshd = node
    machine_before = _fingerprint(MACHINE_PATHS)
    registry_host = f"{REGISTRY_NAME}:{registry.port}"
    image = f"{registry_host}/library/app:1.0"
    harbor = Harbor(host=registry_host, address=ipaddress.IPv4Address("127.0.0.1"), scheme="http")
    # The node as an operator configures it: the ssh-keyscan line pasted into hostKey.
    cfg = Node.model_validate({"host": "127.0.0.1", "port": sshd.port, "user": "root", "hostKey": sshd.keyscan()})
    script = node_script(cfg.host, harbor, Cluster())

    def run(action: str) -> subprocess.CompletedProcess:
        return sshd.run(ssh_command(script, action, cfg.user), cfg.user, cfg.host_key)

    before = _files(daemon)
    checked = run("check")
    assert checked.returncode != 0, checked.stderr
    assert _files(daemon) == before, "check changed the node"
    assert HTTPS_TO_HTTP in _pull_error(cri, image)

    applied = run("apply")
    assert applied.returncode == 0, applied.stderr
    assert "restarting containerd" in applied.stderr
    assert cri.pull(image).startswith("sha256:")
    cri.remove(image)
    assert f"127.0.0.1 {REGISTRY_NAME} # managed by msa-node-setup" in daemon.hosts.read_text()

    # The second `up` of an unchanged stack runs nothing, but the same command twice must be a no-op too.
    files, pid = _files(daemon), daemon.pid
    again = run("apply")
    assert again.returncode == 0, again.stderr
    assert "restarting" not in again.stderr
    assert _files(daemon) == files and daemon.pid == pid
    assert run("check").returncode == 0

    reverted = run("revert")
    assert reverted.returncode == 0, reverted.stderr
    assert _files(daemon) == before
    assert run("check").returncode != 0
    assert HTTPS_TO_HTTP in _pull_error(cri, image)
    assert _fingerprint(MACHINE_PATHS) == machine_before


def test_a_node_whose_host_key_differs_from_the_configured_one_runs_nothing(node, tmp_path):
    registry, daemon, _, sshd = node
    other = tmp_path / "other_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    cfg = Node.model_validate({"host": "127.0.0.1", "port": sshd.port, "hostKey": other.with_suffix(".pub").read_text()})
    harbor = Harbor(host=f"{REGISTRY_NAME}:{registry.port}", scheme="http")
    before = _files(daemon)
    refused = sshd.run(ssh_command(node_script(cfg.host, harbor, Cluster()), "apply", cfg.user), cfg.user, cfg.host_key)
    assert refused.returncode != 0
    assert "Host key verification failed" in refused.stderr
    assert _files(daemon) == before and not daemon.state_dir.exists()
