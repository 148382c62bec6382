"""Node setup: what pulumi up runs on each node, and the script's failure paths (fake containerd)."""

import hashlib
import os
import subprocess
import textwrap

import pytest

from msa.config import Cluster, Harbor
from msa.nodes.containerd import node_script, script_from_command, ssh_command
from conftest import config_error, run_stack

STOCK_V2 = 'version = 2\n\n[plugins]\n  [plugins."io.containerd.grpc.v1.cri"]\n    sandbox_image = "pause"\n'


def test_each_node_runs_exactly_the_rendered_script(prod):
    commands = {r.name: r for r in prod.resources if r.type == "command:remote:Command"}
    setups = {r.name: r for r in prod.resources if r.type == "msa:nodes:NodeRegistrySetup"}
    assert sorted(s.inputs["host"] for s in setups.values()) == ["172.10.50.11", "172.10.50.12", "172.10.50.13"]
    for name, setup in setups.items():
        command = commands[f"{name}-containerd"]
        assert script_from_command(command.inputs["create"]) == setup.inputs["script"]
        assert script_from_command(command.inputs["delete"]) == setup.inputs["script"]
        assert command.inputs["create"].startswith("bash -s -- apply <<")
        assert command.inputs["delete"].startswith("bash -s -- revert <<")
        assert command.inputs["triggers"] == [hashlib.sha256(setup.inputs["script"].encode()).hexdigest()]
        assert command.delete_before_replace


def test_nodes_are_changed_one_at_a_time(prod):
    commands = sorted((r for r in prod.resources if r.type == "command:remote:Command"), key=lambda r: r.name)
    assert commands[0].dependencies == []
    for previous, current in zip(commands, commands[1:]):
        assert previous.urn in current.dependencies, current.name


def test_script_carries_the_harbor_parameters(dev):
    (setup,) = [r for r in dev.resources if r.type == "msa:nodes:NodeRegistrySetup"]
    script = setup.inputs["script"]
    assert "MSA_REGISTRY=${MSA_REGISTRY:-msa.harbor.com}" in script
    assert "MSA_REGISTRY_SCHEME=${MSA_REGISTRY_SCHEME:-http}" in script
    assert "MSA_REGISTRY_ADDRESS=${MSA_REGISTRY_ADDRESS:-172.10.40.160}" in script
    assert "MSA_CERTS_DIR=${MSA_CERTS_DIR:-/etc/containerd/certs.d}" in script


def test_non_root_users_go_through_sudo():
    assert ssh_command("echo hi", "apply", "ubuntu").startswith("sudo -n bash -s -- apply <<")


def test_bastion_becomes_a_proxy_connection():
    def edit(values):
        values["msa:cluster"]["nodes"] = [{"host": "10.0.0.5", "user": "ops", "bastion": {"host": "203.0.113.7", "user": "jump"}}]

    (command,) = [r for r in run_stack("dev", edit).resources if r.type == "command:remote:Command"]
    connection = command.inputs["connection"]["value"]
    assert connection["host"] == "10.0.0.5" and connection["user"] == "ops"
    assert connection["proxy"]["host"] == "203.0.113.7" and connection["proxy"]["user"] == "jump"


def test_no_nodes_no_commands():
    result = run_stack("dev", lambda v: v["msa:cluster"].update(nodes=[]))
    assert not [r for r in result.resources if r.type == "command:remote:Command"]


# --- the script's failure paths, with fake containerd binaries (no daemon needed) -------------------

@pytest.fixture
def fake_node(tmp_path):
    """A node whose containerd/ctr are stand-ins: `ctr plugins ls` reports what tmp/cri-status says."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "containerd").write_text(textwrap.dedent(f"""\
        #!/usr/bin/env bash
        if [ "$1" = config ] && [ "$2" = default ]; then printf '%s' '{STOCK_V2}'; exit 0; fi
        if [ "$3" = config ] && [ "$4" = dump ]; then grep -q 'BROKEN' "$2" && {{ echo 'failed to load TOML' >&2; exit 1; }}; exit 0; fi
        exit 2
    """))
    (bin_dir / "ctr").write_text(textwrap.dedent(f"""\
        #!/usr/bin/env bash
        echo "TYPE ID PLATFORMS STATUS"
        echo "io.containerd.grpc.v1 cri linux/amd64 $(cat {tmp_path}/cri-status)"
    """))
    for tool in ("containerd", "ctr"):
        (bin_dir / tool).chmod(0o755)
    (tmp_path / "cri-status").write_text("ok")
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "hosts").write_text("127.0.0.1 localhost\n")
    (tmp_path / "node-tmp").mkdir()
    env = {
        **os.environ,
        "MSA_CERTS_DIR": str(tmp_path / "etc/certs.d"),
        "MSA_CONTAINERD_CONFIG": str(tmp_path / "etc/config.toml"),
        "MSA_STATE_DIR": str(tmp_path / "state"),
        "MSA_HOSTS_FILE": str(tmp_path / "etc/hosts"),
        "MSA_CONTAINERD": str(bin_dir / "containerd"),
        "MSA_CTR": str(bin_dir / "ctr"),
        "MSA_CONTAINERD_ADDRESS": str(tmp_path / "sock"),
        "MSA_RESTART": f"echo restarted >> {tmp_path}/restarts",
        "TMPDIR": str(tmp_path / "node-tmp"),   # the node's /tmp: what the script leaves there (nothing)
    }
    script = tmp_path / "node.sh"
    script.write_text(node_script("n1", Harbor(host="harbor.test:5000", scheme="http"), Cluster()))
    return tmp_path, env, script


def _run(script, action, env):
    return subprocess.run(["bash", str(script), action], env=env, capture_output=True, text=True, timeout=60)


def test_missing_config_is_written_from_the_default_and_removed_on_revert(fake_node):
    root, env, script = fake_node
    assert _run(script, "apply", env).returncode == 0
    config = (root / "etc/config.toml").read_text()
    assert '[plugins."io.containerd.grpc.v1.cri".registry]' in config and f'config_path = "{root}/etc/certs.d"' in config
    assert _run(script, "revert", env).returncode == 0
    assert not (root / "etc/config.toml").exists() and not (root / "state").exists()


def test_config_that_does_not_parse_is_never_installed(fake_node):
    root, env, script = fake_node
    (root / "etc/config.toml").write_text(STOCK_V2 + "# BROKEN\n")
    result = _run(script, "apply", env)
    assert result.returncode != 0
    assert "the rewritten config does not parse" in result.stderr
    assert (root / "etc/config.toml").read_text() == STOCK_V2 + "# BROKEN\n"
    assert not (root / "restarts").exists()


def test_unhealthy_cri_after_restart_restores_the_previous_config(fake_node):
    root, env, script = fake_node
    (root / "etc/config.toml").write_text(STOCK_V2)
    # The new config "breaks" the CRI plugin; the health wait is cut short for the test.
    env = {**env, "MSA_RESTART": f"echo error > {root}/cri-status", "MSA_HEALTH_TIMEOUT": "1"}
    result = _run(script, "apply", env)
    assert result.returncode != 0
    assert "CRI plugin did not load with the new config; restored the previous" in result.stderr
    assert (root / "etc/config.toml").read_text() == STOCK_V2


def test_no_run_leaves_a_scratch_folder_in_the_nodes_tmp_whatever_its_outcome(fake_node):
    """apply stopping halfway (a config that does not parse, a CRI that does not come back), a check that
    finds work to do and a successful apply: the node's /tmp is as empty afterwards as before."""
    root, env, script = fake_node
    (root / "etc/config.toml").write_text(STOCK_V2 + "# BROKEN\n")
    assert _run(script, "apply", env).returncode != 0
    (root / "etc/config.toml").write_text(STOCK_V2)
    assert _run(script, "check", env).returncode != 0
    assert _run(script, "apply", {**env, "MSA_RESTART": f"echo error > {root}/cri-status", "MSA_HEALTH_TIMEOUT": "1"}).returncode != 0
    (root / "cri-status").write_text("ok")
    assert _run(script, "apply", env).returncode == 0
    assert list((root / "node-tmp").iterdir()) == []


def test_version_1_config_is_refused_with_a_hint(fake_node):
    root, env, script = fake_node
    (root / "etc/config.toml").write_text('[plugins.cri]\n  sandbox_image = "pause"\n')
    result = _run(script, "apply", env)
    assert result.returncode != 0 and "config version 1" in result.stderr and "containerd config migrate" in result.stderr


def test_revert_leaves_a_config_someone_edited_since(fake_node):
    root, env, script = fake_node
    (root / "etc/config.toml").write_text(STOCK_V2)
    assert _run(script, "apply", env).returncode == 0
    with open(root / "etc/config.toml", "a") as f:
        f.write("# edited by an operator\n")
    edited = (root / "etc/config.toml").read_text()
    result = _run(script, "revert", env)
    assert result.returncode == 0 and "changed since msa wrote it; left as is" in result.stderr
    assert (root / "etc/config.toml").read_text() == edited


def test_existing_unmanaged_hosts_toml_is_restored_on_revert(fake_node):
    root, env, script = fake_node
    (root / "etc/config.toml").write_text(STOCK_V2)
    theirs = root / "etc/certs.d/harbor.test:5000/hosts.toml"
    theirs.parent.mkdir(parents=True)
    theirs.write_text('server = "https://harbor.test:5000"\n')
    assert _run(script, "apply", env).returncode == 0
    assert '[host."http://harbor.test:5000"]' in theirs.read_text()
    assert _run(script, "revert", env).returncode == 0
    assert theirs.read_text() == 'server = "https://harbor.test:5000"\n'


def test_unknown_action_is_refused(fake_node):
    _, env, script = fake_node
    result = _run(script, "destroy", env)
    assert result.returncode != 0 and "unknown action 'destroy'" in result.stderr


def _ed25519(seed: bytes = b"k") -> str:
    """A well-formed ssh-ed25519 public key line (the wire blob: type, then 32 key bytes)."""
    import base64

    kind = b"ssh-ed25519"
    blob = len(kind).to_bytes(4, "big") + kind + (32).to_bytes(4, "big") + (seed * 32)[:32]
    return f"ssh-ed25519 {base64.b64encode(blob).decode()}"


def _one_node(**node):
    def edit(values):
        values["msa:cluster"].pop("skipHostKeyCheck", None)
        values["msa:cluster"]["nodes"] = [{"host": "10.0.0.5", **node}]
    return edit


def test_node_and_bastion_host_keys_are_checked_on_every_connection():
    key, bastion_key = _ed25519(b"n"), _ed25519(b"b")
    # The line `ssh-keyscan` prints (host first) is accepted and reduced to what pulumi-command parses.
    edit = _one_node(hostKey=f"10.0.0.5 {key}", bastion={"host": "203.0.113.7", "hostKey": f"{bastion_key} comment"})
    (command,) = [r for r in run_stack("dev", edit).resources if r.type == "command:remote:Command"]
    connection = command.inputs["connection"]["value"]
    assert connection["hostKey"] == key
    assert connection["proxy"]["hostKey"] == bastion_key


def test_a_node_without_host_key_is_an_error_naming_the_keyscan_command():
    assert config_error(_one_node(port=2222)) == (
        "msa:cluster.nodes[0].hostKey: is not set, so the SSH identity of 10.0.0.5 would not be checked; set it to the line "
        "`ssh-keyscan -t ed25519 -p 2222 10.0.0.5` prints (compare its fingerprint with the node's console), "
        "or for a first contact on a trusted network set msa:cluster.skipHostKeyCheck: true"
    )
    message = config_error(_one_node(hostKey=_ed25519(), bastion={"host": "203.0.113.7"}))
    assert message.startswith("msa:cluster.nodes[0].bastion.hostKey: is not set, so the SSH identity of 203.0.113.7")


@pytest.mark.parametrize("bad", ["AAAAC3NzaC1lZDI1NTE5AAAA", "ssh-ed25519 not*base64", "ssh-rsa " + _ed25519().split()[1]])
def test_a_malformed_host_key_is_caught_before_any_connection(bad):
    assert config_error(_one_node(hostKey=bad)).startswith("msa:cluster.nodes[0].hostKey: ")


def test_skipping_host_key_checks_warns_on_every_run(dev):
    (command,) = [r for r in dev.resources if r.type == "command:remote:Command"]
    assert "hostKey" not in command.inputs["connection"]["value"]
    assert any(w.startswith("msa:cluster.skipHostKeyCheck: the SSH host keys of 172.10.40.174 are not checked") for w in dev.warnings)


def test_commands_do_not_carry_their_previous_output(dev):
    (command,) = [r for r in dev.resources if r.type == "command:remote:Command"]
    assert command.inputs["addPreviousOutputInEnv"] is False
