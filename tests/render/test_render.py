"""The offline render: valid manifests, byte-identical output, secrets never in plain text."""

import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

import render
from conftest import ROOT, TEST_PASSWORD, TEST_UI_PASSWORD, fixture_project, objects

KUBERNETES_VERSION = "1.30.0"


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_object_passes_strict_validation(stack, request):
    result = request.getfixturevalue(stack)
    rendered = objects(result)
    assert len(rendered) >= 20
    for obj in rendered:
        # Raises ValidationError naming the field (a typo such as `selctor` fails only with strict).
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


def test_strict_validation_catches_a_misspelled_field(dev):
    service = next(o for o in objects(dev, "Service"))
    broken = {**service, "spec": {**service["spec"], "selctor": {"a": "b"}}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def _render_cli(stack, out):
    return subprocess.run([sys.executable, "render.py", stack, "--out", str(out)], cwd=fixture_project(), capture_output=True, text=True)


def _tree(folder: Path) -> dict:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_render_twice_is_byte_identical_and_replaces_its_own_folder_whole(tmp_path):
    out = tmp_path / "out"
    assert _render_cli("dev", out).returncode == 0
    first = _tree(out)
    assert set(first) == {".msa-render", "kubernetes.yaml", "images.yaml", "import.json", "outputs.yaml", "nodes/172.10.40.174.sh",
                          *(f"images/mirror-{workload}.sh" for workload in ("kafka", "zookeeper", "kafka-ui")),
                          *(f"images/{service}.resolve.sh" for service in ("discovery-service", "config-service", "apigateway-service",
                                                                            "user-service", "store-service"))}
    (out / "nodes" / "node-that-was-removed.sh").write_text("stale")
    assert _render_cli("dev", out).returncode == 0
    assert _tree(out) == first
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no staging or previous folder left behind


def test_render_writes_every_object_the_program_registers(tmp_path, dev):
    result = _render_cli("dev", tmp_path / "out")
    assert result.returncode == 0, result.stderr
    # The dev stack's two pinned addresses lie outside the static band: one warning that explains itself.
    (warning,) = [line for line in result.stderr.splitlines() if "static band" in line]
    assert all(line.startswith("warning: ") and "; " in line for line in result.stderr.splitlines())  # each says its fix
    assert warning.startswith("warning: msa:services.user-service.clusterIP 10.104.193.23, msa:services.store-service.clusterIP 10.104.193.24: outside the static band")
    assert "the committed stacks pin the team's existing addresses" in warning
    docs = list(yaml.safe_load_all((tmp_path / "out" / "kubernetes.yaml").read_text()))
    assert [(d["kind"], d["metadata"]["name"]) for d in docs] == [(o["kind"], o["metadata"]["name"]) for o in objects(dev)]
    # Objects come in apply order: the namespace first, workloads after their Services.
    kinds = [d["kind"] for d in docs]
    assert kinds[0] == "Namespace"
    assert max(i for i, k in enumerate(kinds) if k == "Service") < min(i for i, k in enumerate(kinds) if k in ("StatefulSet", "Deployment"))


def test_secure_values_become_placeholders():
    config, secret_keys = render.load_stack_config(fixture_project(), "dev")
    assert config["msa:harborPassword"] == render.SECRET_PLACEHOLDER
    assert sorted(secret_keys) == ["msa:harborPassword", "msa:kafkaAuthSecret", "msa:kafkaTlsCa", "msa:kafkaUiPassword", "msa:sshPrivateKey"]


def _everything_rendered(result) -> str:
    files = render.output_files(result, ROOT)
    return "\n".join(content for content, _ in files.values())


def test_secrets_never_appear_in_rendered_files(dev):
    result = dev  # the test secrets are real values here, not placeholders
    text = _everything_rendered(result)
    assert TEST_PASSWORD not in text and TEST_UI_PASSWORD not in text
    assert "test-key-material" not in text
    secrets = {o["metadata"]["labels"]["app.kubernetes.io/name"]: o for o in objects(result, "Secret")}
    pull, ui = secrets["harbor-pull"], secrets["kafka-ui-auth"]
    assert pull["stringData"] == {".dockerconfigjson": render.SECRET_PLACEHOLDER}
    # kafka-ui's login (a Spring config tree: one file per property) is secret as a whole.
    assert ui["metadata"]["labels"]["app.kubernetes.io/name"] == "kafka-ui-auth"
    assert ui["stringData"] == {"spring.security.user.name": render.SECRET_PLACEHOLDER, "spring.security.user.password": render.SECRET_PLACEHOLDER}


def _is_secret_wrapped(value) -> bool:
    return isinstance(value, dict) and value.get(render.SECRET_SIG) is not None


def test_pull_secret_and_ssh_key_are_pulumi_secrets(dev):
    result = dev
    secrets = {r.name: r for r in result.resources if r.type == "kubernetes:core/v1:Secret"}
    pull, ui = secrets["harbor-pull"], secrets["kafka-ui-auth"]
    assert _is_secret_wrapped(pull.inputs["stringData"]) and _is_secret_wrapped(ui.inputs["stringData"])
    assert TEST_UI_PASSWORD in str(ui.inputs["stringData"]["value"])
    assert TEST_PASSWORD in str(pull.inputs["stringData"]["value"])  # the real value, only inside the secret
    (node,) = [r for r in result.resources if r.type == "command:remote:Command"]
    assert _is_secret_wrapped(node.inputs["connection"])


def test_no_secret_in_stack_exports(dev):
    result = dev
    assert set(result.exports) == {"namespace", "clusterIPs", "nodePorts", "kafkaBootstrapServers", "images", "mirroredImages"}
    assert result.exports["clusterIPs"]["user-service"] == "10.104.193.23"
    everything = str(result.exports) + str(result.outputs)
    assert TEST_PASSWORD not in everything and "test-key-material" not in everything


def test_the_docs_say_the_order_kubernetes_yaml_is_in(dev):
    from msa.render.engine import KIND_ORDER, LAST_KINDS

    row = next(line for line in (ROOT / "docs" / "render.md").read_text().splitlines() if line.startswith("| `rendered/<stack>/kubernetes.yaml`"))
    assert ", ".join(KIND_ORDER) in row and f"{LAST_KINDS[-1]} last" in row
    kinds = [o["kind"] for o in objects(dev)]
    ranks = [KIND_ORDER.index(k) if k in KIND_ORDER else len(KIND_ORDER) + (k in LAST_KINDS) for k in kinds]
    assert ranks == sorted(ranks)


def test_outputs_yaml_is_what_the_program_exports(dev):
    outputs = yaml.safe_load(render.output_files(dev, ROOT)["outputs.yaml"][0])
    assert set(outputs) == set(dev.exports) >= {"namespace", "clusterIPs", "nodePorts", "kafkaBootstrapServers", "images"}
    assert outputs["clusterIPs"] == {o["metadata"]["name"]: o["spec"]["clusterIP"] for o in objects(dev, "Service")
                                     if o["spec"].get("clusterIP") not in (None, "None")}
