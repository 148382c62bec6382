"""The committed Pulumi.<stack>.yaml files are the deploying team's (docs/make-it-yours.md): a copy of the
project whose Pulumi.dev.yaml points at another cluster, with a Pulumi.team.yaml added, passes the fast
test suite unchanged.

Marked integration only for its cost: it runs the whole fast suite (minutes) in the copy, which the
fast suite itself must not (it would run this test again inside the copy).
"""

import os
import shutil
import subprocess
import sys

import pytest
import yaml

from conftest import NOT_COPIED, ROOT


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


@pytest.mark.integration
def test_a_team_stack_for_another_cluster_keeps_the_fast_suite_green(tmp_path):
    project = tmp_path / "team-project"
    shutil.copytree(ROOT, project, ignore=shutil.ignore_patterns(*NOT_COPIED))
    shutil.copytree(ROOT / ".ci", project / ".ci")  # a checkout has it; the copies of the other tests leave it out
    os.symlink(ROOT / "venv", project / "venv")
    dev = yaml.safe_load((project / "Pulumi.dev.yaml").read_text())
    dev["config"] = _another_cluster(dev["config"])
    (project / "Pulumi.dev.yaml").write_text(yaml.safe_dump(dev, sort_keys=False))
    team = {"config": {**_another_cluster(yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())["config"]),
                       "kubernetes:context": "team-prod"}}
    (project / "Pulumi.team.yaml").write_text(yaml.safe_dump(team, sort_keys=False))

    rendered = subprocess.run([sys.executable, "render.py", "team", "--out", str(tmp_path / "out")], cwd=project, capture_output=True, text=True)
    assert rendered.returncode == 0, rendered.stderr
    outputs = yaml.safe_load((tmp_path / "out" / "outputs.yaml").read_text())
    assert outputs["clusterIPs"]["user-service"] == "172.20.0.242"
    assert all(ip.startswith("172.20.0.") for ip in outputs["clusterIPs"].values())

    suite = subprocess.run([sys.executable, "-m", "pytest", "-m", "not integration", "-q", "-p", "no:cacheprovider", "-n", "2"],
                           cwd=project, capture_output=True, text=True, timeout=1800)
    tail = "\n".join(suite.stdout.splitlines()[-30:])
    assert suite.returncode == 0, tail
    assert " passed" in tail and "failed" not in tail
