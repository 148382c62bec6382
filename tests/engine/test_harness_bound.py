"""The engine harness without a control plane: its bound on one operation (EngineStack._bounded), where
stand-ins named `pulumi` and `pulumi-resource-kubernetes` (copies of bash) play a CLI whose provider never
returns, and its one-time plugin install (pulumi_home), with a stand-in `pulumi` script."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
import types

import pytest

from engine.stack import EngineStack, _processes_under

# The stand-in provider: on SIGQUIT it prints a goroutine as a Go process would, and exits.
PROVIDER = r"""trap 'printf "goroutine 7 gp=0x1 m=nil [select, 9 minutes]:\n\
github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/await/condition.(*Deleted).Range(0x1)\n\
\t/go/pkg/mod/github.com/pulumi/pulumi-kubernetes/provider/v4@v4.0.0/pkg/await/condition/deleted.go:87 +0x1\n\
github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/await.Deletion({0x1})\n"; exit 2' QUIT
echo "deleting Job verify"
while :; do sleep 0.1; done"""


BOUND = 2


def test_an_operation_past_its_bound_is_killed_and_says_where_the_provider_waited(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    bash = shutil.which("bash")
    cli, provider = tmp_path / "pulumi", tmp_path / "pulumi-resource-kubernetes"
    shutil.copy(bash, cli)
    shutil.copy(bash, provider)
    script = tmp_path / "provider.sh"
    script.write_text(PROVIDER)
    lines: list[str] = []

    def operation():
        # Like the Automation API: the CLI as a child of this process, its output handed over line by line.
        # SIGQUIT back to its default first: a Go provider handles it even when started with it ignored (only
        # SIGHUP and SIGINT stay ignored, os/signal), but bash cannot trap a signal ignored on entry, and a
        # script's background job (`.ci/run ... &`) starts with SIGQUIT ignored: the stand-in never dumped.
        proc = subprocess.Popen([cli, "-c", f"{provider} {script} 2>&1; echo cli done"], cwd=project,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                preexec_fn=lambda: signal.signal(signal.SIGQUIT, signal.SIG_DFL))
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
        raise RuntimeError(f"exited {proc.wait()}")

    stack = types.SimpleNamespace(project=project, name="dev")
    start = time.monotonic()
    with pytest.raises(AssertionError) as failure:
        EngineStack._bounded(stack, "up", BOUND, lines, operation)
    message = str(failure.value)
    # The SIGQUIT ended the provider: no wait for the harness's 30 s fallback before its SIGKILL.
    assert time.monotonic() - start < BOUND + 20, message
    assert f"pulumi up of stack dev ran past its {BOUND} s and was killed" in message
    assert "goroutine 7 gp=0x1 m=nil [select, 9 minutes]: condition.(*Deleted).Range <- await.Deletion" in message
    assert "deleting Job verify" in message
    names = {os.path.basename(os.readlink(f"/proc/{pid}/exe")) for pid in _processes_under(os.getpid())
             if os.path.exists(f"/proc/{pid}/exe")}
    assert not names & {"pulumi", "pulumi-resource-kubernetes"}


def test_an_operation_within_its_bound_returns_its_result_or_raises_its_error():
    stack = types.SimpleNamespace(project=None, name="dev")
    assert EngineStack._bounded(stack, "preview", 5, [], lambda: "result") == "result"
    with pytest.raises(KeyError):
        EngineStack._bounded(stack, "preview", 5, [], lambda: {}["missing"])


def test_the_plugin_install_on_a_fresh_machine_stays_out_of_the_project_folder(tmp_path, monkeypatch):
    """The first engine test on a fresh machine installs the kubernetes plugin; run from the project folder
    (pytest's working folder), that install tripped the team-stack guard and failed the test (a fresh CI run)."""
    import conftest
    from engine.stack import pulumi_home
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "pulumi").write_text(f'#!/bin/sh\npwd > {tmp_path}/cwd\nmkdir -p "$PULUMI_HOME/plugins/resource-kubernetes-v$5"\n'
                                    f'cp "$7" "$PULUMI_HOME/plugins/resource-kubernetes-v$5/"\n')
    (bin_dir / "pulumi").chmod(0o755)
    provider = tmp_path / "pulumi-resource-kubernetes"
    provider.write_text("provider")
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setenv("MSA_ENGINE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("MSA_K8S_PLUGIN_VERSION", "4.34.2")
    monkeypatch.setenv("MSA_K8S_PROVIDER_BIN", str(provider))
    monkeypatch.chdir(conftest.ROOT)

    home = pulumi_home()

    assert (home / "plugins" / "resource-kubernetes-v4.34.2" / "pulumi-resource-kubernetes").read_text() == "provider"
    assert (tmp_path / "cwd").read_text().strip() == str(home)
    assert conftest._team_stack_uses == []
