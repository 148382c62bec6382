"""The relay push, end to end against a real plain-HTTP registry with credentials.

The image is built without Docker (umoci + skopeo). The relay host's script (`relay-push.sh`, skopeo
path) pushes it, and the digest it prints is checked against the registry API. The local side
(`relay-local.sh` as rendered) runs too, with stand-ins only for what this machine lacks: `docker
build/save` (an archive made by skopeo instead) and ssh/scp (the "relay host" is this machine).
"""

import os
import stat
import subprocess
import textwrap
from pathlib import Path

import pytest

from msa.config import Harbor
from msa.images.harbor import ImagePlan, digest_from_output, relay_local_script, relay_push_script
from integration.harness import REGISTRY_NAME, Registry, build_oci_layout, require

pytestmark = pytest.mark.integration
USER, PASSWORD = "robot", "s3cret-Pa55word"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    require("docker-registry", "skopeo", "umoci", "/bin/busybox", "unshare")
    work = tmp_path_factory.mktemp("relay")
    registry = Registry(work / "registry", login=(USER, PASSWORD))
    layout = build_oci_layout(work / "image", "hello through the relay")
    hosts = work / "hosts"
    hosts.write_text(f"127.0.0.1 localhost\n127.0.0.1 {REGISTRY_NAME}\n")
    yield work, registry, layout, hosts
    registry.stop()


def _in_private_namespace(hosts: Path, command: list[str], env: dict, **kwargs) -> subprocess.CompletedProcess:
    """Run with `hosts` as /etc/hosts (a private mount namespace), so harbor.test resolves."""
    inner = f"mount --bind {hosts} /etc/hosts && exec \"$@\""
    return subprocess.run(["unshare", "--mount", "--propagation", "private", "--", "bash", "-c", inner, "bash", *command],
                          env=env, capture_output=True, text=True, timeout=120, **kwargs)


def _archive_and_push_script(folder: Path, layout: Path, target: str) -> tuple[Path, Path]:
    """What arrives on the relay host: a `docker save`-format archive tagged `target`, and relay-push.sh."""
    archive = folder / "image.tar"
    subprocess.run(["skopeo", "copy", "--quiet", f"oci:{layout}:1.0", f"docker-archive:{archive}:{target}"], check=True)
    script = folder / "relay-push.sh"
    script.write_text(relay_push_script())
    return archive, script


def test_relay_push_script_pushes_with_skopeo_and_prints_the_registry_digest(world, tmp_path):
    work, registry, layout, hosts = world
    target = f"{REGISTRY_NAME}:{registry.port}/library/app:1.0"
    archive, script = _archive_and_push_script(tmp_path, layout, target)
    env = {**os.environ, "HARBOR_USERNAME": USER, "HARBOR_PASSWORD": PASSWORD}

    result = _in_private_namespace(hosts, ["bash", str(script), str(archive), target, "skopeo", "http"], env)

    assert result.returncode == 0, result.stderr
    digest = result.stdout.strip().splitlines()[-1]
    assert digest == registry.manifest_digest("library/app", "1.0")
    assert PASSWORD not in result.stdout + result.stderr


def test_relay_push_without_credentials_is_refused_by_the_registry(world, tmp_path):
    work, registry, layout, hosts = world
    target = f"{REGISTRY_NAME}:{registry.port}/library/anonymous:1.0"
    archive, script = _archive_and_push_script(tmp_path, layout, target)
    result = _in_private_namespace(hosts, ["bash", str(script), str(archive), target, "skopeo", "http"], dict(os.environ))
    assert result.returncode != 0
    assert "unauthorized" in result.stderr.lower() or "authentication required" in result.stderr.lower()


def _stand_ins(folder: Path, layout: Path) -> Path:
    """docker (build is logged, save writes a docker-archive of the test image), ssh and scp to this machine."""
    folder.mkdir()
    scripts = {
        "docker": f"""\
            #!/usr/bin/env bash
            echo "docker $*" >>{folder}/docker.log
            case $1 in
              build) ;;
              save) skopeo copy --quiet oci:{layout}:1.0 "docker-archive:$3:$4" ;;
              *) exit 1 ;;
            esac""",
        "ssh": """\
            #!/usr/bin/env bash
            # ssh [-o X] [-p N] [-i KEY] user@host COMMAND... : run COMMAND here, like sshd would.
            while [ $# -gt 0 ]; do case $1 in -o|-p|-i) shift 2 ;; -*) shift ;; *) break ;; esac; done
            echo "ssh $1" >>"$(dirname "$0")/ssh.log"; shift
            exec bash -c "$*\"""",
        "scp": """\
            #!/usr/bin/env bash
            while [ $# -gt 0 ]; do case $1 in -o|-P|-i) shift 2 ;; -*) shift ;; *) break ;; esac; done
            cp "$1" "${2#*:}\"""",
    }
    for name, body in scripts.items():
        path = folder / name
        path.write_text(textwrap.dedent(body) + "\n")
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return folder


def test_rendered_relay_script_builds_for_the_nodes_copies_and_pushes(world, tmp_path):
    work, registry, layout, hosts = world
    context = tmp_path / "user-service"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM scratch\n")
    harbor = Harbor(host=f"{REGISTRY_NAME}:{registry.port}", project="library", username=USER, push="relay",
                    relay_host="relay.test", relay_tool="skopeo")
    plan = ImagePlan("user-service", f"{harbor.host}/library/usersservice", "2.0", "linux/amd64", "relay",
                     context, context / "Dockerfile", {})
    script = tmp_path / "user-service.relay.sh"
    script.write_text(relay_local_script(plan, harbor))
    fakes = _stand_ins(tmp_path / "bin", layout)
    env = {**os.environ, "PATH": f"{fakes}:{os.environ['PATH']}", "HARBOR_USERNAME": USER, "HARBOR_PASSWORD": PASSWORD,
           "MSA_SSH_KEY": "-----BEGIN KEY-----\nnot-a-real-key\n-----END KEY-----"}

    result = _in_private_namespace(hosts, ["bash", str(script)], env)

    assert result.returncode == 0, result.stderr
    assert digest_from_output(result.stdout) == registry.manifest_digest("library/usersservice", "2.0")
    build = (fakes / "docker.log").read_text().splitlines()[0]
    assert "--platform linux/amd64" in build and f"--tag {plan.target}" in build
    assert (fakes / "ssh.log").read_text().splitlines()[0] == "ssh root@relay.test"
    assert PASSWORD not in result.stdout + result.stderr
    leftover = [p for p in Path("/tmp").glob("msa-image.*") if (p / "image.tar").exists()]
    assert leftover == []


def _credential_leftovers(roots: list[Path]) -> list[Path]:
    """Files under `roots` that hold the Harbor password or its docker `auth` token."""
    import base64

    needles = [PASSWORD.encode(), base64.b64encode(f"{USER}:{PASSWORD}".encode())]
    found = []
    for root in roots:
        for path in root.rglob("*"):
            if path.is_file() and not path.is_symlink() and any(n in path.read_bytes() for n in needles):
                found.append(path)
    return found


def _relay_home(tmp_path: Path) -> tuple[dict, Path, Path]:
    """HOME, XDG_RUNTIME_DIR and TMPDIR of the relay user: where docker/skopeo/podman keep logins."""
    home, runtime, tmp = tmp_path / "home", tmp_path / "run-user", tmp_path / "tmp"
    for d in (home, runtime, tmp):
        d.mkdir(parents=True)
    return {"HOME": str(home), "XDG_RUNTIME_DIR": str(runtime), "TMPDIR": str(tmp)}, home, tmp


def test_skopeo_push_leaves_no_credential_on_the_relay_host(world, tmp_path):
    work, registry, layout, hosts = world
    target = f"{REGISTRY_NAME}:{registry.port}/library/clean:1.0"
    archive, script = _archive_and_push_script(tmp_path, layout, target)
    relay_env, home, tmp = _relay_home(tmp_path / "relay")
    env = {**os.environ, **relay_env, "HARBOR_USERNAME": USER, "HARBOR_PASSWORD": PASSWORD}

    result = _in_private_namespace(hosts, ["bash", str(script), str(archive), target, "skopeo", "http"], env)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == registry.manifest_digest("library/clean", "1.0")
    assert _credential_leftovers([tmp_path]) == []
    assert list(tmp.iterdir()) == []  # the per-run folder with the auth file is gone


def _docker_via_skopeo(folder: Path) -> Path:
    """A docker CLI stand-in whose `login` stores the credential exactly where docker does
    ($DOCKER_CONFIG/config.json, else ~/.docker/config.json) and whose `push` pushes to the real
    registry with skopeo using only that file: the push succeeds only if login and push share it."""
    folder.mkdir()
    path = folder / "docker"
    path.write_text(textwrap.dedent("""\
        #!/usr/bin/env bash
        set -euo pipefail
        config=${DOCKER_CONFIG:-$HOME/.docker}
        state=$(dirname "$0")
        case $1 in
          info) exit 0 ;;
          login)
            registry=${@: -1}
            mkdir -p "$config"
            printf '{"auths":{"%s":{"auth":"%s"}}}' "$registry" "$(printf '%s:%s' "$3" "$(cat)" | base64 -w0)" >"$config/config.json"
            echo "Login Succeeded" ;;
          load) cp "$3" "$state/loaded.tar"; echo "Loaded image: $(cat "$state/tag")" ;;
          tag) ;;
          push)
            skopeo copy --quiet --dest-tls-verify=false --dest-authfile "$config/config.json" \\
              --digestfile "$state/digest" "docker-archive:$state/loaded.tar" "docker://$2" ;;
          image) ref=${@: -1}; echo "${ref%:*}@$(cat "$state/digest")" ;;
          *) exit 1 ;;
        esac
        """))
    path.chmod(0o755)
    return folder


def test_docker_push_logs_in_per_run_and_leaves_no_credential_on_the_relay_host(world, tmp_path):
    work, registry, layout, hosts = world
    target = f"{REGISTRY_NAME}:{registry.port}/library/viadocker:1.0"
    archive, script = _archive_and_push_script(tmp_path, layout, target)
    fakes = _docker_via_skopeo(tmp_path / "bin")
    (fakes / "tag").write_text(target)
    relay_env, home, tmp = _relay_home(tmp_path / "relay")
    env = {**os.environ, **relay_env, "PATH": f"{fakes}:{os.environ['PATH']}", "HARBOR_USERNAME": USER, "HARBOR_PASSWORD": PASSWORD}

    result = _in_private_namespace(hosts, ["bash", str(script), str(archive), target, "docker", "http"], env)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == registry.manifest_digest("library/viadocker", "1.0")
    assert not (home / ".docker").exists()  # the relay user's own docker login is untouched
    assert _credential_leftovers([tmp_path]) == []
    assert list(tmp.iterdir()) == []
