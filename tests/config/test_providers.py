"""Provider keys (`kubernetes:`, `docker:`, `command:`, `pulumi:`) are checked like msa: keys, and at
preview/up the kubeconfig context must exist."""

import inspect
import re

import pytest

from msa.config.providers import PROVIDER_KEYS, check_context, context_problem
from msa.errors import ConfigError
from conftest import config_error, run_stack

KUBECONFIG = """apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: https://127.0.0.1:6443}}]
users: [{name: u, user: {token: t}}]
contexts:
  - {name: private-cloud, context: {cluster: c, user: u}}
  - {name: private-cloud-prod, context: {cluster: c, user: u}}
current-context: private-cloud
"""


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.title() for p in rest)


@pytest.mark.parametrize("module, namespace", [("pulumi_kubernetes.provider", "kubernetes"), ("pulumi_docker.provider", "docker")])
def test_the_key_lists_are_the_installed_providers_arguments(module, namespace):
    import importlib

    args = inspect.signature(importlib.import_module(module).ProviderArgs.__init__).parameters
    declared = {_camel(n) for n in args if n != "__self__"}
    assert declared <= set(PROVIDER_KEYS[namespace]), declared - set(PROVIDER_KEYS[namespace])


def test_the_command_provider_takes_no_configuration():
    import pulumi_command

    assert not hasattr(pulumi_command, "config") and PROVIDER_KEYS["command"] == ()


def test_a_misspelt_kubernetes_key_is_refused_with_did_you_mean():
    """Issue 20: `kubernetes:contxt: private-cloud` rendered with exit 0 (the provider ignores it)."""
    message = config_error(lambda v: v.update({"kubernetes:contxt": "private-cloud"}))
    assert message.startswith("kubernetes:contxt: is not a key of the kubernetes provider; did you mean context? its keys are kubernetes:alwaysRender, ")


@pytest.mark.parametrize("key, expected", [
    ("docker:hots", "docker:hots: is not a key of the docker provider; did you mean host? "),
    ("command:timeout", "command:timeout: is not a key of the command provider; its keys are none (the provider takes no configuration)"),
    ("pulumi:disable-default-provider", "pulumi:disable-default-provider: is not a key of the pulumi provider; did you mean disable-default-providers? "),
])
def test_every_provider_namespace_is_checked(key, expected):
    assert config_error(lambda v: v.update({key: "x"})).startswith(expected)


def test_real_provider_keys_pass():
    edit = lambda v: v.update({"kubernetes:enableServerSideApply": "true", "kubernetes:namespace": "msa", "pulumi:disable-default-providers": "[]"})  # noqa: E731
    assert run_stack("dev", edit).resources


def test_the_context_must_be_in_the_kubeconfig(tmp_path):
    home = tmp_path / "home"
    (home / ".kube").mkdir(parents=True)
    (home / ".kube" / "config").write_text(KUBECONFIG)
    assert context_problem("private-cloud", None, {}, home) is None
    problem = context_problem("private-clod", None, {}, home)
    assert problem == (f"context 'private-clod' is not in the kubeconfig {home}/.kube/config; did you mean private-cloud? "
                       "its contexts are private-cloud, private-cloud-prod (kubectl config get-contexts)")
    with pytest.raises(ConfigError, match=r"^kubernetes:context: context 'other' is not in the kubeconfig"):
        check_context({"context": "other"}, {}, home)


def test_kubeconfig_is_found_where_the_provider_looks(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    one.write_text("apiVersion: v1\ncontexts: []\n")
    two.write_text(KUBECONFIG)
    assert context_problem("private-cloud", None, {"KUBECONFIG": f"{one}:{two}"}, tmp_path) is None  # merged like kubectl
    assert context_problem("private-cloud", str(two), {"KUBECONFIG": str(one)}, tmp_path) is None  # kubernetes:kubeconfig wins
    assert context_problem("private-cloud", KUBECONFIG, {}, tmp_path) is None  # kubernetes:kubeconfig may hold the file's text
    missing = context_problem("private-cloud", None, {"KUBECONFIG": str(tmp_path / "nope")}, tmp_path)
    assert missing.startswith(f"no kubeconfig at {tmp_path}/nope ($KUBECONFIG); point KUBECONFIG at the file that has context 'private-cloud'")
    assert context_problem(None, None, {}, tmp_path) is None  # no context set: the provider's own default


def test_the_offline_render_needs_no_kubeconfig(monkeypatch, tmp_path):
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "absent"))
    assert run_stack("dev").resources
    assert not re.search("kubeconfig", " ".join(run_stack("dev").warnings))
