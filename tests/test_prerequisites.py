"""The CI prerequisite checks (msa/prerequisites.py): one line each, the fix in it; loopback only."""

import socket

from msa import prerequisites as pre
from conftest import stack_values

KUBECONFIG = """apiVersion: v1
clusters: [{{name: c, cluster: {{server: "https://127.0.0.1:{port}"}}}}]
contexts: [{{name: private-cloud, context: {{cluster: c, user: u}}}}]
users: [{{name: u, user: {{token: t}}}}]
"""


def test_a_hosted_runner_is_named_with_the_label_to_use():
    ok, line = pre.check_runner({"RUNNER_ENVIRONMENT": "github-hosted"})
    assert not ok and "label private-cloud" in line and "\n" not in line
    assert pre.check_runner({"RUNNER_ENVIRONMENT": "self-hosted"})[0]


def test_the_backend_and_the_passphrase_are_required():
    (ok, line), = pre.check_backend({}, {"PULUMI_BACKEND_URL": "s3://b/msa"})
    assert ok
    checks = pre.check_backend({"encryptionsalt": "v1:x"}, {})
    assert [ok for ok, _ in checks] == [False, False]
    assert "PULUMI_CONFIG_PASSPHRASE" in checks[1][1]


def test_the_api_server_of_the_context_must_answer(tmp_path):
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        port = listening.getsockname()[1]
        (tmp_path / "kubeconfig").write_text(KUBECONFIG.format(port=port))
        env = {"KUBECONFIG": str(tmp_path / "kubeconfig")}
        (ok, line), = pre.check_kubernetes({"kubernetes:context": "private-cloud"}, env, tmp_path)
        assert ok and line == f"kubernetes API https://127.0.0.1:{port} (context private-cloud)"
    (ok, line), = pre.check_kubernetes({"kubernetes:context": "private-cloud"}, env, tmp_path)
    assert not ok and line.endswith("the runner needs a route to the API server")
    (ok, line), = pre.check_kubernetes({"kubernetes:context": "private-clod"}, env, tmp_path)
    assert not ok and "did you mean private-cloud?" in line


def test_nodes_are_checked_through_their_bastion():
    seen = []
    config = {"msa:cluster": {"nodes": [{"host": "10.0.0.5", "bastion": {"host": "127.0.0.1", "port": 2222}}, {"host": "10.0.0.6"}]}}
    checks = pre.check_nodes(config, connect=lambda h, p: seen.append((h, p)) or (None if h == "127.0.0.1" else "no answer in 5 s"))
    assert seen == [("127.0.0.1", 2222), ("10.0.0.6", 22)]
    assert [ok for ok, _ in checks] == [True, False]
    assert checks[1][1] == "ssh 10.0.0.6: 10.0.0.6:22: no answer in 5 s; the runner needs SSH to every node (msa:cluster.nodes)"


def test_a_plain_http_harbor_must_be_an_insecure_registry_of_docker_when_the_runner_pushes():
    config = stack_values("dev")
    config["msa:services"]["user-service"]["context"] = "services/user"
    answers = lambda h, p: None  # noqa: E731
    checks = pre.check_harbor(config, connect=answers, insecure=lambda: [])
    assert checks[-1] == (False, 'docker: msa.harbor.com is not an insecure registry of the runner\'s Docker, so pushes go to https and fail; '
                                 'add "insecure-registries": ["msa.harbor.com"] to /etc/docker/daemon.json and restart Docker')
    assert pre.check_harbor(config, connect=answers, insecure=lambda: ["msa.harbor.com"])[-1][0]
    assert not pre.check_harbor(config, connect=answers, insecure=lambda: None)[-1][0]
    # Nothing built: Docker is not needed at all.
    assert len(pre.check_harbor(stack_values("dev"), connect=answers, insecure=lambda: None)) == 1


def test_the_mirror_copy_needs_skopeo_on_the_runner():
    config = stack_values("dev")
    (ok, line), = pre.check_mirror_tool(config, which=lambda tool: None)
    assert not ok and line.startswith("skopeo: not on PATH; the runner copies the third-party images into Harbor")
    assert pre.check_mirror_tool(config, which=lambda tool: "/usr/bin/skopeo")[0][0]
    config["msa:harbor"] = {**config["msa:harbor"], "mirror": "proxy-cache"}
    assert pre.check_mirror_tool(config, which=lambda tool: None) == []
