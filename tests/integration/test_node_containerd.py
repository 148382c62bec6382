"""The rendered node script against real containerd 1.6, 1.7 and 2.x and a real plain-HTTP registry.

Pulls go through the CRI API (PullImage), exactly as the kubelet pulls. Each scenario:
before the script the pull fails with "server gave HTTP response to HTTPS client"; after it the pull
succeeds; a second run leaves every file byte-identical and containerd unrestarted; after revert
the files are as before and the pull fails again.
"""

import ipaddress
import subprocess
from pathlib import Path

import grpc
import pytest

from msa.config import Cluster, Harbor
from msa.nodes.containerd import node_script
from integration.cri import CriClient
from integration.harness import (
    REGISTRY_NAME, Containerd, Registry, build_oci_layout, containerd_versions, push_layout, require,
)

pytestmark = pytest.mark.integration
VERSIONS = ["1.6", "1.7", "2"]
HTTPS_TO_HTTP = "server gave HTTP response to HTTPS client"
CONFIG_DIR = Path(__file__).with_name("configs")


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    require("docker-registry", "skopeo", "umoci", "/bin/busybox", "unshare")
    work = tmp_path_factory.mktemp("registry")
    reg = Registry(work / "registry")
    layout = build_oci_layout(work / "image", "hello from msa")
    push_layout(layout, f"{reg.address}/library/app:1.0")
    yield reg
    reg.stop()


def _binaries(version: str) -> Path:
    found = containerd_versions()
    if version not in found:
        require(f"containerd {version} (tests/integration/fetch-containerd.sh)")
    return found[version]


def _stock_config(version: str, bin_dir: Path, variant: str, registry_host: str) -> str:
    if variant == "debian":
        return (CONFIG_DIR / "debian-bookworm.toml").read_text()
    text = subprocess.run([str(bin_dir / "containerd"), "config", "default"], check=True, capture_output=True, text=True).stdout
    if variant == "legacy":
        # What the circulating hand fix leaves behind: mirrors and configs.tls beside each other.
        section = 'plugins."io.containerd.grpc.v1.cri".registry' if version != "2" else "plugins.'io.containerd.cri.v1.images'.registry"
        text += (
            f'\n[{section}.mirrors."{registry_host}"]\n  endpoint = ["http://{registry_host}"]\n'
            f'\n[{section}.mirrors."docker.io"]\n  endpoint = ["https://mirror.example.internal"]\n'
            f'\n[{section}.configs."{registry_host}".tls]\n  insecure_skip_verify = true\n'
        )
    return text


def _files(daemon: Containerd) -> dict:
    return {p: p.read_bytes() for p in sorted(daemon.root.joinpath("etc").rglob("*")) if p.is_file()} | (
        {p: p.read_bytes() for p in sorted(daemon.state_dir.rglob("*")) if p.is_file()} if daemon.state_dir.exists() else {}
    )


def _run_script(script: Path, action: str, daemon: Containerd) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(script), action], env=daemon.script_env(), capture_output=True, text=True, timeout=120)


def _pull_error(cri: CriClient, image: str) -> str:
    with pytest.raises(grpc.RpcError) as caught:
        cri.pull(image)
    return caught.value.details()


# The bookworm package's own config.toml is a containerd 1.x file; 2.x is covered by its stock default.
SCENARIOS = [(v, c) for v in VERSIONS for c in ("default", "debian", "legacy") if not (v == "2" and c == "debian")]


@pytest.mark.parametrize("version, variant", SCENARIOS)
def test_node_script_makes_containerd_pull_from_plain_http_harbor(version, variant, registry, tmp_path):
    bin_dir = _binaries(version)
    registry_host = f"{REGISTRY_NAME}:{registry.port}"
    image = f"{registry_host}/library/app:1.0"
    harbor = Harbor(host=registry_host, address=ipaddress.IPv4Address("127.0.0.1"), scheme="http")
    script = tmp_path / "node.sh"
    script.write_text(node_script("test-node", harbor, Cluster()))

    original_config = _stock_config(version, bin_dir, variant, registry_host)
    daemon = Containerd(bin_dir, tmp_path / "node", original_config, f"127.0.0.1 localhost\n127.0.0.1 {REGISTRY_NAME}\n")
    daemon.start()
    cri = CriClient(daemon.socket, tmp_path / "cri")
    try:
        before = _files(daemon)
        # (The legacy variant pulls through its mirror already; what breaks it is adding config_path.)
        if variant != "legacy":
            assert HTTPS_TO_HTTP in _pull_error(cri, image)

        applied = _run_script(script, "apply", daemon)
        assert applied.returncode == 0, applied.stderr
        assert "restarting containerd" in applied.stderr
        assert cri.pull(image).startswith("sha256:")
        cri.remove(image)
        hosts_toml = daemon.certs_dir / registry_host / "hosts.toml"
        assert f'[host."http://{registry_host}"]' in hosts_toml.read_text()
        assert f"127.0.0.1 {REGISTRY_NAME} # managed by msa-node-setup" in daemon.hosts.read_text()
        if variant == "legacy":
            config = daemon.config.read_text()
            assert ".mirrors." not in config and ".tls]" not in config
            assert "migrated legacy registry.mirrors.\"docker.io\"" in applied.stderr
            assert '[host."https://mirror.example.internal"]' in (daemon.certs_dir / "docker.io" / "hosts.toml").read_text()

        # Idempotent: the second run writes nothing and does not restart containerd.
        files, pid = _files(daemon), daemon.pid
        again = _run_script(script, "apply", daemon)
        assert again.returncode == 0, again.stderr
        assert "restarting" not in again.stderr
        assert _files(daemon) == files and daemon.pid == pid
        assert _run_script(script, "check", daemon).returncode == 0

        reverted = _run_script(script, "revert", daemon)
        assert reverted.returncode == 0, reverted.stderr
        assert _files(daemon) == before
        assert _run_script(script, "check", daemon).returncode != 0
        if variant != "legacy":
            assert HTTPS_TO_HTTP in _pull_error(cri, image)
    finally:
        cri.close()
        daemon.stop()


def test_legacy_entries_with_config_path_break_cri_and_the_script_repairs_it(registry, tmp_path):
    """The failure the script guards against, shown on real 1.6: config_path plus configs.tls
    leaves containerd running but without a CRI plugin; apply removes the conflict."""
    bin_dir = _binaries("1.6")
    registry_host = f"{REGISTRY_NAME}:{registry.port}"
    certs = tmp_path / "node" / "etc/containerd/certs.d"
    broken = _stock_config("1.6", bin_dir, "default", registry_host).replace('config_path = ""', f'config_path = "{certs}"')
    broken += f'\n[plugins."io.containerd.grpc.v1.cri".registry.configs."{registry_host}".tls]\n  insecure_skip_verify = true\n'
    daemon = Containerd(bin_dir, tmp_path / "node", broken, f"127.0.0.1 {REGISTRY_NAME}\n")
    daemon.start()
    cri = CriClient(daemon.socket, tmp_path / "cri")
    try:
        assert "cri" in daemon.plugins() and "error" in [line.split()[-1] for line in daemon.plugins().splitlines() if " cri " in line]
        harbor = Harbor(host=registry_host, scheme="http")
        script = tmp_path / "node.sh"
        script.write_text(node_script("test-node", harbor, Cluster()))
        applied = _run_script(script, "apply", daemon)
        assert applied.returncode == 0, applied.stderr
        assert "dropped legacy registry.configs" in applied.stderr
        assert cri.pull(f"{registry_host}/library/app:1.0").startswith("sha256:")
    finally:
        cri.close()
        daemon.stop()
