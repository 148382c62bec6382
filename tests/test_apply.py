"""Server-side apply: who owns a field, and how ConfigMap/Secret changes reach the pods."""


import pytest
import yaml

import render
from msa.k8s import FORCE_APPLY
from conftest import by_name, copy_project, objects, to_config


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_object_takes_back_the_fields_it_declares(stack, request):
    """patchForce: a `kubectl scale` or `kubectl edit` since the last up is a conflict the stack wins
    (for the fields it declares), not an `up` that fails with "conflict with kubectl"."""
    for obj in objects(request.getfixturevalue(stack)):
        assert obj["metadata"]["annotations"]["pulumi.com/patchForce"] == "true", (obj["kind"], obj["metadata"]["name"])
    assert FORCE_APPLY == {"pulumi.com/patchForce": "true"}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_only_headless_services_skip_the_providers_await(stack, request):
    """A headless Service's await waits for nothing but can record a copy older than the applied update
    (the next up then shows a spurious update): skipAwait there. Every other Service keeps its await (its
    endpoints, before what depends on it)."""
    services = objects(request.getfixturevalue(stack), "Service")
    skipping = {s["metadata"]["name"] for s in services if s["metadata"]["annotations"].get("pulumi.com/skipAwait") == "true"}
    headless = {s["metadata"]["name"] for s in services if s["spec"].get("clusterIP") == "None"}
    assert {"kafka-headless", "zookeeper-headless"} <= headless
    assert skipping == headless


def _config_server_volume(result) -> str:
    pod = by_name(result, "Deployment", "config-service")["spec"]["template"]["spec"]
    (volume,) = [v for v in pod["volumes"] if v["name"] == "config-repo"]
    return volume["configMap"]["name"]


def _named(result, kind: str, name: str) -> dict:
    """The auto-named object whose resource name (its app.kubernetes.io/name label) is `name`."""
    (obj,) = [o for o in objects(result, kind) if o["metadata"]["labels"]["app.kubernetes.io/name"] == name]
    return obj


@pytest.mark.parametrize("kind", ["ConfigMap", "Secret"])
def test_every_config_map_and_secret_is_auto_named_and_immutable(dev, kind):
    # Not kafka-auth-phase: the Jobs' mutable record of the move to authentication, mounted by its fixed name.
    records = [r for r in dev.of_type(f"kubernetes:core/v1:{kind}") if r.name != "kafka-auth-phase"]
    assert records
    for record, obj in zip(records, (render.plain(r.inputs) for r in records)):
        # The program leaves the name to the provider: a replacement is create-first under a new name.
        assert obj["metadata"]["annotations"][render.AUTONAMED] == "true"
        assert obj["immutable"] is True
        assert not record.delete_before_replace


def test_consumers_reference_the_generated_names(dev):
    config_map = _named(dev, "ConfigMap", "config-repo")
    secret = _named(dev, "Secret", "harbor-pull")
    assert _config_server_volume(dev) == config_map["metadata"]["name"]
    for name in ("discovery-service", "config-service", "apigateway-service", "user-service", "store-service"):
        pod = by_name(dev, "Deployment", name)["spec"]["template"]["spec"]
        assert pod["imagePullSecrets"] == [{"name": secret["metadata"]["name"]}]


def _render_with_config_repo(tmp_path, files: dict[str, str]):
    project = tmp_path / "msa"
    copy_project(project)
    for name, text in files.items():
        (project / "config-repo" / name).write_text(text)
    config, secret_keys = to_config(yaml.safe_load((project / "Pulumi.dev.yaml").read_text())["config"])
    return render.run_program(project, "dev", config, secret_keys)


def test_a_config_repo_change_is_a_new_config_map_the_config_server_rolls_to(tmp_path):
    """Day two: edit config-repo/application.yml. The new content is a new ConfigMap (new name) and the
    config server's pod template points at it, so the Deployment rolls to it; the old ConfigMap is
    deleted only after that (create-before-delete), never while a pod still mounts it."""
    before = _render_with_config_repo(tmp_path / "a", {})
    after = _render_with_config_repo(tmp_path / "b", {"application.yml": "greeting: changed on day two\n"})
    old, new = _named(before, "ConfigMap", "config-repo"), _named(after, "ConfigMap", "config-repo")
    assert old["metadata"]["name"] != new["metadata"]["name"]
    assert new["data"]["application.yml"] == "greeting: changed on day two\n"
    assert (_config_server_volume(before), _config_server_volume(after)) == (old["metadata"]["name"], new["metadata"]["name"])
    # Only the config server rolls; every other Deployment is unchanged.
    for name in ("discovery-service", "apigateway-service", "user-service", "store-service"):
        assert by_name(before, "Deployment", name) == by_name(after, "Deployment", name)
