"""Mirroring third-party images into Harbor, with the real tools: two Debian docker-registry instances
on loopback (the upstream source, and "Harbor": plain HTTP with htpasswd auth), images made by umoci
(a two-platform index and a single image), the very scripts the stack renders (mirror.py), skopeo,
and a real containerd that pulls the mirrored image by digest after the node script.

What is counted comes from the Harbor registry's access log: blob uploads (POST .../blobs/uploads/)
and manifest writes (PUT .../manifests/...). A second run must show none of either.
"""

import os
import subprocess
import threading
import time
from pathlib import Path

import pytest

from integration.cri import CriClient
from integration.harness import (
    REGISTRY_NAME, Containerd, Registry, build_index_layout, build_oci_layout, containerd_versions, require,
)
from msa.config import Cluster, Harbor, Service, StackConfig
from msa.images.harbor import digest_from_output
from msa.images.mirror import mirror_script
from msa.mirror_plan import mirror_plans
from msa.nodes.containerd import node_script

pytestmark = pytest.mark.integration
USER, PASSWORD = "robot", "Canary-Pa55word-7f3a"
TAG = "7.9.1"


class World:
    def __init__(self, work: Path, upstream: Registry, harbor: Registry):
        self.work, self.upstream, self.harbor = work, upstream, harbor
        self.hosts = work / "hosts"
        self.hosts.write_text(f"127.0.0.1 localhost\n127.0.0.1 {REGISTRY_NAME}\n")
        # The upstream is plain HTTP too: the copying host's registries.conf says so, as a site with an
        # internal source registry would (skopeo 1.9 reads only /etc/containers/registries.conf: it
        # is bound over that file in the private mount namespace, like the hosts file).
        self.registries_conf = work / "registries.conf"
        self.registries_conf.write_text(f'[[registry]]\nlocation = "{upstream.address}"\ninsecure = true\n')

    def in_namespace(self) -> list[str]:
        """The command prefix: a private mount namespace with this world's hosts and registries.conf."""
        inner = (f"mount --bind {self.hosts} /etc/hosts && mount --bind {self.registries_conf} /etc/containers/registries.conf "
                 "&& exec \"$@\"")
        return ["unshare", "--mount", "--propagation", "private", "--", "bash", "-c", inner, "bash"]

    @property
    def harbor_host(self) -> str:
        return f"{REGISTRY_NAME}:{self.harbor.port}"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    require("docker-registry", "skopeo", "umoci", "/bin/busybox", "unshare")
    work = tmp_path_factory.mktemp("mirror")
    upstream = Registry(work / "upstream")
    harbor = Registry(work / "harbor", login=(USER, PASSWORD))
    # cp-kafka upstream is a two-platform index; cp-zookeeper a single linux/amd64 image.
    kafka = build_index_layout(work / "kafka", {"amd64": "cp-kafka amd64", "arm64": "cp-kafka arm64"}, TAG)
    zookeeper = build_oci_layout(work / "zookeeper", "cp-zookeeper")
    copy = ["skopeo", "copy", "--quiet", "--dest-tls-verify=false"]
    subprocess.run([*copy, "--all", f"oci:{kafka}:{TAG}", f"docker://{upstream.address}/confluentinc/cp-kafka:{TAG}"], check=True)
    subprocess.run([*copy, f"oci:{zookeeper}:1.0", f"docker://{upstream.address}/confluentinc/cp-zookeeper:{TAG}"], check=True)
    w = World(work, upstream, harbor)
    w.kafka_layout, w.zookeeper_layout = kafka, zookeeper
    yield w
    upstream.stop()
    harbor.stop()


def _config(world: World, project: str = "mirror", platforms: str = "node", push: str = "direct",
            source: str = "", mirror_images: dict | None = None) -> StackConfig:
    source = source or world.upstream.address
    return StackConfig.model_validate({
        "harbor": {"host": world.harbor_host, "scheme": "http", "username": USER, "push": push, "mirror": "copy",
                   "mirrorProject": project, "mirrorPlatforms": platforms, "mirrorImages": mirror_images or {}},
        "kafka": {"image": f"{source}/confluentinc/cp-kafka:{TAG}", "zookeeperImage": f"{source}/confluentinc/cp-zookeeper:{TAG}",
                  "ui": {"enabled": False}},
        "services": {},
    })


class CmdlineWatch:
    """Samples every process's command line while a run lasts: the canary must never be on one (`ps`)."""

    def __init__(self, needle: str):
        self.needle, self.seen, self.samples = needle.encode(), [], 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
                try:
                    text = cmdline.read_bytes()
                except OSError:
                    continue
                if self.needle in text:
                    self.seen.append(text.replace(b"\0", b" ").decode(errors="replace"))
            self.samples += 1
            time.sleep(0.005)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def _run_mirror(world: World, cfg: StackConfig, role: str, project_dir: Path, env: dict | None = None) -> tuple[subprocess.CompletedProcess, float]:
    """The rendered script of one image, run as `pulumi up` runs it (bash -c, from the project folder,
    credentials in the environment), with harbor.test resolving to loopback (a private mount namespace)."""
    plan = mirror_plans(cfg, project_dir)[role]
    script = mirror_script(plan, cfg.harbor, project_dir)
    environment = {**os.environ, "HARBOR_USERNAME": USER, "HARBOR_PASSWORD": PASSWORD, **(env or {})}
    started = time.monotonic()
    with CmdlineWatch(PASSWORD) as watch:
        result = subprocess.run([*world.in_namespace(), "/bin/bash", "-c", script],
                                env=environment, cwd=project_dir, capture_output=True, text=True, timeout=300)
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    assert watch.samples > 0 and watch.seen == [], watch.seen
    assert PASSWORD not in result.stdout + result.stderr + script
    return result, elapsed


def _upstream_instance_digest(world: World, arch: str) -> str:
    raw = subprocess.run(["skopeo", "inspect", "--raw", f"oci:{world.kafka_layout}:{TAG}"], check=True, capture_output=True, text=True).stdout
    import json

    return next(m["digest"] for m in json.loads(raw)["manifests"] if m["platform"]["architecture"] == arch)


def test_copy_mirrors_each_image_once_and_a_second_run_copies_nothing(world, tmp_path):
    cfg = _config(world)
    timings = {}
    for role, repository in (("kafka", "mirror/cp-kafka"), ("zookeeper", "mirror/cp-zookeeper")):
        before = len(world.harbor.requests())
        first, timings[f"{role} first"] = _run_mirror(world, cfg, role, tmp_path)
        copied = world.harbor.uploads(before)
        digest = digest_from_output(first.stdout)
        # Read back from Harbor: the tag the script copied to is served under that digest.
        assert digest == world.harbor.manifest_digest(repository, TAG)
        assert copied["manifests"] == 1 and copied["blobs"] >= 2, copied     # a layer and the config
        assert "copying" in first.stderr

        before = len(world.harbor.requests())
        second, timings[f"{role} second"] = _run_mirror(world, cfg, role, tmp_path)
        assert world.harbor.uploads(before) == {"blobs": 0, "manifests": 0}
        assert digest_from_output(second.stdout) == digest
        assert "up to date" in second.stderr and "copying" not in second.stderr
    # Only the nodes' platform was copied: the digest is the amd64 instance of the upstream index.
    assert world.harbor.manifest_digest("mirror/cp-kafka", TAG) == _upstream_instance_digest(world, "amd64")
    print("mirror timings (s):", {k: round(v, 2) for k, v in timings.items()})


def test_switching_to_all_platforms_copies_the_index_once_and_back_again(world, tmp_path):
    node, every = _config(world, project="multi"), _config(world, project="multi", platforms="all")
    index_digest = subprocess.run(["skopeo", "inspect", "--format", "{{.Digest}}", f"oci:{world.kafka_layout}:{TAG}"],
                                  check=True, capture_output=True, text=True).stdout.strip()
    _run_mirror(world, node, "kafka", tmp_path)

    before = len(world.harbor.requests())
    result, _ = _run_mirror(world, every, "kafka", tmp_path)
    moved = world.harbor.uploads(before)
    assert digest_from_output(result.stdout) == index_digest == world.harbor.manifest_digest("multi/cp-kafka", TAG)
    # The arm64 image's blobs and the two manifests plus the index; amd64's blobs were there already.
    assert moved["manifests"] == 3 and moved["blobs"] >= 2, moved

    before = len(world.harbor.requests())
    again, _ = _run_mirror(world, every, "kafka", tmp_path)
    assert world.harbor.uploads(before) == {"blobs": 0, "manifests": 0}
    assert digest_from_output(again.stdout) == index_digest

    # Back to the nodes' platform only: the tag points at the amd64 image again, no blob moves.
    before = len(world.harbor.requests())
    back, _ = _run_mirror(world, node, "kafka", tmp_path)
    assert world.harbor.uploads(before) == {"blobs": 0, "manifests": 1}
    assert digest_from_output(back.stdout) == _upstream_instance_digest(world, "amd64")


def test_air_gapped_copy_from_archives_needs_no_source_registry(world, tmp_path):
    """A `docker save` tarball and an OCI layout beside the project; the source registry in the image
    names is a closed port, so any attempt to reach it fails the run."""
    project = tmp_path / "project"
    (project / "images").mkdir(parents=True)
    tarball = project / "images" / "cp-zookeeper.tar"
    subprocess.run(["skopeo", "copy", "--quiet", f"oci:{world.zookeeper_layout}:1.0",
                    f"docker-archive:{tarball}:confluentinc/cp-zookeeper:{TAG}"], check=True)
    subprocess.run(["cp", "-a", str(world.kafka_layout), str(project / "images" / "cp-kafka")], check=True)
    cfg = _config(world, project="airgap", source="127.0.0.1:9", mirror_images={
        "cp-zookeeper": {"archive": "images/cp-zookeeper.tar"}, "cp-kafka": {"archive": "images/cp-kafka"}})
    for role, repository in (("zookeeper", "airgap/cp-zookeeper"), ("kafka", "airgap/cp-kafka")):
        before = len(world.harbor.requests())
        first, elapsed = _run_mirror(world, cfg, role, project)
        assert world.harbor.uploads(before)["manifests"] == 1
        assert digest_from_output(first.stdout) == world.harbor.manifest_digest(repository, TAG)
        before = len(world.harbor.requests())
        second, _ = _run_mirror(world, cfg, role, project)
        assert world.harbor.uploads(before) == {"blobs": 0, "manifests": 0}, role
        assert digest_from_output(second.stdout) == digest_from_output(first.stdout)
    # The OCI layout's amd64 image keeps its digest (the same bytes as upstream's).
    assert world.harbor.manifest_digest("airgap/cp-kafka", TAG) == _upstream_instance_digest(world, "amd64")


def test_a_wrong_harbor_password_fails_the_copy_without_showing_it(world, tmp_path):
    cfg = _config(world, project="refused")
    plan = mirror_plans(cfg, tmp_path)["zookeeper"]
    wrong = "Wrong-Canary-0b9d"
    result = subprocess.run(
        [*world.in_namespace(), "/bin/bash", "-c", mirror_script(plan, cfg.harbor, tmp_path)],
        env={**os.environ, "HARBOR_USERNAME": USER, "HARBOR_PASSWORD": wrong},
        cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "unauthorized" in result.stderr.lower() or "authentication required" in result.stderr.lower()
    assert wrong not in result.stdout + result.stderr


def test_nodes_containerd_pulls_the_mirrored_image_by_digest_over_plain_http(world, tmp_path):
    versions = containerd_versions()
    if not versions:
        require("containerd (tests/integration/fetch-containerd.sh)")
    cfg = _config(world)
    result, _ = _run_mirror(world, cfg, "kafka", tmp_path)
    image = f"{world.harbor_host}/mirror/cp-kafka@{digest_from_output(result.stdout)}"
    version, bin_dir = sorted(versions.items())[-1]
    config = subprocess.run([str(bin_dir / "containerd"), "config", "default"], check=True, capture_output=True, text=True).stdout
    daemon = Containerd(bin_dir, tmp_path / "node", config, f"127.0.0.1 localhost\n127.0.0.1 {REGISTRY_NAME}\n")
    daemon.start()
    cri = CriClient(daemon.socket, tmp_path / "cri")
    try:
        script = tmp_path / "node.sh"
        script.write_text(node_script("test-node", Harbor(host=world.harbor_host, scheme="http"), Cluster()))
        applied = subprocess.run(["bash", str(script), "apply"], env=daemon.script_env(), capture_output=True, text=True, timeout=120)
        assert applied.returncode == 0, applied.stderr
        # As the kubelet pulls with the pod's imagePullSecret (harbor-pull).
        assert cri.pull(image, auth=(USER, PASSWORD)).startswith("sha256:")
    finally:
        cri.close()
        daemon.stop()


def _ssh_stand_ins(folder: Path) -> Path:
    """ssh and scp to "the relay host" = this machine, as sshd would run them (the command line joined
    and run by a shell; scp -r copies folders). Each logs what it was asked, to check the host key rule."""
    folder.mkdir()
    (folder / "ssh").write_text(
        "#!/usr/bin/env bash\n"
        'echo "ssh $*" >>"$(dirname "$0")/ssh.log"\n'
        "while [ $# -gt 0 ]; do case $1 in -o|-p|-i) shift 2 ;; -*) shift ;; *) break ;; esac; done\n"
        'shift; exec bash -c "$*"\n')
    (folder / "scp").write_text(
        "#!/usr/bin/env bash\n"
        "while [ $# -gt 0 ]; do case $1 in -o|-P|-i) shift 2 ;; -*) shift ;; *) break ;; esac; done\n"
        'cp -r "$1" "${2#*:}"\n')
    for tool in ("ssh", "scp"):
        (folder / tool).chmod(0o755)
    return folder


def test_relay_copies_an_archive_on_the_relay_host_and_leaves_nothing_there(world, tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    subprocess.run(["cp", "-a", str(world.kafka_layout), str(project / "cp-kafka")], check=True)
    key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
    cfg = _config(world, project="relayed", push="relay", source="127.0.0.1:9", mirror_images={"cp-kafka": {"archive": "cp-kafka"}})
    cfg = cfg.model_copy(update={"harbor": cfg.harbor.model_copy(update={"relay_host": "relay.test", "relay_host_key": key})})
    fakes = _ssh_stand_ins(tmp_path / "bin")
    leftovers_before = set(Path("/tmp").glob("msa-mirror.*"))
    env = {"PATH": f"{fakes}:{os.environ['PATH']}", "MSA_SSH_KEY": "-----BEGIN KEY-----\nnot-a-real-key\n-----END KEY-----"}

    first, _ = _run_mirror(world, cfg, "kafka", project, env)
    assert digest_from_output(first.stdout) == world.harbor.manifest_digest("relayed/cp-kafka", TAG) == _upstream_instance_digest(world, "amd64")
    calls = (fakes / "ssh.log").read_text()
    assert "root@relay.test" in calls and "StrictHostKeyChecking=yes" in calls and PASSWORD not in calls
    before = len(world.harbor.requests())
    second, _ = _run_mirror(world, cfg, "kafka", project, env)
    assert world.harbor.uploads(before) == {"blobs": 0, "manifests": 0}
    assert "up to date" in second.stderr
    # The archive copied to the relay host is gone after each run.
    assert set(Path("/tmp").glob("msa-mirror.*")) == leftovers_before


def test_proxy_cache_mode_only_reads_the_digest(world, tmp_path):
    """resolve: the digest Harbor serves for the proxy path, and not a single upload."""
    subprocess.run(["skopeo", "copy", "--quiet", "--dest-tls-verify=false", "--dest-creds", f"{USER}:{PASSWORD}",
                    f"oci:{world.zookeeper_layout}:1.0", f"docker://{world.harbor.address}/dockerhub-proxy/confluentinc/cp-zookeeper:{TAG}"],
                   check=True)
    cfg = _config(world)
    cfg = cfg.model_copy(update={"harbor": cfg.harbor.model_copy(update={
        "mirror": "proxy-cache", "proxy_projects": {world.upstream.address: "dockerhub-proxy"}})})
    before = len(world.harbor.requests())
    result, _ = _run_mirror(world, cfg, "zookeeper", tmp_path)
    assert digest_from_output(result.stdout) == world.harbor.manifest_digest("dockerhub-proxy/confluentinc/cp-zookeeper", TAG)
    assert world.harbor.uploads(before) == {"blobs": 0, "manifests": 0}


def _service_config(world: World, push: str = "direct") -> StackConfig:
    return StackConfig.model_validate({
        "harbor": {"host": world.harbor_host, "scheme": "http", "username": USER, "push": push, "mirror": "off", "project": "library"},
        "kafka": {"ui": {"enabled": False}},
        "services": {},
    })


def test_a_prebuilt_service_resolves_the_digest_harbor_holds_and_follows_a_re_pushed_tag(world, tmp_path):
    """resolve_script for a prebuilt service: prints the digest of library/usersservice:1.0 as Harbor
    holds it, uploads nothing, and after the tag is re-pushed prints the new one."""
    from msa.images.harbor import image_plan, resolve_script

    creds = ["--dest-creds", f"{USER}:{PASSWORD}"]   # the test's own push, not the stack's
    copy = ["skopeo", "copy", "--quiet", "--dest-tls-verify=false", *creds]
    subprocess.run([*copy, f"oci:{world.zookeeper_layout}:1.0", f"docker://{world.harbor.address}/library/usersservice:1.0"], check=True)
    cfg = _service_config(world)
    svc = Service.model_validate({"image": "usersservice", "tag": "1.0", "port": 8080})
    plan = image_plan("user-service", svc, cfg.harbor, "linux/amd64", tmp_path)
    script = resolve_script(plan, cfg.harbor)

    def run(password: str) -> subprocess.CompletedProcess:
        with CmdlineWatch(password) as watch:
            result = subprocess.run([*world.in_namespace(), "/bin/bash", "-c", script],
                                    env={**os.environ, "HARBOR_USERNAME": USER, "HARBOR_PASSWORD": password},
                                    cwd=tmp_path, capture_output=True, text=True, timeout=120)
        assert watch.samples > 0 and watch.seen == [], watch.seen
        assert password not in result.stdout + result.stderr + script
        return result

    before = len(world.harbor.requests())
    first = run(PASSWORD)
    assert first.returncode == 0, first.stderr
    assert digest_from_output(first.stdout) == world.harbor.manifest_digest("library/usersservice", "1.0")
    assert world.harbor.uploads(before) == {"blobs": 0, "manifests": 0}

    # The team re-pushes the tag with another image: the next run (preview or up) reads the new digest.
    subprocess.run([*copy, f"oci:{world.kafka_layout}:{TAG}", f"docker://{world.harbor.address}/library/usersservice:1.0"], check=True)
    second = run(PASSWORD)
    assert second.returncode == 0, second.stderr
    assert digest_from_output(second.stdout) == world.harbor.manifest_digest("library/usersservice", "1.0")
    assert digest_from_output(second.stdout) != digest_from_output(first.stdout)

    wrong = "Wrong-Canary-5e1c"
    refused = run(wrong)
    assert refused.returncode != 0 and "cannot read the digest" in refused.stderr
    assert refused.stdout.strip() == ""
