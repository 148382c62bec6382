"""The verification Job: registered last, waits for every workload, re-runs exactly when its inputs change."""

import ast
import json
import sys

import pytest

from msa.k8s import FORCE_APPLY
from msa.verify.job import INPUTS_ENV, active_deadline_seconds
from msa.verify.spec import checker_files, config_sources
from conftest import by_name, env_of, objects, run_stack

JOB = "kubernetes:batch/v1:Job"


def job_record(result):
    (job,) = [r for r in result.of_type(JOB) if r.name == "verify"]
    return job


def inputs_of(result) -> str:
    return env_of(by_name(result, "Job", "verify"))[INPUTS_ENV]


def spec_of(result) -> dict:
    return json.loads(by_name(result, "ConfigMap", "verify")["data"]["spec.json"])


def test_the_job_is_registered_after_every_other_resource(dev):
    assert dev.resources[-1].type == JOB and dev.resources[-1].name == "verify"


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_job_waits_for_every_workload_the_nodes_and_the_config_repo(stack, request):
    result = request.getfixturevalue(stack)
    waits_for = set(job_record(result).dependencies)
    workloads = [r for r in result.resources if r.type in ("kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:StatefulSet")]
    assert len(workloads) == 8      # five Spring services, ZooKeeper, Kafka, kafka-ui
    for workload in workloads:
        assert workload.urn in waits_for, workload.name
    nodes = result.of_type("command:remote:Command")
    assert nodes and all(n.urn in waits_for for n in nodes)
    (repo,) = [r for r in result.of_type("kubernetes:core/v1:ConfigMap") if r.name == "config-repo"]
    assert repo.urn in waits_for
    # The Kafka day-2 Jobs (drain before, rebalance after a broker change) finish first too.
    others = [j for j in result.of_type(JOB) if j.name != "verify"]
    assert others and all(j.urn in waits_for for j in others)


def test_pulumi_waits_longer_for_the_job_than_the_job_may_run(dev):
    job = by_name(dev, "Job", "verify")
    timeouts = job_record(dev).custom_timeouts
    assert timeouts["create"] == timeouts["update"]
    minutes = int(timeouts["create"].rstrip("m"))
    assert minutes * 60 > job["spec"]["activeDeadlineSeconds"] == active_deadline_seconds_default()
    assert job["spec"]["backoffLimit"] == 0
    assert "ttlSecondsAfterFinished" not in job["spec"]
    annotations = {k: v for k, v in job["metadata"]["annotations"].items() if not k.startswith("checkov.io/")}
    assert annotations == {"pulumi.com/replaceUnready": "true", **FORCE_APPLY}   # no skipAwait


def active_deadline_seconds_default() -> int:
    from msa.config import Verify

    return active_deadline_seconds(Verify())


def test_the_job_runs_the_shipped_checker_in_the_kafka_image(dev):
    job = by_name(dev, "Job", "verify")
    pod = job["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"] == by_name(dev, "StatefulSet", "kafka")["spec"]["template"]["spec"]["containers"][0]["image"]
    assert container["command"] == ["python3", "-m", "checker", "--spec", "/opt/msa-verify/spec.json"]
    assert container["workingDir"] == "/opt/msa-verify"
    assert container["terminationMessagePolicy"] == "FallbackToLogsOnError"
    data = by_name(dev, "ConfigMap", "verify")["data"]
    # Every module of the checker package, laid out as a package the command finds from its folder.
    assert {k: v for k, v in data.items() if k != "spec.json"} == checker_files()
    assert {"__init__.py", "__main__.py", "cli.py"} <= set(data)
    (volume,) = [v for v in pod["volumes"] if v["name"] == "checker"]
    assert {i["key"]: i["path"] for i in volume["configMap"]["items"]} == {
        **{name: f"checker/{name}" for name in checker_files()}, "spec.json": "spec.json"}
    (mount,) = [m for m in container["volumeMounts"] if m["name"] == "checker"]
    assert mount["mountPath"] == "/opt/msa-verify"
    assert pod["restartPolicy"] == "Never" and pod["enableServiceLinks"] is False


def test_only_the_job_gets_a_token_and_it_may_only_read_pods(dev):
    pod = by_name(dev, "Job", "verify")["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "verify" and pod["automountServiceAccountToken"] is True
    assert by_name(dev, "ServiceAccount", "verify")["automountServiceAccountToken"] is False
    (rule,) = by_name(dev, "Role", "verify")["rules"]
    assert rule == {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}
    binding = by_name(dev, "RoleBinding", "verify")
    assert binding["roleRef"]["name"] == "verify"
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "verify", "namespace": "msa"}]


def test_network_policies_can_admit_the_job_by_its_component_label(dev):
    labels = by_name(dev, "Job", "verify")["spec"]["template"]["metadata"]["labels"]
    assert labels["app.kubernetes.io/component"] == "verification"


def test_a_second_render_gives_the_same_inputs(dev):
    assert inputs_of(run_stack("dev")) == inputs_of(dev)


def _set(path, value):
    def edit(values):
        node = values
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = value
    return edit


@pytest.mark.parametrize("change", [
    pytest.param(_set(["msa:kafka", "brokers"], 3), id="broker count"),
    pytest.param(_set(["msa:spring", "registration"], "serviceDns"), id="registration mode"),
    pytest.param(_set(["msa:services", "apigateway-service", "routes"], [{"path": "/store/**", "service": "store-service", "stripPrefix": 1}]), id="routes"),
    pytest.param(_set(["msa:services", "user-service", "tag"], "1.1"), id="image tag"),
    pytest.param(_set(["msa:services", "user-service", "clusterIP"], "10.96.0.77"), id="address"),
    pytest.param(_set(["msa:kafka", "overrides"], {"log.retention.hours": 24}), id="broker override"),
    pytest.param(_set(["msa:harbor", "host"], "harbor.internal:8080"), id="harbor host"),
    pytest.param(_set(["msa:verify", "settleSeconds"], 60), id="settle window"),
])
def test_a_change_that_can_change_the_result_runs_the_job_again(dev, change):
    changed = run_stack("dev", change)
    # A new pod template makes pulumi-kubernetes replace the Job (.spec.template is immutable): it runs again.
    assert inputs_of(changed) != inputs_of(dev)


def test_the_checker_sees_the_changed_setting_in_its_spec(dev):
    before = spec_of(dev)["kafka"]
    after = spec_of(run_stack("dev", _set(["msa:kafka", "brokers"], 3)))["kafka"]
    assert (before["brokers"], before["replicationFactor"], before["partitions"]) == (1, 1, 1)
    assert (after["brokers"], after["replicationFactor"], after["partitions"], after["minInsyncReplicas"]) == (3, 3, 3, 2)


def test_a_config_repo_edit_runs_the_job_again(dev, tmp_path, monkeypatch):
    import shutil

    from conftest import ROOT

    repo = tmp_path / "repo"
    shutil.copytree(ROOT / "config-repo", repo)
    (repo / "user-service.yml").write_text("greeting:\n  message: changed\n")
    changed = run_stack("dev", lambda v: v.__setitem__("msa:configRepo", str(repo)))
    assert inputs_of(changed) != inputs_of(dev)


def test_verification_can_be_switched_off():
    result = run_stack("dev", _set(["msa:verify", "enabled"], False))
    assert not [r for r in result.of_type(JOB) if r.name == "verify"]
    assert not [o for o in objects(result) if o["metadata"]["name"] == "verify"]


def test_a_bad_verify_setting_is_one_line():
    from conftest import config_error

    assert config_error(_set(["msa:verify", "settleSeconds"], -1)) == "msa:verify.settleSeconds: -1 is too small; use at least 0"


@pytest.mark.parametrize("mode", ["clusterIP", "serviceDns", "podIP"])
def test_the_expected_eureka_address_is_what_each_client_registers(mode):
    result = run_stack("dev", _set(["msa:spring", "registration"], mode))
    spec = spec_of(result)
    for client in spec["eurekaClients"]:
        settings = json.loads(env_of(by_name(result, "Deployment", client["name"]))["SPRING_APPLICATION_JSON"].replace("$$(", "$("))
        instance = settings["eureka"]["instance"]
        registered = instance.get("ipAddress") if instance["preferIpAddress"] else instance["hostname"]
        assert client["port"] == instance["nonSecurePort"]
        if mode == "podIP":
            assert client["address"] is None and registered == "$(POD_IP)"
        else:
            assert client["address"] == registered


def test_gateway_targets_are_the_addresses_eureka_lists(dev):
    # The gateway targets in the spec are the addresses Eureka lists (one fact: the Service's ClusterIP).
    spec = spec_of(dev)
    by_client = {c["name"]: c for c in spec["eurekaClients"]}
    for route in spec["gateway"]["routes"]:
        assert route["targetUrl"] == f"http://{by_client[route['service']]['address']}:{by_client[route['service']]['port']}"


def test_the_checker_runs_from_its_volume_as_the_job_starts_it(dev, tmp_path):
    """The files the kubelet puts in the volume (the ConfigMap's data at its items' paths), started with
    the container's command in its working directory: the package imports and runs as `checker`."""
    import os
    import subprocess

    job = by_name(dev, "Job", "verify")
    pod = job["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    (volume,) = [v for v in pod["volumes"] if v["name"] == "checker"]
    (mount,) = [m for m in container["volumeMounts"] if m["name"] == "checker"]
    data = by_name(dev, "ConfigMap", "verify")["data"]
    root = tmp_path / mount["mountPath"].lstrip("/")
    for item in volume["configMap"]["items"]:
        (root / item["path"]).parent.mkdir(parents=True, exist_ok=True)
        (root / item["path"]).write_text(data[item["key"]])
    command = [sys.executable, *container["command"][1:]]
    spec_at = command.index("--spec") + 1
    command[spec_at] = str(tmp_path / command[spec_at].lstrip("/"))
    env = {k: v for k, v in os.environ.items() if k != "KUBERNETES_SERVICE_HOST"}
    done = subprocess.run([*command, "--only", "pods"], cwd=tmp_path / container["workingDir"].lstrip("/"), env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("msa verification of namespace msa in the cluster")
    assert done.stdout.rstrip().endswith("verification passed: 1 checks, 0 failed, 1 skipped")


def test_a_config_file_without_properties_is_not_expected_from_the_config_server():
    files = {"application.yml": "a: 1\n", "user-service.yml": "# nothing yet\n", "store-service.properties": "x=1\n"}
    assert config_sources("user-service", files) == ["application.yml"]
    assert config_sources("store-service", files) == ["store-service.properties", "application.yml"]


def test_the_checker_runs_on_the_python_of_cp_kafka_7_9_with_the_standard_library_only():
    files = checker_files()
    imported, siblings = set(), set()
    for name, source in files.items():
        tree = ast.parse(source, feature_version=(3, 9))      # cp-base-new 7.9.0 ships Python 3.9
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                imported |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level:
                # Relative: a module the ConfigMap ships too (the package is `checker` in the Job).
                assert node.level == 1, (name, node.module)
                siblings.add(f"{node.module}.py")
            elif isinstance(node, ast.ImportFrom):
                imported.add((node.module or "").split(".")[0])
    assert imported <= set(sys.stdlib_module_names), imported - set(sys.stdlib_module_names)
    assert siblings and siblings <= set(files), siblings - set(files)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_tasks_verify_checks_against_the_spec_the_job_gets(stack, request):
    import verify

    from conftest import fixture_project

    spec, _ = verify.stack_spec(stack, fixture_project())
    assert spec == spec_of(request.getfixturevalue(stack))


def test_tasks_verify_without_a_node_address_says_how_to_give_one(tmp_path, monkeypatch, capsys):
    import verify

    from conftest import fixture_project

    spec, cfg = verify.stack_spec("dev", fixture_project())
    monkeypatch.setattr(verify, "stack_spec", lambda stack: (spec, cfg.model_copy(update={"cluster": cfg.cluster.model_copy(update={"nodes": []})})))
    assert verify.main(["dev"]) == 2
    assert capsys.readouterr().err == "error: no node address: msa:cluster.nodes is empty; pass --node <a node's address>\n"


def test_a_service_cannot_take_the_verification_jobs_name():
    from conftest import config_error

    def add_verify(values):
        values["msa:services"]["verify"] = {"image": "verify", "tag": "1.0", "port": 8080}
    assert config_error(add_verify).startswith("msa:services.verify: ")
