"""Secrets on the first real run: nothing undecryptable is committed, a missing secret names its
command, and `tasks.py init-stack` drives the CLI with every secret on stdin."""

import base64
import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import init_stack
import render
from msa.config.stackfile import ciphertext_problem, load_document, secure_values, stack_file_problems
from conftest import ROOT, STACKS, TEST_PASSWORD, TEST_SSH_KEY, TEST_UI_PASSWORD, config_error, copy_project, fixture_project
from test_workflows import committed_stacks


def _cli_view(stack: str) -> dict:
    """The stack file as the CLI reads it: the whole YAML document (config plus encryption lines)."""
    return load_document(ROOT / f"Pulumi.{stack}.yaml")


def _v1(plaintext_size: int = 8) -> str:
    """The shape symmetricCrypter.EncryptValue writes: v1:<12-byte nonce>:<ciphertext + 16-byte tag>."""
    return f"v1:{base64.b64encode(os.urandom(12)).decode()}:{base64.b64encode(os.urandom(plaintext_size + 16)).decode()}"


@pytest.mark.committed_stacks
@pytest.mark.parametrize("stack", committed_stacks())
def test_committed_stack_files_hold_only_real_ciphertext(stack):
    """The team's own stack files (whatever stacks it committed): a check that holds for any of them."""
    assert stack_file_problems(_cli_view(stack)) == []


def test_the_old_placeholder_is_caught_and_named():
    doc = {"config": {"msa:harborPassword": {"secure": "v1:placeholder-run-pulumi-config-set-secret-msa-harborPassword"}}}
    (problem,) = stack_file_problems(doc)
    assert problem.startswith("msa:harborPassword: secure value is not v1:<base64 nonce>:<base64 ciphertext>")
    assert problem.endswith("set it again with: pulumi config set --secret 'msa:harborPassword'")


@pytest.mark.parametrize("doc, ok", [
    ({"encryptionsalt": "v1:c2FsdA==:v1:x:y"}, True),                       # passphrase stack
    ({"secretsprovider": "awskms://alias/msa", "encryptedkey": "a2V5"}, True),  # KMS stack
    ({}, False),                                                            # v1 form but nothing to decrypt it with
])
def test_v1_ciphertext_needs_the_files_salt_or_key(doc, ok):
    assert (ciphertext_problem(_v1(), doc) is None) is ok


def test_pulumi_cloud_ciphertext_is_plain_base64_and_no_v1():
    cloud = base64.b64encode(os.urandom(40)).decode()
    assert ciphertext_problem(cloud, {}) is None
    assert ciphertext_problem(cloud, {"encryptionsalt": "v1:abc"}) is not None  # passphrase stacks write v1:
    assert ciphertext_problem("not base64!", {}) is not None


def test_nested_secure_values_are_checked_with_their_path():
    doc = {"config": {"msa:cluster": {"nodes": [{"host": "a", "password": {"secure": "oops"}}]}}}
    assert list(secure_values(doc["config"])) == [("msa:cluster.nodes[0].password", "oops")]
    (problem,) = stack_file_problems(doc)
    assert "pulumi config set --path --secret 'msa:cluster.nodes[0].password'" in problem


def test_render_refuses_an_undecryptable_value_and_names_the_key(tmp_path):
    project = tmp_path / "p"
    copy_project(project)
    stack_file = project / "Pulumi.dev.yaml"
    stack_file.write_text(stack_file.read_text().replace("config:\n", "config:\n  msa:harborPassword:\n    secure: v1:placeholder\n", 1))
    with pytest.raises(render.StackFileError, match=r"^Pulumi.dev.yaml: msa:harborPassword: secure value is not v1"):
        render.load_stack_config(project, "dev")


def test_a_fresh_clone_renders_its_unset_secrets_as_placeholders():
    config, secret_keys = render.load_stack_config(fixture_project(), "dev")
    assert config["msa:harborPassword"] == config["msa:sshPrivateKey"] == config["msa:kafkaUiPassword"] == render.SECRET_PLACEHOLDER
    assert sorted(secret_keys) == ["msa:harborPassword", "msa:kafkaAuthSecret", "msa:kafkaTlsCa", "msa:kafkaUiPassword", "msa:sshPrivateKey"]


def test_missing_kafka_auth_secret_names_the_command_that_generates_it():
    assert config_error(lambda v: None, secrets={"msa:kafkaAuthSecret": None}) == (
        "msa:kafkaAuthSecret: is not set; every Kafka and ZooKeeper password derives from it; generate it with: "
        "python3 -c 'import secrets; print(secrets.token_urlsafe(32))' | pulumi config set --secret --stack dev msa:kafkaAuthSecret "
        "(or: python3 tasks.py init-stack dev)"
    )


def test_missing_harbor_password_names_the_exact_command():
    assert config_error(lambda v: None, secrets={"msa:harborPassword": None}) == (
        "msa:harborPassword: harbor.username is 'admin' but no password is set; "
        "run: pulumi config set --secret --stack dev msa:harborPassword (it prompts for the password)"
    )


def test_missing_ssh_key_names_the_exact_command_for_nodes_and_relay():
    assert config_error(lambda v: None, stack="prod", secrets={"msa:sshPrivateKey": None}) == (
        "msa:sshPrivateKey: cluster.nodes are set up over SSH but no key is set; "
        "run: pulumi config set --secret --stack prod msa:sshPrivateKey < ~/.ssh/id_ed25519"
    )

    def relay_without_nodes(values):
        values["msa:cluster"]["nodes"] = []
        values["msa:harbor"].update(push="relay", relayHost="10.0.0.9")

    assert config_error(relay_without_nodes, secrets={"msa:sshPrivateKey": None}) == (
        "msa:sshPrivateKey: push: relay copies images over SSH but no key is set; "
        "run: pulumi config set --secret --stack dev msa:sshPrivateKey < ~/.ssh/id_ed25519"
    )


# --- tasks.py init-stack against a stand-in `pulumi` ---------------------------------------------

FAKE_PULUMI = """\
#!{python}
# Records argv and stdin, and edits Pulumi.<stack>.yaml the way the CLI does.
import base64, json, os, sys
import yaml
args = sys.argv[1:]
stdin = "" if sys.stdin is None or sys.stdin.isatty() else sys.stdin.read()
with open(os.environ["FAKE_PULUMI_LOG"], "a") as log:
    log.write(json.dumps({{"argv": args, "stdin": stdin}}) + "\\n")
state = os.environ["FAKE_PULUMI_STATE"]
if args == ["whoami"]:
    sys.exit(0 if os.environ.get("FAKE_PULUMI_LOGGED_IN") == "1" else 1)
if args[:2] == ["stack", "select"]:
    sys.exit(0 if os.path.exists(os.path.join(state, args[2])) else 255)
def edit(stack, change):
    path = "Pulumi.%s.yaml" % stack
    doc = yaml.safe_load(open(path))
    change(doc)
    open(path, "w").write(yaml.safe_dump(doc, sort_keys=False))
if args[:2] == ["stack", "init"]:
    open(os.path.join(state, args[2]), "w").close()
    edit(args[2], lambda d: d.update(encryptionsalt="v1:" + base64.b64encode(os.urandom(8)).decode() + ":v1:x:y"))
    sys.exit(0)
def walk(doc, path):
    # msa:cluster.nodes[0].hostKey -> the parent container and the last key, as --path does.
    head, _, rest = path.partition(".")
    parts = [head] + [int(p) if p.isdigit() else p for p in rest.replace("[", ".").replace("]", "").split(".") if p]
    node = doc["config"]
    for part in parts[:-1]:
        node = node[part]
    return node, parts[-1]
if args[:4] == ["config", "set", "--path", "--stack"]:
    def put(d):
        node, last = walk(d, args[5])
        node[last] = args[6]
    edit(args[4], put)
    sys.exit(0)
if args[:4] == ["config", "rm", "--path", "--stack"]:
    def drop(d):
        node, last = walk(d, args[5])
        del node[last]
    edit(args[4], drop)
    sys.exit(0)
if args[:3] == ["config", "set", "--secret"]:
    stack, key = args[4], args[5]
    sealed = "v1:%s:%s" % (base64.b64encode(os.urandom(12)).decode(), base64.b64encode(os.urandom(len(stdin) + 16)).decode())
    edit(stack, lambda d: d["config"].__setitem__(key, {{"secure": sealed}}))
    sys.exit(0)
sys.exit(3)
"""


@pytest.fixture
def fake_cli(tmp_path, monkeypatch):
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(ROOT / "Pulumi.yaml", project / "Pulumi.yaml")
    shutil.copy(STACKS / "Pulumi.dev.yaml", project / "Pulumi.dev.yaml")
    bin_dir, state = tmp_path / "bin", tmp_path / "state"
    bin_dir.mkdir()
    state.mkdir()
    pulumi = bin_dir / "pulumi"
    pulumi.write_text(FAKE_PULUMI.format(python=sys.executable))
    pulumi.chmod(pulumi.stat().st_mode | stat.S_IXUSR)
    key = tmp_path / "id_ed25519"
    key.write_text(TEST_SSH_KEY + "\n")
    log = tmp_path / "calls.jsonl"
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_PULUMI_LOG", str(log))
    monkeypatch.setenv("FAKE_PULUMI_STATE", str(state))
    monkeypatch.setenv("FAKE_PULUMI_LOGGED_IN", "1")
    monkeypatch.setenv("MSA_HARBOR_PASSWORD", TEST_PASSWORD)
    monkeypatch.setenv("MSA_KAFKA_UI_PASSWORD", TEST_UI_PASSWORD)

    def calls():
        return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []

    return project, key, calls


def test_init_stack_creates_the_stack_and_sends_secrets_only_on_stdin(fake_cli, capsys):
    project, key, calls = fake_cli
    assert init_stack.main(["dev", "--ssh-key", str(key)], project_dir=project) == 0

    assert [c["argv"] for c in calls()] == [
        ["whoami"],
        ["stack", "select", "dev"],
        ["stack", "init", "dev", "--secrets-provider", "passphrase"],
        ["config", "set", "--secret", "--stack", "dev", "msa:harborPassword"],
        ["config", "set", "--secret", "--stack", "dev", "msa:sshPrivateKey"],
        ["config", "set", "--secret", "--stack", "dev", "msa:kafkaUiPassword"],
        ["config", "set", "--secret", "--stack", "dev", "msa:kafkaAuthSecret"],
    ]
    stdin = {c["argv"][-1]: c["stdin"] for c in calls() if c["argv"][0] == "config"}
    seed = stdin.pop("msa:kafkaAuthSecret")
    assert stdin == {"msa:harborPassword": TEST_PASSWORD, "msa:sshPrivateKey": TEST_SSH_KEY + "\n", "msa:kafkaUiPassword": TEST_UI_PASSWORD}
    # Generated, never asked for: 32 random bytes, URL-safe.
    assert len(seed) == 43 and seed not in str([c["argv"] for c in calls()])
    assert not any(p in arg for p in (TEST_PASSWORD, TEST_UI_PASSWORD, "test-key-material") for c in calls() for arg in c["argv"])
    written = yaml.safe_load((project / "Pulumi.dev.yaml").read_text())
    assert stack_file_problems(written) == [] and "encryptionsalt" in written
    out = capsys.readouterr().out
    assert "encryptionsalt: ... (passphrase" in out and "msa:harborPassword: secure: ... (ciphertext)" in out
    assert TEST_PASSWORD not in out


def test_init_stack_with_a_kms_key_and_an_existing_stack(fake_cli, tmp_path):
    project, key, calls = fake_cli
    assert init_stack.main(["dev", "--ssh-key", str(key), "--secrets-provider", "awskms://alias/msa-dev"], project_dir=project) == 0
    assert ["stack", "init", "dev", "--secrets-provider", "awskms://alias/msa-dev"] in [c["argv"] for c in calls()]
    (tmp_path / "calls.jsonl").unlink()
    # Second run: the stack exists, so it is selected and only the secrets are set again; the seed of
    # the Kafka/ZooKeeper passwords is kept (a new one would change every password of the running cluster).
    assert init_stack.main(["dev", "--ssh-key", str(key)], project_dir=project) == 0
    assert [c["argv"][:2] for c in calls()] == [["whoami"], ["stack", "select"], *[["config", "set"]] * 3]
    assert "msa:kafkaAuthSecret" not in [c["argv"][-1] for c in calls()]


def test_init_stack_with_pulumi_clouds_default_key_passes_no_provider(fake_cli):
    project, key, calls = fake_cli
    assert init_stack.main(["dev", "--ssh-key", str(key), "--secrets-provider", "default"], project_dir=project) == 0
    assert ["stack", "init", "dev"] in [c["argv"] for c in calls()]


def test_init_stack_without_a_login_says_how_to_log_in(fake_cli, monkeypatch, capsys):
    project, key, calls = fake_cli
    monkeypatch.setenv("FAKE_PULUMI_LOGGED_IN", "0")
    assert init_stack.main(["dev", "--ssh-key", str(key)], project_dir=project) == 2
    assert "pulumi login s3://" in capsys.readouterr().err
    assert [c["argv"] for c in calls()] == [["whoami"]]


def test_init_stack_without_the_ssh_key_stops_before_setting_it(fake_cli, tmp_path, capsys):
    project, key, calls = fake_cli
    assert init_stack.main(["dev", "--ssh-key", str(tmp_path / "missing")], project_dir=project) == 2
    assert "no SSH private key at" in capsys.readouterr().err
    assert "msa:sshPrivateKey" not in [c["argv"][-1] for c in calls()]


def test_tasks_py_runs_init_stack(tmp_path):
    # A copy of the project (its stack files are the fixtures) with this run's venv: a copy without one had
    # tasks.py pip-install the whole requirements (~50 s of a one-minute fast suite).
    project = copy_project(tmp_path / "project")
    (project / "venv").symlink_to(sys.prefix)
    result = subprocess.run([sys.executable, "tasks.py", "init-stack", "--help"], cwd=project, capture_output=True, text=True)
    assert result.returncode == 0 and "--secrets-provider" in result.stdout
    assert "installing" not in result.stdout            # the venv's pinned requirements are current: no pip


def test_init_stack_reports_a_broken_stack_file_in_one_line(fake_cli, capsys):
    project, key, calls = fake_cli
    (project / "Pulumi.dev.yaml").write_text("config:\n  msa:namespace: a\n  msa:namespace: b\n")
    assert init_stack.main(["dev", "--ssh-key", str(key)], project_dir=project) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: Pulumi.dev.yaml:3:3: duplicate key 'msa:namespace'") and err.count("\n") == 1


def _keyscan(bin_dir, keys: dict) -> None:
    """A stand-in ssh-keyscan answering `ssh-keyscan -t ed25519 -p PORT HOST` from `keys`."""
    lines = "\n".join(f'  "{host}") echo "{host} {key}" ;;' for host, key in keys.items())
    path = bin_dir / "ssh-keyscan"
    path.write_text(f"""#!/usr/bin/env bash
echo "# $5:$4 SSH-2.0-OpenSSH_9.2" >&2
case $5 in
{lines}
esac
""")
    path.chmod(0o755)


def test_init_stack_records_the_confirmed_host_keys_and_drops_the_opt_out(fake_cli, monkeypatch, capsys):
    import base64 as b64
    import hashlib

    project, key, calls = fake_cli
    kind = b"ssh-ed25519"
    host_key = "ssh-ed25519 " + b64.b64encode(len(kind).to_bytes(4, "big") + kind + (32).to_bytes(4, "big") + b"h" * 32).decode()
    bin_dir = Path(os.environ["PATH"].split(":")[0])
    _keyscan(bin_dir, {"172.10.40.174": host_key})
    monkeypatch.setattr("builtins.input", lambda prompt: "y")

    assert init_stack.main(["dev", "--ssh-key", str(key), "--host-keys"], project_dir=project) == 0

    argv = [c["argv"] for c in calls()]
    assert ["config", "set", "--path", "--stack", "dev", "msa:cluster.nodes[0].hostKey", host_key] in argv
    assert argv[-1] == ["config", "rm", "--path", "--stack", "dev", "msa:cluster.skipHostKeyCheck"]
    cluster = load_document(project / "Pulumi.dev.yaml")["config"]["msa:cluster"]
    assert cluster["nodes"][0]["hostKey"] == host_key and "skipHostKeyCheck" not in cluster
    expected = "SHA256:" + b64.b64encode(hashlib.sha256(b64.b64decode(host_key.split()[1])).digest()).decode().rstrip("=")
    assert f"172.10.40.174:22 presents ssh-ed25519 {expected}" in capsys.readouterr().out


def test_an_unconfirmed_host_key_is_not_stored(fake_cli, monkeypatch, capsys):
    project, key, calls = fake_cli
    _keyscan(Path(os.environ["PATH"].split(":")[0]), {"172.10.40.174": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGhoaGhoaGhoaGhoaGhoaGhoaGhoaGhoaGhoaGhoaGho"})
    monkeypatch.setattr("builtins.input", lambda prompt: "n")
    assert init_stack.main(["dev", "--ssh-key", str(key), "--host-keys"], project_dir=project) == 2
    assert "host key of 172.10.40.174 not confirmed" in capsys.readouterr().err
    assert not [c for c in calls() if c["argv"][:3] in (["config", "set", "--path"], ["config", "rm", "--path"])]
