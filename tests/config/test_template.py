"""init-stack --from: a new stack file for another cluster, without what belongs to the template's stack."""

import subprocess
import sys

import pytest
import yaml

import init_stack
from msa.config.template import TemplateError, new_stack_document, stack_from_template
from conftest import copy_project, stack_values, to_config


def test_secrets_encryption_lines_and_pins_stay_behind():
    template = {"encryptionsalt": "v1:x", "config": {**stack_values("dev"), "msa:harborPassword": {"secure": "v1:a:b"}}}
    doc, notes = new_stack_document(template, "10.43.0.0/16", "team-cluster")
    assert "encryptionsalt" not in doc and "msa:harborPassword" not in doc["config"]
    assert all("clusterIP" not in s for s in doc["config"]["msa:services"].values())
    assert doc["config"]["msa:cluster"]["serviceCidr"] == "10.43.0.0/16" and doc["config"]["kubernetes:context"] == "team-cluster"
    assert "msa:services.user-service.clusterIP 10.104.193.23 left out (derived from the name in the new range)" in notes
    assert template["config"]["msa:services"]["user-service"]["clusterIP"] == "10.104.193.23"  # the template is untouched


def test_a_bad_cidr_is_one_line():
    with pytest.raises(TemplateError, match=r"^--service-cidr 10.43.0.1/16: .*; use your API server's --service-cluster-ip-range"):
        new_stack_document({"config": {}}, "10.43.0.1/16")


def test_the_new_stack_renders_in_the_new_range(tmp_path):
    import render

    project = copy_project(tmp_path / "p")
    print(stack_from_template(project, "dev", "team", "10.43.0.0/16", "team-cluster"))
    values = yaml.safe_load((project / "Pulumi.team.yaml").read_text())["config"]
    config, secret_keys = to_config(values)
    result = render.run_program(project, "team", config, secret_keys)
    assert all(ip.startswith("10.43.0.") for ip in result.exports["clusterIPs"].values())
    with pytest.raises(TemplateError, match="^Pulumi.team.yaml exists already"):
        stack_from_template(project, "dev", "team")
    with pytest.raises(TemplateError, match="^--from nope: Pulumi.nope.yaml not found; use one of: dev, prod, team"):
        stack_from_template(project, "nope", "other")


def test_cidr_and_context_need_from(capsys):
    assert init_stack.main(["team", "--service-cidr", "10.43.0.0/16"]) == 2
    assert capsys.readouterr().err.startswith("error: --service-cidr and --context only apply with --from TEMPLATE")


def test_from_writes_the_file_before_the_cli_steps(tmp_path):
    project = copy_project(tmp_path / "p")
    run = subprocess.run([sys.executable, "init_stack.py", "team", "--from", "dev", "--service-cidr", "10.43.0.0/16"],
                         cwd=project, capture_output=True, text=True, env={"PATH": "/nonexistent"})
    assert run.stdout.startswith("wrote Pulumi.team.yaml from Pulumi.dev.yaml: ")
    assert run.returncode == 2 and run.stderr == "error: the pulumi CLI is not on PATH; install it: https://www.pulumi.com/docs/install/\n"


def test_a_new_stack_from_a_zookeeper_template_runs_kraft():
    template = {"config": stack_values("prod")}
    assert template["config"]["msa:kafka"]["mode"] == "zookeeper"
    doc, notes = new_stack_document(template)
    kafka = doc["config"]["msa:kafka"]
    assert kafka["mode"] == "kraft" and "zookeeperReplicas" not in kafka and kafka["brokers"] == 3
    assert "msa:kafka.mode: kraft (a new cluster; the template's ZooKeeper settings left out)" in notes
    assert kafka["authentication"] == "sasl"


def test_a_new_stack_from_an_open_template_authenticates():
    template = {"config": stack_values("dev")}
    template["config"]["msa:kafka"]["authentication"] = "none"
    doc, notes = new_stack_document(template)
    assert doc["config"]["msa:kafka"]["authentication"] == "sasl"
    assert "msa:kafka.authentication: sasl (a new KRaft cluster authenticates from its first start)" in notes
