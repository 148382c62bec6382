"""Third-party images from Harbor by digest: the mirror plan, the step `pulumi up` runs, its triggers,
the workloads' references, the offline render, and every mirror setting's configuration errors.
(The copy itself, with real registries, skopeo and containerd: tests/integration/test_mirror.py.)"""

import os

import pytest
import yaml

import render
from conftest import ROOT, TEST_PASSWORD, TEST_SSH_KEY, by_name, config_error, env_of, fixture_project, run_stack
from msa.mirror_plan import SourceImage, parse_image

FAKE_DIGEST = "sha256:" + "cd" * 32
DIGEST = "sha256:" + "ef" * 32
CP_WORKLOADS = [("StatefulSet", "kafka"), ("StatefulSet", "zookeeper"), ("Job", "kafka-drain"), ("Job", "kafka-rebalance"),
                ("Job", "zookeeper-shrink"), ("Job", "verify"), ("Deployment", "kafka-ui")]


class CopiedMocks(render.RecordingMocks):
    """Mocks whose mirror steps print a known digest, as the script does on its last line."""

    def new_resource(self, args):
        id_, state = super().new_resource(args)
        if args.typ == "command:local:Command":
            state["stdout"] = f"copying ...\n{FAKE_DIGEST}\n"
        return id_, state


def _image(result, kind, name):
    return by_name(result, kind, name)["spec"]["template"]["spec"]["containers"][0]["image"]


def _steps(result):
    return {r.name: r for r in result.of_type("command:local:Command")}


def _harbor(**settings):
    return lambda v: v["msa:harbor"].update(settings)


def test_parse_image_names_docker_hub_and_registries():
    assert parse_image("confluentinc/cp-kafka:7.9.1") == SourceImage("docker.io", "confluentinc/cp-kafka", "7.9.1", None)
    assert parse_image("busybox:1.36").path == "library/busybox"
    src = parse_image(f"ghcr.io/kafbat/kafka-ui:v1.5.0@{DIGEST}")
    assert (src.registry, src.name, src.pull_ref) == ("ghcr.io", "kafka-ui", f"ghcr.io/kafbat/kafka-ui@{DIGEST}")
    assert parse_image("registry.local:5000/cp-kafka:7.9.2").registry == "registry.local:5000"
    assert parse_image(f"localhost/x@{DIGEST}").target_tag == "digest-" + "ef" * 6


def test_every_third_party_workload_pulls_its_harbor_copy_by_the_digest_read_back():
    result = run_stack("dev", mocks=CopiedMocks)
    expected = {"kafka-ui": "kafka-ui", "zookeeper": "cp-zookeeper"}
    for kind, name in CP_WORKLOADS:
        assert _image(result, kind, name) == f"msa.harbor.com/mirror/{expected.get(name, 'cp-kafka')}@{FAKE_DIGEST}", name
        # From Harbor, so with its pull Secret.
        assert by_name(result, kind, name)["spec"]["template"]["spec"]["imagePullSecrets"][0]["name"].startswith("harbor-pull-")


def test_workloads_wait_for_the_copy_and_for_the_nodes(dev):
    result = dev
    steps = _steps(result)
    assert set(steps) == {"mirror-kafka-copy", "mirror-zookeeper-copy", "mirror-kafka-ui-copy"}
    kafka = next(r for r in result.resources if r.type == "kubernetes:apps/v1:StatefulSet" and r.name == "kafka")
    assert steps["mirror-kafka-copy"].urn in kafka.dependencies
    # Pulling from Harbor needs nodes that trust it and the pull Secret.
    node_setup = next(r for r in result.resources if r.type == "command:remote:Command" and r.name.startswith("node-"))
    pull_secret = next(r for r in result.resources if r.type == "kubernetes:core/v1:Secret" and r.name == "harbor-pull")
    assert {node_setup.urn, pull_secret.urn} <= set(kafka.dependencies)


def test_the_step_is_the_script_with_credentials_only_in_its_secret_environment(dev):
    step = _steps(dev)["mirror-kafka-copy"]
    script = step.inputs["create"]
    assert "set -- copy docker://docker.io/confluentinc/cp-kafka:7.9.1 msa.harbor.com/mirror/cp-kafka:7.9.1 linux/amd64 http" in script
    assert TEST_PASSWORD not in script
    env = step.inputs["environment"]
    assert env.get(render.SECRET_SIG) and env["value"]["HARBOR_PASSWORD"] == TEST_PASSWORD
    assert "MSA_SSH_KEY" not in env["value"]           # direct: no SSH


def _triggers(edit=None):
    return _steps(run_stack("dev", edit))["mirror-kafka-copy"].inputs["triggers"]


def test_triggers_change_with_the_source_tag_or_the_platform_and_nothing_else():
    same = _triggers()
    assert _triggers() == same
    assert _triggers(lambda v: v["msa:kafka"].update(brokers=3)) == same
    assert _triggers(lambda v: v["msa:kafka"].update(image="confluentinc/cp-kafka:7.9.2")) != same
    assert _triggers(lambda v: v["msa:cluster"].update(nodeArch="arm64")) != same
    assert _triggers(_harbor(mirrorPlatforms="all")) != same


def test_a_new_archive_is_a_new_copy(tmp_path):
    layout = tmp_path / "cp-kafka"
    layout.mkdir()
    (layout / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    (layout / "index.json").write_text('{"schemaVersion": 2, "manifests": []}')
    edit = _harbor(mirrorImages={"cp-kafka": {"archive": str(layout)}})
    before = _steps(run_stack("dev", edit))["mirror-kafka-copy"].inputs
    # The OCI layout's image named by the source tag, at a path relative to the project folder.
    assert f"oci:{os.path.relpath(layout, ROOT)}:7.9.1 " in before["create"]
    (layout / "index.json").write_text('{"schemaVersion": 2, "manifests": [{"digest": "sha256:' + "1" * 64 + '"}]}')
    after = _steps(run_stack("dev", edit))["mirror-kafka-copy"].inputs
    assert after["triggers"] != before["triggers"] and after["create"] == before["create"]


def test_relay_mode_copies_on_the_relay_host_with_its_host_key():
    key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
    step = _steps(run_stack("dev", _harbor(push="relay", relayHost="172.10.40.160", relayHostKey=key)))["mirror-zookeeper-copy"]
    script = step.inputs["create"]
    assert "RELAY_HOST=172.10.40.160" in script and f"RELAY_HOST_KEY='{key}'" in script
    assert "StrictHostKeyChecking=yes" in script and "MIRROR_SCRIPT=" in script
    assert step.inputs["environment"]["value"]["MSA_SSH_KEY"] == TEST_SSH_KEY
    assert TEST_PASSWORD not in script


def test_proxy_cache_resolves_through_harbors_proxy_projects():
    result = run_stack("dev", _harbor(mirror="proxy-cache"), mocks=CopiedMocks)
    steps = _steps(result)
    assert set(steps) == {"mirror-kafka-resolve", "mirror-zookeeper-resolve", "mirror-kafka-ui-resolve"}
    assert "set -- resolve docker://docker.io/confluentinc/cp-kafka:7.9.1 msa.harbor.com/dockerhub-proxy/confluentinc/cp-kafka:7.9.1" in steps["mirror-kafka-resolve"].inputs["create"]
    assert _image(result, "StatefulSet", "kafka") == f"msa.harbor.com/dockerhub-proxy/confluentinc/cp-kafka@{FAKE_DIGEST}"
    assert _image(result, "Deployment", "kafka-ui") == f"msa.harbor.com/ghcr-proxy/kafbat/kafka-ui@{FAKE_DIGEST}"


def test_push_none_copies_nothing_and_deploys_the_given_digests():
    digests = {"cp-kafka": {"digest": DIGEST}, "cp-zookeeper": {"digest": FAKE_DIGEST}, "kafka-ui": {"digest": DIGEST}}
    result = run_stack("dev", _harbor(push="none", mirrorImages=digests))
    assert _steps(result) == {}
    assert _image(result, "StatefulSet", "kafka") == f"msa.harbor.com/mirror/cp-kafka@{DIGEST}"
    assert _image(result, "StatefulSet", "zookeeper") == f"msa.harbor.com/mirror/cp-zookeeper@{FAKE_DIGEST}"


def test_mirror_off_pulls_the_configured_images_and_an_image_already_in_harbor_is_not_copied():
    result = run_stack("dev", _harbor(mirror="off"))
    assert _steps(result) == {}
    assert _image(result, "StatefulSet", "kafka") == "confluentinc/cp-kafka:7.9.1"
    assert "imagePullSecrets" not in by_name(result, "StatefulSet", "kafka")["spec"]["template"]["spec"]
    in_harbor = run_stack("dev", lambda v: v["msa:kafka"].update(image=f"msa.harbor.com/library/cp-kafka:7.9.1@{DIGEST}"))
    assert "mirror-kafka-copy" not in _steps(in_harbor)
    assert _image(in_harbor, "StatefulSet", "kafka") == f"msa.harbor.com/library/cp-kafka:7.9.1@{DIGEST}"


def test_render_shows_the_mirror_plan_and_unknown_digests(tmp_path):
    render.render("dev", tmp_path / "out", fixture_project())   # the fixture stack, not the team's Pulumi.dev.yaml
    images = yaml.safe_load((tmp_path / "out" / "images.yaml").read_text())
    plan = {entry["name"]: entry for entry in images["mirror"]}
    assert plan["cp-kafka"] == {
        "name": "cp-kafka", "key": "msa:kafka.image", "source": "confluentinc/cp-kafka:7.9.1", "mode": "copy",
        "target": "msa.harbor.com/mirror/cp-kafka:7.9.1", "platform": "linux/amd64", "push": "direct",
        "deployedAs": "<target repository>@<digest read back from Harbor after the copy> (unknown until a real run)",
        "script": "images/mirror-kafka.sh",
    }
    for name, entry in plan.items():
        script = (tmp_path / "out" / entry["script"]).read_text()
        # Each image's own script (mirror-kafka's step name is a prefix of mirror-kafka-ui's).
        assert script.startswith(f"#!/usr/bin/env bash\n# msa mirror of {name} ") and "skopeo" in script
    everything = "".join(p.read_text() for p in (tmp_path / "out").rglob("*") if p.is_file())
    assert TEST_PASSWORD not in everything


@pytest.mark.parametrize("edit, expected", [
    (_harbor(mirror="yes"), "msa:harbor.mirror: 'yes' is not allowed; use 'copy', 'proxy-cache' or 'off'"),
    (_harbor(mirrorPlatforms="arm"), "msa:harbor.mirrorPlatforms: 'arm' is not allowed"),
    (_harbor(mirrorProject="Mirror!"), "msa:harbor.mirrorProject: 'Mirror!' is not an image name"),
    (_harbor(mirrorImages={"cp-kafak": {"digest": DIGEST}}),
     "msa:harbor.mirrorImages.cp-kafak: no third-party image of this stack is named 'cp-kafak'; use one of: cp-kafka, cp-zookeeper, kafka-ui"),
    (_harbor(mirrorImages={"cp-kafka": {"archive": "no/such.tar"}}), "msa:harbor.mirrorImages.cp-kafka.archive: 'no/such.tar' does not exist"),
    (_harbor(mirrorImages={"cp-kafka": {"digest": DIGEST}}), "msa:harbor.mirrorImages.cp-kafka.digest: is only for mirror: copy with harbor.push: none"),
    (_harbor(mirrorImages={"cp-kafka": {"archiv": "x"}}), "msa:harbor.mirrorImages.cp-kafka.archiv: unknown key"),
    (_harbor(push="none"), "msa:harbor.mirrorImages.cp-kafka.digest: harbor.push is none, so the stack copies nothing"),
    (_harbor(mirror="proxy-cache", proxyProjects={"docker.io": "hub"}), "msa:harbor.proxyProjects: has no proxy-cache project for ghcr.io"),
    (_harbor(mirror="proxy-cache", mirrorImages={"cp-kafka": {"archive": "README.md"}}),
     "msa:harbor.mirrorImages.cp-kafka.archive: is only read with mirror: copy (mirror is proxy-cache)"),
    (_harbor(mirrorPlatforms="all", mirrorImages={"cp-kafka": {"archive": "README.md"}}),
     "msa:harbor.mirrorImages.cp-kafka.archive: a `docker save` tarball holds one platform, but msa:harbor.mirrorPlatforms is all"),
    (_harbor(proxyProjects={"docker.io/x": "p"}), "msa:harbor.proxyProjects.docker.io/x: 'docker.io/x' is not a registry host"),
    (_harbor(proxyProjects={"docker.io": "Bad Project"}), "msa:harbor.proxyProjects.docker.io: 'Bad Project' is not an image name"),
    (_harbor(mirrorImages={"cp-kafka": "x.tar"}), "msa:harbor.mirrorImages.cp-kafka: expected an object"),
    (lambda v: v["msa:kafka"].update(image="x" * 240 + ":7.9.1"),
     "msa:kafka.image: its copy would be named msa.harbor.com/mirror/xxx"),
    (lambda v: v["msa:kafka"].update(zookeeperImage="example.com/other/cp-kafka:1.0"),
     "msa:kafka.zookeeperImage: example.com/other/cp-kafka:1.0 would be copied to mirror/cp-kafka like confluentinc/cp-kafka:7.9.1"),
])
def test_every_mirror_mistake_is_one_line_naming_the_key(edit, expected):
    assert expected in config_error(edit)


def _verify_spec(result):
    import json

    return json.loads(by_name(result, "ConfigMap", "verify")["data"]["spec.json"])


def test_verification_expects_the_harbor_copies_and_reruns_when_a_copy_changes(dev):
    spec = {w["name"]: w for w in _verify_spec(dev)["pods"]["workloads"]}
    assert spec["kafka"] == {"name": "kafka", "replicas": 1, "repository": "msa.harbor.com/mirror/cp-kafka"}
    assert spec["kafka-ui"]["repository"] == "msa.harbor.com/mirror/kafka-ui"
    off = {w["name"]: w for w in _verify_spec(run_stack("dev", _harbor(mirror="off")))["pods"]["workloads"]}
    assert off["zookeeper"] == {"name": "zookeeper", "replicas": 1, "image": "confluentinc/cp-zookeeper:7.9.1"}

    class OtherDigest(CopiedMocks):
        def new_resource(self, args):
            id_, state = super().new_resource(args)
            if args.name == "mirror-zookeeper-copy":
                state["stdout"] = DIGEST
            return id_, state

    def inputs(result):
        return env_of(by_name(result, "Job", "verify"))["MSA_VERIFY_INPUTS"]

    assert inputs(run_stack("dev", mocks=OtherDigest)) != inputs(run_stack("dev", mocks=CopiedMocks))
