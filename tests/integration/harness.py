"""Real components for integration tests, each in a temporary folder on loopback.

- `Registry`: Debian's `docker-registry` (distribution) serving plain HTTP on 127.0.0.1.
- `build_image`: a one-layer OCI image built without Docker (umoci + static busybox), pushed with skopeo.
- `Containerd`: a private containerd daemon (own root, state, socket, certs.d and config) that resolves
  names through its own /etc/hosts, bind-mounted in a private mount namespace. The machine's
  containerd, /etc/hosts and services are never touched.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import textwrap
import time
import urllib.error
import urllib.request
import warnings
from pathlib import Path
from typing import Optional

import pytest

from integration.jvm_archive import CI_CACHE
from ports import free_port  # noqa: F401  (re-exported: servers' ports outside the ephemeral range)

REPO = Path(__file__).resolve().parents[2]
CONTAINERD_CACHE = CI_CACHE / "containerd"    # fetch-containerd.sh's default destination
REGISTRY_NAME = "harbor.test"   # not "localhost": containerd speaks plain HTTP to localhost by itself


def require(*tools: str) -> None:
    """Skip when a real component is missing; in CI (MSA_REQUIRE_INTEGRATION=1) that is a failure."""
    missing = [t for t in tools if not (shutil.which(t) or Path(t).exists())]
    if os.geteuid() != 0:
        missing.append("root (mount namespaces, containerd)")
    if missing:
        skip_or_fail("missing for the integration test: " + ", ".join(missing) + " (.ci/run installs them)")


def skip_or_fail(message: str) -> None:
    """A missing real component skips the test locally; in CI (MSA_REQUIRE_INTEGRATION=1) it fails the run."""
    if os.environ.get("MSA_REQUIRE_INTEGRATION") == "1":
        pytest.fail(message)
    pytest.skip(message)


def wait_for(predicate, timeout: float, what: str, interval: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}")


def wait_until(predicate, timeout: float, what: str, interval: float = 0.5) -> None:
    """wait_for with a slower poll, for checks that cost a request."""
    wait_for(predicate, timeout, what, interval)


def htpasswd_line(user: str, password: str) -> str:
    """A bcrypt htpasswd line at bcrypt's lowest cost (4): the registry checks it on every request, and at
    the default cost (12, about a quarter of a CPU-second each) a mirror test's few hundred requests
    spent more CPU in the registry than in everything else the test ran."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt  # bcrypt through the system's libxcrypt; deprecated in 3.11, fine for a test hash

        return f"{user}:{crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=2 ** 4))}\n"


class Registry:
    """docker-registry on 127.0.0.1:<free port>, plain HTTP, storage in `root`; with `login`, htpasswd auth
    for that one (user, password)."""

    def __init__(self, root: Path, login: Optional[tuple[str, str]] = None):
        self.root = root
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.auth: Optional[tuple[str, str]] = login
        root.mkdir(parents=True, exist_ok=True)
        auth = ""
        if login:
            (root / "htpasswd").write_text(htpasswd_line(*login))
            auth = f"auth:\n  htpasswd: {{realm: test, path: {root / 'htpasswd'}}}\n"
        (root / "config.yml").write_text(textwrap.dedent(f"""\
            version: 0.1
            log: {{level: warn}}
            storage:
              filesystem: {{rootdirectory: {root / 'data'}}}
            http:
              addr: {self.address}
        """) + auth)
        self.log = open(root / "registry.log", "w")
        self.process = subprocess.Popen(["docker-registry", "serve", str(root / "config.yml")], stdout=self.log, stderr=subprocess.STDOUT)
        wait_for(self._up, 15, "docker-registry to answer /v2/")

    def _up(self) -> bool:
        try:
            return urllib.request.urlopen(f"http://{self.address}/v2/", timeout=1).status == 200
        except urllib.error.HTTPError as exc:
            return exc.code == 401  # up, and asking for credentials
        except OSError:
            return False

    def _open(self, request: urllib.request.Request):
        if self.auth:
            token = base64.b64encode(":".join(self.auth).encode()).decode()
            request.add_header("Authorization", f"Basic {token}")
        return urllib.request.urlopen(request, timeout=5)

    def manifest_digest(self, repository: str, tag: str) -> str:
        """Docker-Content-Digest of a tag, read back from the registry API."""
        request = urllib.request.Request(f"http://{self.address}/v2/{repository}/manifests/{tag}", method="HEAD")
        # One header listing every type (urllib keeps only the last of repeated headers): the registry
        # answers 404 for a manifest whose type the client does not accept.
        request.add_header("Accept", ", ".join((
            "application/vnd.oci.image.manifest.v1+json", "application/vnd.docker.distribution.manifest.v2+json",
            "application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.list.v2+json")))
        with self._open(request) as response:
            return response.headers["Docker-Content-Digest"]

    def requests(self) -> list[str]:
        """Every request so far from the access log, as `METHOD /path` (registry.log)."""
        self.log.flush()
        lines = (self.root / "registry.log").read_text().splitlines()
        return [m.group(1) for m in (re.search(r'"([A-Z]+ /v2/[^ ]*) HTTP', line) for line in lines) if m]

    def uploads(self, since: int = 0) -> dict[str, int]:
        """Blob uploads started and manifests written among the requests after the first `since`."""
        new = self.requests()[since:]
        return {
            "blobs": sum(1 for r in new if r.startswith("POST ") and "/blobs/uploads/" in r),
            "manifests": sum(1 for r in new if r.startswith("PUT ") and "/manifests/" in r),
        }

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)
        self.log.close()


def build_oci_layout(workdir: Path, message: str) -> Path:
    """An OCI layout (tag 1.0) with static busybox and /hello.txt, built by umoci without Docker."""
    layout = workdir / "layout"
    bundle = workdir / "bundle"
    run = lambda *cmd: subprocess.run(cmd, check=True, capture_output=True, text=True)  # noqa: E731
    run("umoci", "init", "--layout", str(layout))
    run("umoci", "new", "--image", f"{layout}:1.0")
    run("umoci", "unpack", "--image", f"{layout}:1.0", str(bundle))
    (bundle / "rootfs" / "bin").mkdir(parents=True, exist_ok=True)
    shutil.copy("/bin/busybox", bundle / "rootfs" / "bin" / "busybox")
    (bundle / "rootfs" / "hello.txt").write_text(message + "\n")
    run("umoci", "repack", "--image", f"{layout}:1.0", str(bundle))
    run("umoci", "config", "--image", f"{layout}:1.0", "--config.cmd=/bin/busybox", "--config.cmd=cat", "--config.cmd=/hello.txt")
    return layout


def build_index_layout(workdir: Path, messages: dict[str, str], tag: str) -> Path:
    """An OCI layout whose `tag` is a multi-arch index: one busybox image per architecture (the arch
    is only the config's label here: the tests never run the arm64 one)."""
    layout = workdir / "layout"
    run = lambda *cmd: subprocess.run(cmd, check=True, capture_output=True, text=True)  # noqa: E731
    run("umoci", "init", "--layout", str(layout))
    entries = []
    for arch, message in messages.items():
        bundle = workdir / f"bundle-{arch}"
        run("umoci", "new", "--image", f"{layout}:{arch}")
        run("umoci", "unpack", "--image", f"{layout}:{arch}", str(bundle))
        (bundle / "rootfs" / "bin").mkdir(parents=True, exist_ok=True)
        shutil.copy("/bin/busybox", bundle / "rootfs" / "bin" / "busybox")
        (bundle / "rootfs" / "hello.txt").write_text(message + "\n")
        run("umoci", "repack", "--image", f"{layout}:{arch}", str(bundle))
        run("umoci", "config", "--image", f"{layout}:{arch}", f"--architecture={arch}",
            "--config.cmd=/bin/busybox", "--config.cmd=cat", "--config.cmd=/hello.txt")
    index_file = layout / "index.json"
    for entry in json.loads(index_file.read_text())["manifests"]:
        arch = entry["annotations"]["org.opencontainers.image.ref.name"]
        entries.append({"mediaType": entry["mediaType"], "digest": entry["digest"], "size": entry["size"],
                        "platform": {"architecture": arch, "os": "linux"}})
    blob = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": entries}).encode()
    digest = hashlib.sha256(blob).hexdigest()
    (layout / "blobs" / "sha256" / digest).write_bytes(blob)
    index_file.write_text(json.dumps({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.index.v1+json", "digest": f"sha256:{digest}", "size": len(blob),
        "annotations": {"org.opencontainers.image.ref.name": tag}}]}))
    return layout


def push_layout(layout: Path, target: str) -> None:
    subprocess.run(["skopeo", "copy", "--quiet", "--dest-tls-verify=false", f"oci:{layout}:1.0", f"docker://{target}"],
                   check=True, capture_output=True, text=True)


class Containerd:
    """A private containerd of a given version. `ctl` is a script with start|stop|restart, which is also
    the node script's MSA_RESTART, so a restart by the script is a real restart of this daemon."""

    def __init__(self, bin_dir: Path, root: Path, config_text: str, hosts_text: str):
        self.bin_dir = bin_dir
        self.root = root
        for sub in ("etc/containerd/certs.d", "root", "state", "opt"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        self.config = root / "etc/containerd/config.toml"
        self.certs_dir = root / "etc/containerd/certs.d"
        self.hosts = root / "etc/hosts"
        self.socket = root / "containerd.sock"
        self.state_dir = root / "msa-node-setup"
        self.log = root / "containerd.log"
        self.config.write_text(self._isolate(config_text))
        self.hosts.write_text(hosts_text)
        self.ctl = root / "ctl.sh"
        self.ctl.write_text(textwrap.dedent(f"""\
            #!/usr/bin/env bash
            # start|stop|restart the test containerd; it sees {self.hosts} as /etc/hosts.
            set -eu
            pidfile={root}/containerd.pid
            stop() {{
              [ -f "$pidfile" ] || return 0
              pid=$(cat "$pidfile"); kill "$pid" 2>/dev/null || true
              for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
              kill -9 "$pid" 2>/dev/null || true
              rm -f "$pidfile"
            }}
            start() {{
              setsid unshare --mount --propagation private -- bash -c \\
                'mount --bind {self.hosts} /etc/hosts && exec {bin_dir}/containerd --config {self.config} --root {root}/root --state {root}/state --address {self.socket} --log-level debug' \\
                >>{self.log} 2>&1 </dev/null &
              echo $! >"$pidfile"
              for _ in $(seq 1 100); do [ -S {self.socket} ] && exit 0; sleep 0.1; done
              echo "containerd did not create its socket" >&2; exit 1
            }}
            case ${{1:-}} in start) start ;; stop) stop ;; restart) stop; start ;; *) exit 2 ;; esac
        """))
        self.ctl.chmod(0o755)

    def _isolate(self, text: str) -> str:
        """Keep the stock config's structure, but point the paths it would create on the machine into root."""
        text = text.replace("/var/lib/containerd/opt", str(self.root / "opt")).replace("/opt/containerd", str(self.root / "opt"))
        text = text.replace("/var/run/nri/nri.sock", str(self.root / "nri.sock"))
        return text.replace("[plugins.'io.containerd.nri.v1.nri']\n    disable = false", "[plugins.'io.containerd.nri.v1.nri']\n    disable = true")

    def start(self) -> None:
        subprocess.run(["bash", str(self.ctl), "start"], check=True)

    def stop(self) -> None:
        subprocess.run(["bash", str(self.ctl), "stop"], check=False)

    @property
    def pid(self) -> Optional[int]:
        pidfile = self.root / "containerd.pid"
        return int(pidfile.read_text()) if pidfile.exists() else None

    def script_env(self) -> dict[str, str]:
        """The node script's parameters, pointed at this daemon instead of the machine's."""
        return {
            **os.environ,
            "MSA_CERTS_DIR": str(self.certs_dir),
            "MSA_CONTAINERD_CONFIG": str(self.config),
            "MSA_STATE_DIR": str(self.state_dir),
            "MSA_HOSTS_FILE": str(self.hosts),
            "MSA_CONTAINERD": str(self.bin_dir / "containerd"),
            "MSA_CTR": str(self.bin_dir / "ctr"),
            "MSA_CONTAINERD_ADDRESS": str(self.socket),
            "MSA_RESTART": f"bash {self.ctl} restart",
        }

    def plugins(self) -> str:
        return subprocess.run([str(self.bin_dir / "ctr"), "--address", str(self.socket), "plugins", "ls"],
                              capture_output=True, text=True).stdout


def containerd_versions() -> dict[str, Path]:
    """Binary folders of the containerd lines available here: 1.6 (bookworm), 1.7 (trixie), 2.x (sid)."""
    found = {}
    if Path("/usr/bin/containerd").exists():
        found["1.6"] = Path("/usr/bin")
    for line in ("1.7", "2"):
        if (CONTAINERD_CACHE / line / "usr/bin/containerd").exists():
            found[line] = CONTAINERD_CACHE / line / "usr/bin"
    return found
