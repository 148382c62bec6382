"""Images: built for linux/<nodeArch>, pushed directly or through the relay host, deployed by digest."""

import base64
import os
import subprocess
from pathlib import Path

import pytest
import yaml

import render
from msa.images.harbor import context_hash, digest_from_output, relay_local_script, relay_push_script
from conftest import ROOT, TEST_PASSWORD, by_name, copy_project, run_stack

FAKE_DIGEST = "sha256:" + "ab" * 32


@pytest.fixture
def contexts(tmp_path):
    """Build contexts for user-service and store-service, as a team's checkouts would be."""
    for name in ("user-service", "store-service"):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "Dockerfile").write_text("FROM eclipse-temurin:17-jre\nCOPY app.jar /app.jar\n")
        (folder / "app.jar").write_bytes(b"jar bytes of " + name.encode())
    return tmp_path


def _with_contexts(contexts, push="direct", arch="amd64", relay=None):
    def edit(values):
        values["msa:cluster"]["nodeArch"] = arch
        values["msa:harbor"]["push"] = push
        if relay:
            values["msa:harbor"]["relayHost"] = relay
        for name in ("user-service", "store-service"):
            values["msa:services"][name]["context"] = str(contexts / name)
    return edit


def _deployment_image(result, name):
    return by_name(result, "Deployment", name)["spec"]["template"]["spec"]["containers"][0]


@pytest.mark.parametrize("arch", ["amd64", "arm64"])
def test_direct_build_is_always_for_the_nodes_platform(contexts, arch):
    result = run_stack("dev", _with_contexts(contexts, arch=arch))
    images = {r.name: r.inputs for r in result.resources if r.type == "docker:index/image:Image"}
    assert set(images) == {"image-user-service-image", "image-store-service-image"}
    for inputs in images.values():
        assert inputs["build"]["platform"] == f"linux/{arch}"
    assert images["image-user-service-image"]["imageName"] == "msa.harbor.com/library/usersservice:1.0"
    assert images["image-user-service-image"]["build"]["context"] == os.path.relpath(contexts / "user-service", ROOT)


def test_direct_push_uses_the_harbor_credentials_as_a_secret(contexts):
    result = run_stack("dev", _with_contexts(contexts))
    inputs = next(r.inputs for r in result.resources if r.type == "docker:index/image:Image")
    # The secret password makes the whole registry block a secret on the wire.
    assert inputs["registry"].get(render.SECRET_SIG)
    assert inputs["registry"]["value"] == {"server": "msa.harbor.com", "username": "admin", "password": TEST_PASSWORD}


class DigestMocks(render.RecordingMocks):
    """Mocks whose pushes report a known digest, to see where Deployments take their image from."""

    def new_resource(self, args):
        id_, state = super().new_resource(args)
        if args.typ == "docker:index/image:Image":
            state["repoDigest"] = state["repoDigest"].split("@")[0] + "@" + FAKE_DIGEST
        if args.typ == "command:local:Command":
            state["stdout"] = f"building...\npushed\n{FAKE_DIGEST}\n"
        return id_, state

    def call(self, args):
        if args.token == "command:local:run":   # a prebuilt service's digest, read from Harbor
            return {"stdout": f"{RESOLVED_DIGEST}\n", "stderr": ""}
        return super().call(args)


RESOLVED_DIGEST = "sha256:" + "4" * 64


@pytest.mark.parametrize("push, relay", [("direct", None), ("relay", "172.10.40.160")])
def test_deployments_pull_what_the_stack_pushed_by_digest(contexts, push, relay):
    result = run_stack("dev", _with_contexts(contexts, push=push, relay=relay), mocks=DigestMocks)
    container = _deployment_image(result, "user-service")
    assert container["image"] == f"msa.harbor.com/library/usersservice@{FAKE_DIGEST}"
    assert container["imagePullPolicy"] == "IfNotPresent"
    # Services without a build context: by the digest Harbor holds for their tag, read by the resolve step.
    assert _deployment_image(result, "discovery-service")["image"] == f"msa.harbor.com/library/discoveryservice@{RESOLVED_DIGEST}"


def test_no_pod_pulls_with_policy_always(dev):
    from conftest import objects

    for workload in objects(dev, "Deployment") + objects(dev, "StatefulSet"):
        for container in workload["spec"]["template"]["spec"]["containers"]:
            assert container.get("imagePullPolicy") != "Always"


def test_every_harbor_pod_gets_the_pull_secret(dev):
    (secret,) = [o for o in dev.kubernetes_objects() if o["kind"] == "Secret" and o.get("type") == "kubernetes.io/dockerconfigjson"]
    for name in ["discovery-service", "config-service", "apigateway-service", "user-service", "store-service"]:
        pod = by_name(dev, "Deployment", name)["spec"]["template"]["spec"]
        assert pod["imagePullSecrets"] == [{"name": secret["metadata"]["name"]}]


def test_without_credentials_there_is_no_pull_secret():
    def anonymous(values):
        del values["msa:harbor"]["username"]

    result = run_stack("dev", anonymous, secrets={"msa:harborPassword": None})
    assert not [o for o in result.kubernetes_objects() if o["kind"] == "Secret" and o.get("type") == "kubernetes.io/dockerconfigjson"]
    assert "imagePullSecrets" not in by_name(result, "Deployment", "user-service")["spec"]["template"]["spec"]


def test_relay_mode_runs_the_rendered_script_with_secrets_in_the_environment(contexts):
    result = run_stack("dev", _with_contexts(contexts, push="relay", relay="172.10.40.160"))
    commands = {r.name: r.inputs for r in result.resources if r.type == "command:local:Command"}
    command = commands["image-user-service-relay-push"]
    assert "PLATFORM=linux/amd64" in command["create"]
    assert "TARGET=msa.harbor.com/library/usersservice:1.0" in command["create"]
    assert "RELAY_HOST=172.10.40.160" in command["create"]
    assert TEST_PASSWORD not in command["create"]
    assert command["environment"].get(render.SECRET_SIG)  # password and SSH key travel as secrets
    assert command["triggers"][0] == context_hash(contexts / "user-service", contexts / "user-service" / "Dockerfile")


def test_relay_build_reruns_only_when_the_context_changes(contexts):
    dockerfile = contexts / "user-service" / "Dockerfile"
    before = context_hash(contexts / "user-service", dockerfile)
    assert context_hash(contexts / "user-service", dockerfile) == before
    (contexts / "user-service" / "app.jar").write_bytes(b"a new build")
    assert context_hash(contexts / "user-service", dockerfile) != before


def test_render_lists_images_and_writes_the_relay_scripts(contexts, tmp_path):
    result = run_stack("dev", _with_contexts(contexts, push="relay", relay="172.10.40.160"))
    files = render.output_files(result, ROOT)
    images = {i["service"]: i for i in yaml.safe_load(files["images.yaml"][0])["images"]}
    assert set(images) == {"discovery-service", "config-service", "apigateway-service", "user-service", "store-service"}
    assert all(i["platform"] == "linux/amd64" for i in images.values())
    assert images["user-service"]["push"] == "relay" and images["user-service"]["target"] == "msa.harbor.com/library/usersservice:1.0"
    assert images["discovery-service"]["push"] == "none"
    # An image the stack does not build says why, so `push: none` beside `msa:harbor.push: relay` is no riddle.
    assert images["discovery-service"]["why"].startswith("not built: msa:services.discovery-service has no context")
    assert "why" not in images["user-service"]
    assert files[images["user-service"]["relayScript"]][0] == relay_local_script_for(result, "user-service")
    assert files["images/relay-push.sh"][0] == relay_push_script()
    assert all(TEST_PASSWORD not in content for content, _ in files.values())


def relay_local_script_for(result, service):
    return next(r.inputs["create"] for r in result.resources if r.name == f"image-{service}-relay-push")


def test_digest_is_read_from_the_last_digest_line():
    assert digest_from_output(f"Loaded image: x\nsha256:{'1' * 64}\n{FAKE_DIGEST}\n") == FAKE_DIGEST
    with pytest.raises(ValueError):
        digest_from_output("push failed\n")


def test_relay_script_is_the_same_text_as_render_shows(contexts):
    from msa.config import Harbor
    from msa.images.harbor import ImagePlan

    plan = ImagePlan("user-service", "msa.harbor.com/library/usersservice", "1.0", "linux/amd64", "relay",
                     contexts / "user-service", contexts / "user-service" / "Dockerfile", {"JAR": "app.jar"})
    script = relay_local_script(plan, Harbor(host="msa.harbor.com", push="relay", relay_host="10.0.0.9"))
    assert "BUILD_ARGS=(JAR=app.jar)" in script and relay_push_script() in script


def test_relay_push_docker_path_logs_in_on_stdin_into_a_per_run_config_that_is_removed(tmp_path):
    """The docker branch of relay-push.sh, with a stand-in docker CLI (no engine here) that stores a
    login the way docker does (config.json in $DOCKER_CONFIG, else ~/.docker): the password goes
    through --password-stdin, login and push share a per-run config, and nothing is left behind."""
    fake = tmp_path / "bin" / "docker"
    fake.parent.mkdir()
    fake.write_text(f"""#!/usr/bin/env bash
echo "${{DOCKER_CONFIG:-default}} $*" >>{tmp_path}/calls
config=${{DOCKER_CONFIG:-$HOME/.docker}}
case $1 in
  info) exit 0 ;;
  login) mkdir -p "$config" && printf '{{"auths":{{"%s":{{"auth":"%s"}}}}}}' "${{@: -1}}" "$(printf '%s:%s' "$3" "$(cat)" | base64 -w0)" >"$config/config.json" ;;
  load) echo "Loaded image: msa.harbor.com/library/usersservice:1.0" ;;
  push) grep -q auths "$config/config.json" || exit 1; echo "1.0: digest: {FAKE_DIGEST} size: 528" ;;
  image) printf 'other.registry/usersservice@sha256:{"cd" * 32}\\nmsa.harbor.com/library/usersservice@{FAKE_DIGEST}\\n' ;;
esac
""")
    fake.chmod(0o755)
    home = tmp_path / "relay-home"
    home.mkdir()
    archive = tmp_path / "image.tar"
    archive.write_bytes(b"archive")
    script = tmp_path / "relay-push.sh"
    script.write_text(relay_push_script())
    env = {**os.environ, "PATH": f"{fake.parent}:{os.environ['PATH']}", "HOME": str(home), "TMPDIR": str(tmp_path),
           "HARBOR_USERNAME": "admin", "HARBOR_PASSWORD": TEST_PASSWORD}
    result = subprocess.run(["bash", str(script), str(archive), "msa.harbor.com/library/usersservice:1.0", "auto", "http"],
                            env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == FAKE_DIGEST
    calls = (tmp_path / "calls").read_text().splitlines()
    assert TEST_PASSWORD not in "\n".join(calls)
    (login,) = [c for c in calls if " login " in c]
    (push,) = [c for c in calls if " push " in c]
    assert login.endswith("login --username admin --password-stdin msa.harbor.com")
    per_run = login.split()[0]
    assert per_run.startswith(str(tmp_path)) and push.split()[0] == per_run  # push used the login
    assert not Path(per_run).exists() and not (home / ".docker").exists()
    token = base64.b64encode(f"admin:{TEST_PASSWORD}".encode()).decode()
    leftovers = [p for p in tmp_path.rglob("*") if p.is_file() and token.encode() in p.read_bytes()]
    assert leftovers == []


def _checkout(folder: Path) -> Path:
    """The project as a fresh clone at `folder`, with a service's build context next to it."""
    project = folder / "msa"
    copy_project(project)
    context = folder / "user-service"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM eclipse-temurin:17-jre\nCOPY app.jar /app.jar\n")
    (context / "app.jar").write_bytes(b"the same jar")
    return project


@pytest.mark.parametrize("push", ["direct", "relay"])
def test_the_same_commit_in_two_folders_has_identical_build_inputs(tmp_path, push):
    from conftest import to_config

    rendered = []
    for folder in (tmp_path / "laptop", tmp_path / "ci" / "workspace" / "run-42"):
        project = _checkout(folder)
        values = yaml.safe_load((project / "Pulumi.dev.yaml").read_text())["config"]
        values["msa:harbor"]["push"] = push
        if push == "relay":
            values["msa:harbor"]["relayHost"] = "172.10.40.160"
        values["msa:services"]["user-service"]["context"] = "../user-service"
        config, secret_keys = to_config(values)
        result = render.run_program(project, "dev", config, secret_keys)
        rendered.append({r.name: r.inputs for r in result.resources
                         if r.type in ("docker:index/image:Image", "command:local:Command", "msa:images:HarborImage")})
    first, second = rendered
    assert first == second
    assert {"image-user-service-image", "image-user-service-relay-push"} & set(first)
    if push == "direct":
        build = first["image-user-service-image"]["build"]
        assert (build["context"], build["dockerfile"]) == ("../user-service", "../user-service/Dockerfile")
    else:
        command = first["image-user-service-relay-push"]
        assert "CONTEXT=../user-service\n" in command["create"] and command["addPreviousOutputInEnv"] is False


def _ed25519_line() -> str:
    kind = b"ssh-ed25519"
    blob = len(kind).to_bytes(4, "big") + kind + (32).to_bytes(4, "big") + b"r" * 32
    return f"ssh-ed25519 {base64.b64encode(blob).decode()}"


def test_relay_without_its_host_key_is_an_error_unless_first_contact(contexts):
    from conftest import config_error

    def relay(values):
        _with_contexts(contexts, push="relay", relay="172.10.40.160")(values)
        values["msa:cluster"].pop("skipHostKeyCheck")
        values["msa:cluster"]["nodes"] = []

    assert config_error(relay).startswith(
        "msa:harbor.relayHostKey: is not set, so the SSH identity of the relay host 172.10.40.160 would be trusted on first use"
    )
    warned = run_stack("dev", _with_contexts(contexts, push="relay", relay="172.10.40.160")).warnings
    assert any(w.startswith("msa:cluster.skipHostKeyCheck: the SSH host keys of 172.10.40.174, 172.10.40.160 are not checked") for w in warned)


@pytest.mark.parametrize("port, known_as", [(22, "172.10.40.160"), (2222, "[172.10.40.160]:2222")])
def test_relay_ssh_accepts_only_the_configured_host_key(contexts, tmp_path, port, known_as):
    """The rendered relay script, with stand-ins for docker and ssh: ssh is told to check strictly
    against a known_hosts file holding exactly the configured key."""
    def relay(values):
        _with_contexts(contexts, push="relay", relay="172.10.40.160")(values)
        values["msa:harbor"].update(relayHostKey=f"172.10.40.160 {_ed25519_line()}", relayPort=port)

    result = run_stack("dev", relay)
    script = tmp_path / "relay.sh"
    script.write_text(relay_local_script_for(result, "user-service"))
    fakes = tmp_path / "bin"
    fakes.mkdir()
    (fakes / "docker").write_text("#!/usr/bin/env bash\n[ \"$1\" = save ] && : >\"$3\"\nexit 0\n")
    # ssh: record the options and the known_hosts file it was given, then fail (enough for this test).
    (fakes / "ssh").write_text(f"""#!/usr/bin/env bash
echo "$*" >{tmp_path}/ssh.args
for arg in "$@"; do case $arg in UserKnownHostsFile=*) cp "${{arg#UserKnownHostsFile=}}" {tmp_path}/known_hosts ;; esac; done
exit 255
""")
    for tool in ("docker", "ssh"):
        (fakes / tool).chmod(0o755)
    env = {**os.environ, "PATH": f"{fakes}:{os.environ['PATH']}"}
    run = subprocess.run(["bash", str(script)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=30)
    assert run.returncode != 0
    args = (tmp_path / "ssh.args").read_text()
    assert "StrictHostKeyChecking=yes" in args and "accept-new" not in args and "GlobalKnownHostsFile=/dev/null" in args
    assert (tmp_path / "known_hosts").read_text() == f"{known_as} {_ed25519_line()}\n"
