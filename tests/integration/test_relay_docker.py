"""`msa:harbor.push: relay` with nothing stood in: real Docker, real SSH, a real registry with a login.

The script `pulumi up` runs locally (`relay_local_script`, as rendered) builds the service image with a
real dockerd (Debian's docker.io, classic builder) for `linux/amd64`, `docker save`s it, copies it with
OpenSSH's scp to the relay host (a real sshd on loopback, host key pinned as `msa:harbor.relayHostKey`,
logged in with the key that is `msa:sshPrivateKey`) and pushes it from there with the relay's own docker
daemon or with skopeo. The digest the script prints is the one the registry serves, and the Harbor
password is in no output and in no file the run leaves behind.

(`push: direct`, pulumi-docker's own build, needs the pulumi-docker plugin, which cannot be built here:
tests/engine/README.md.)
"""

import base64
import json
import os
import subprocess
import urllib.request
from pathlib import Path

import pytest

from msa.config import Harbor
from msa.images.harbor import ImagePlan, digest_from_output, relay_local_script
from integration.dockerd import DOCKER_CLI, DOCKERD, Dockerd
from integration.harness import REGISTRY_NAME, Registry, require
from integration.sshd import SSHD, Sshd

pytestmark = pytest.mark.integration
USER, PASSWORD = "robot", "Relay-Canary-9d2f41"


@pytest.fixture
def relay_world(tmp_path, request):
    """registry (with a login), the laptop's dockerd, and a relay host: sshd (+ its own dockerd for the docker tool)."""
    require("docker-registry", "skopeo", "unshare", DOCKERD, DOCKER_CLI, SSHD, "ssh", "scp", "ssh-keyscan")
    tool, sftp = request.param
    registry = Registry(tmp_path / "registry", login=(USER, PASSWORD))
    host = f"{REGISTRY_NAME}:{registry.port}"
    hosts = f"127.0.0.1 localhost\n127.0.0.1 {REGISTRY_NAME}\n"
    started = []
    try:
        laptop = Dockerd(tmp_path / "laptop-docker", [host], hosts)
        laptop.start()
        started.append(laptop)
        relay_env = {"DOCKER_HOST": "unix:///nonexistent/docker.sock"}  # skopeo: no docker on the relay
        if tool == "docker":
            relay_docker = Dockerd(tmp_path / "relay-docker", [host], hosts)
            relay_docker.start()
            started.append(relay_docker)
            relay_env["DOCKER_HOST"] = relay_docker.host
        sshd = Sshd(tmp_path / "relay-sshd", relay_env, hosts_text=hosts, sftp=sftp)
        sshd.start()
        started.append(sshd)
        yield tool, registry, laptop, sshd
    finally:
        for server in reversed(started):
            server.stop()
        registry.stop()


def _project(tmp_path: Path) -> tuple[Path, Path]:
    project = tmp_path / "project"
    context = tmp_path / "user-service"
    project.mkdir()
    context.mkdir()
    (context / "hello.txt").write_text("hello through a real relay\n")
    (context / "Dockerfile").write_text("FROM scratch\nARG GREETING\nCOPY hello.txt /hello.txt\nLABEL greeting=$GREETING\n")
    return project, context


def _image_config(registry: Registry, repository: str, digest: str) -> dict:
    def get(path: str, accept: str) -> bytes:
        request = urllib.request.Request(f"http://{registry.address}/v2/{repository}/{path}")
        request.add_header("Accept", accept)
        request.add_header("Authorization", "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode())
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.read()
    manifest = json.loads(get(f"manifests/{digest}", "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json"))
    return json.loads(get(f"blobs/{manifest['config']['digest']}", "*/*"))


@pytest.mark.parametrize("relay_world", [("docker", True), ("skopeo", True)], indirect=True, ids=["docker", "skopeo"])
def test_relay_builds_with_docker_copies_over_ssh_and_pushes_what_the_registry_serves(relay_world, tmp_path):
    tool, registry, laptop, sshd = relay_world
    project, context = _project(tmp_path)
    harbor = Harbor(host=f"{REGISTRY_NAME}:{registry.port}", project="library", username=USER, push="relay",
                    relay_host="127.0.0.1", relay_port=sshd.port, relay_user="root", relay_tool=tool,
                    relay_host_key=sshd.keyscan())
    plan = ImagePlan("user-service", f"{harbor.host}/library/user-service", "2.0", "linux/amd64", "relay",
                     context, context / "Dockerfile", {"GREETING": "hi"}, project_dir=project)
    docker_config_before = _fingerprint(Path.home() / ".docker")
    env = {**os.environ, "PATH": f"/usr/bin:{os.environ['PATH']}", "DOCKER_HOST": laptop.host,
           "HARBOR_USERNAME": USER, "HARBOR_PASSWORD": PASSWORD, "MSA_SSH_KEY": sshd.client_key.read_text()}

    result = subprocess.run(["bash", "-c", relay_local_script(plan, harbor)], cwd=project, env=env,
                            capture_output=True, text=True, timeout=600)

    assert result.returncode == 0, result.stderr[-3000:]
    digest = digest_from_output(result.stdout)
    assert digest == registry.manifest_digest("library/user-service", "2.0")
    config = _image_config(registry, "library/user-service", digest)
    assert (config["os"], config["architecture"]) == ("linux", "amd64")
    assert config["config"]["Labels"] == {"greeting": "hi"}
    # The laptop's daemon built it (the relay never saw the context), under the target's name.
    assert laptop.docker("image", "inspect", plan.target).returncode == 0
    assert PASSWORD not in result.stdout + result.stderr
    assert _fingerprint(Path.home() / ".docker") == docker_config_before
    # Nor in anything the daemons, the relay's sshd or the registry keep (docker login wrote a per-run config).
    assert _files_holding(tmp_path, [PASSWORD.encode(), base64.b64encode(f"{USER}:{PASSWORD}".encode())]) == []
    assert [p for p in Path("/tmp").glob("msa-image.*") if (p / "image.tar").exists()] == []


@pytest.mark.parametrize("relay_world", [("skopeo", False)], indirect=True, ids=["no-sftp"])
def test_a_failed_copy_to_the_relay_host_names_the_cause_and_leaves_no_folder_there(relay_world, tmp_path):
    tool, registry, laptop, sshd = relay_world
    project, context = _project(tmp_path)
    harbor = Harbor(host=f"{REGISTRY_NAME}:{registry.port}", project="library", username=USER, push="relay",
                    relay_host="127.0.0.1", relay_port=sshd.port, relay_tool=tool, relay_host_key=sshd.keyscan())
    plan = ImagePlan("user-service", f"{harbor.host}/library/user-service", "2.0", "linux/amd64", "relay",
                     context, context / "Dockerfile", {}, project_dir=project)
    leftovers_before = set(Path("/tmp").glob("msa-image.*"))
    env = {**os.environ, "PATH": f"/usr/bin:{os.environ['PATH']}", "DOCKER_HOST": laptop.host,
           "HARBOR_USERNAME": USER, "HARBOR_PASSWORD": PASSWORD, "MSA_SSH_KEY": sshd.client_key.read_text()}

    result = subprocess.run(["bash", "-c", relay_local_script(plan, harbor)], cwd=project, env=env,
                            capture_output=True, text=True, timeout=600)

    assert result.returncode != 0
    assert "the relay host's sshd needs its sftp subsystem" in result.stderr
    # Nothing new (other tests running at the same time may remove their own folders meanwhile).
    assert set(Path("/tmp").glob("msa-image.*")) <= leftovers_before
    assert registry.uploads() == {"blobs": 0, "manifests": 0}


def _fingerprint(folder: Path) -> dict:
    return {str(p): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()} if folder.exists() else {}


def _files_holding(root: Path, needles: list[bytes]) -> list[Path]:
    found = []
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink() and not path.is_socket():
            try:
                data = path.read_bytes()
            except OSError:
                continue
            if any(n in data for n in needles):
                found.append(path)
    return found
