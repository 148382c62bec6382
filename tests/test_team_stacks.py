"""The committed Pulumi.<stack>.yaml files are the deploying team's (docs/make-it-yours.md): a copy of the
project whose Pulumi.dev.yaml points at another cluster, with a Pulumi.team.yaml added, renders; and no
test depends on those files, because reading one fails the test that does (conftest._audit, here
checked to catch a read and a script started on the project folder).
"""

import contextlib
import shutil
import subprocess
import sys

import pytest
import yaml

from conftest import NOT_COPIED, ROOT, _team_stack_uses, copy_project


def _another_cluster(values: dict) -> dict:
    """What a team changes first: the service range and addresses, nodes, registry, context."""
    values = {k: v for k, v in values.items() if not (isinstance(v, dict) and set(v) == {"secure"})}
    values["kubernetes:context"] = "team-cluster"
    values["msa:cluster"] = {**values["msa:cluster"], "serviceCidr": "172.20.0.0/16", "nodes": [{"host": "192.168.7.10", "user": "admin"}]}
    values["msa:harbor"] = {**values["msa:harbor"], "host": "registry.team.example:8080", "address": "192.168.7.2"}
    services = values["msa:services"]
    for svc in services.values():
        svc.pop("clusterIP", None)
    services["user-service"]["clusterIP"] = "172.20.0.242"  # an address the team's Service already holds
    services["order-service"] = {"image": "orderservice", "tag": "2.1", "port": 8081, "kafka": True}
    return values


@pytest.mark.committed_stacks
def test_a_team_stack_for_another_cluster_renders(tmp_path):
    project = tmp_path / "team-project"
    shutil.copytree(ROOT, project, ignore=shutil.ignore_patterns(*NOT_COPIED))
    dev = yaml.safe_load((project / "Pulumi.dev.yaml").read_text())
    dev["config"] = _another_cluster(dev["config"])
    (project / "Pulumi.dev.yaml").write_text(yaml.safe_dump(dev, sort_keys=False))
    team = {"config": {**_another_cluster(yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())["config"]),
                       "kubernetes:context": "team-prod"}}
    (project / "Pulumi.team.yaml").write_text(yaml.safe_dump(team, sort_keys=False))

    for stack in ("dev", "team"):
        rendered = subprocess.run([sys.executable, "render.py", stack, "--out", str(tmp_path / stack)], cwd=project,
                                  capture_output=True, text=True)
        assert rendered.returncode == 0, rendered.stderr
        outputs = yaml.safe_load((tmp_path / stack / "outputs.yaml").read_text())
        assert outputs["clusterIPs"]["user-service"] == "172.20.0.242"
        assert all(ip.startswith("172.20.0.") for ip in outputs["clusterIPs"].values())


def test_a_test_that_reads_a_team_stack_file_or_runs_the_project_on_them_is_caught(tmp_path):
    _team_stack_uses.clear()
    copy_project(tmp_path / "copy")                                     # a copy leaves them behind: nothing
    subprocess.run([sys.executable, "render.py", "--help"], cwd=tmp_path / "copy", capture_output=True, check=True)
    pulumi = tmp_path / "no-such-cli" / "pulumi"                      # only its start is seen: it need not exist
    with contextlib.suppress(FileNotFoundError):
        subprocess.run([pulumi, "version"], cwd=ROOT)                      # the CLI's version: no stack read
    assert _team_stack_uses == []
    (ROOT / "Pulumi.dev.yaml").read_bytes()
    subprocess.run([sys.executable, "render.py", "--help"], cwd=ROOT, capture_output=True, check=True)
    with contextlib.suppress(FileNotFoundError):
        subprocess.run([pulumi, "preview", "--stack", "dev"], cwd=ROOT)
    caught, _team_stack_uses[:] = list(_team_stack_uses), []             # this test itself must not fail on them
    assert caught == [f"read {ROOT / 'Pulumi.dev.yaml'}", f"ran {sys.executable} render.py --help in the project folder",
                      f"ran {pulumi} preview --stack dev in the project folder"]
