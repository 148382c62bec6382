"""Hardened pods: Pod Security "restricted" wherever the image allows it, and the reasons where it does not."""

import pytest

from conftest import TEST_UI_PASSWORD, by_name, config_error, env_of, objects, run_stack

SPRING = ["discovery-service", "config-service", "apigateway-service", "user-service", "store-service"]
DIGEST = "sha256:" + "ab" * 32


def workloads(result) -> list[dict]:
    return [o for o in result.kubernetes_objects() if o["kind"] in ("Deployment", "StatefulSet", "Job")]


def pod(workload: dict) -> dict:
    return workload["spec"]["template"]["spec"]


def skips(workload: dict) -> dict[str, str]:
    """checkov.io/skip<N> annotations as {check: reason}."""
    annotations = workload["metadata"].get("annotations", {})
    return dict(v.split("=", 1) for k, v in annotations.items() if k.startswith("checkov.io/skip"))


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_pod_is_non_root_by_number_with_seccomp_no_capabilities_and_no_token(stack, request):
    result = request.getfixturevalue(stack)
    for workload in workloads(result):
        spec, name = pod(workload), workload["metadata"]["name"]
        security = spec["securityContext"]
        assert security["runAsNonRoot"] is True and security["runAsUser"] >= 1, name
        assert security["seccompProfile"] == {"type": "RuntimeDefault"}, name
        # Only the verification Job reads the API (its own ServiceAccount, issue 12).
        # Only the API clients: the verification and the Jobs that restart brokers in the move to authentication.
        assert spec["automountServiceAccountToken"] is (name in ("verify", "kafka-auth-begin", "kafka-auth-roll", "kafka-auth-finish")), name
        for container in spec["containers"]:
            assert container["securityContext"]["allowPrivilegeEscalation"] is False, name
            assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}, name
            assert container["imagePullPolicy"] == "IfNotPresent", name


def test_spring_and_kafka_ui_run_read_only_as_10001_with_a_writable_tmp(dev):
    for name in [*SPRING, "kafka-ui"]:
        spec = pod(by_name(dev, "Deployment", name))
        assert spec["securityContext"]["runAsUser"] == spec["securityContext"]["runAsGroup"] == 10001, name
        (container,) = spec["containers"]
        assert container["securityContext"]["readOnlyRootFilesystem"] is True, name
        (tmp,) = [m for m in container["volumeMounts"] if m["mountPath"] == "/tmp"]
        assert {"name": tmp["name"], "emptyDir": {}} in spec["volumes"], name


def test_run_as_user_is_a_per_service_setting_changed_in_place(dev):
    before = pod(by_name(dev, "Deployment", "user-service"))
    after = pod(by_name(run_stack("dev", lambda v: v["msa:services"]["user-service"].update(runAsUser=20000)), "Deployment", "user-service"))
    assert (before["securityContext"]["runAsUser"], after["securityContext"]["runAsUser"]) == (10001, 20000)
    assert config_error(lambda v: v["msa:services"]["user-service"].update(runAsUser=0)).startswith(
        "msa:services.user-service.runAsUser: 0 is too small")


CP_WORKLOADS = [("StatefulSet", "kafka"), ("StatefulSet", "zookeeper"), ("Job", "kafka-drain"), ("Job", "kafka-rebalance"), ("Job", "verify")]


def test_cp_workloads_skip_exactly_the_checks_their_entrypoints_need(dev):
    for kind, name in CP_WORKLOADS[:-1]:
        workload = by_name(dev, kind, name)
        assert pod(workload)["securityContext"]["runAsUser"] == 1000
        # uid 1000 owns what the scripts write; the root filesystem is written; mirrored, so by digest.
        # The sasl brokers' login line is env from their own Secret (CKV_K8S_35, k8s.SECRET_ENV_SKIP).
        login = {"CKV_K8S_35"} if name == "kafka" else set()
        assert set(skips(workload)) == {"CKV_K8S_40", "CKV_K8S_22", *login}, name
        assert all(reason.strip() for reason in skips(workload).values())


@pytest.mark.parametrize("mirror", ["copy", "proxy-cache"])
def test_no_tag_exception_is_left_on_any_object_once_mirrored(mirror):
    result = run_stack("dev", lambda v: v["msa:harbor"].update(mirror=mirror))
    tag_checks = {"CKV_K8S_43", "CKV_K8S_15"}
    for kind, name in [*CP_WORKLOADS, ("Deployment", "kafka-ui")]:
        workload = by_name(result, kind, name)
        assert not tag_checks & set(skips(workload)), name
        assert "@sha256:" in pod(workload)["containers"][0]["image"], name


def test_with_mirroring_off_a_tag_only_cp_image_keeps_its_exceptions():
    result = run_stack("dev", lambda v: v["msa:harbor"].update(mirror="off"))
    for kind, name in CP_WORKLOADS:
        assert {"CKV_K8S_43", "CKV_K8S_15"} <= set(skips(by_name(result, kind, name))), name
        expected = "confluentinc/cp-zookeeper:7.9.1" if name == "zookeeper" else "confluentinc/cp-kafka:7.9.1"
        assert pod(by_name(result, kind, name))["containers"][0]["image"] == expected
    # kafka-ui's default is pinned by digest upstream: no exception even unmirrored.
    assert not {"CKV_K8S_43", "CKV_K8S_15"} & set(skips(by_name(result, "Deployment", "kafka-ui")))


def test_a_cp_image_pinned_by_digest_drops_the_tag_exceptions():
    pinned = f"confluentinc/cp-kafka:7.9.1@{DIGEST}"
    result = run_stack("dev", lambda v: (v["msa:kafka"].update(image=pinned), v["msa:harbor"].update(mirror="off")))
    kafka = by_name(result, "StatefulSet", "kafka")
    assert pod(kafka)["containers"][0]["image"] == pinned
    assert set(skips(kafka)) == {"CKV_K8S_40", "CKV_K8S_22", "CKV_K8S_35"}


def _push_none(values):
    values["msa:harbor"].update(push="none", mirror="off")


def test_prebuilt_images_deploy_by_digest_when_given():
    # push: none reads nothing from Harbor: by tag, with the exceptions and a warning naming the key.
    by_tag = run_stack("dev", _push_none)
    before = by_name(by_tag, "Deployment", "user-service")
    pinned = run_stack("dev", lambda v: (_push_none(v), v["msa:services"]["user-service"].update(digest=DIGEST)))
    after = by_name(pinned, "Deployment", "user-service")
    assert pod(before)["containers"][0]["image"] == "msa.harbor.com/library/usersservice:1.0"
    assert set(skips(before)) == {"CKV_K8S_43", "CKV_K8S_15"}
    assert any(w.startswith("msa:services.user-service.digest is not set and msa:harbor.push is none") for w in by_tag.warnings)
    assert pod(after)["containers"][0]["image"] == f"msa.harbor.com/library/usersservice:1.0@{DIGEST}"
    assert skips(after) == {}
    assert not any("msa:services.user-service.digest" in w for w in pinned.warnings)


def test_committed_stacks_deploy_every_workload_from_harbor_by_digest():
    """The done-when of issue 19: no workload image outside Harbor or without a digest, no tag exception."""
    for stack in ("dev", "prod"):
        result = run_stack(stack)
        for kind in ("Deployment", "StatefulSet"):
            for workload in [o for o in result.kubernetes_objects() if o["kind"] == kind]:
                for container in pod(workload)["containers"] + pod(workload).get("initContainers", []):
                    assert container["image"].startswith("msa.harbor.com/") and "@sha256:" in container["image"], (stack, container["image"])
                assert "CKV_K8S_43" not in skips(workload), (stack, workload["metadata"]["name"])


@pytest.mark.parametrize("digest, expected", [
    ("sha256:abc", "msa:services.user-service.digest: 'sha256:abc' is not an image digest"),
    ("ab" * 32, "is not an image digest"),
])
def test_a_malformed_digest_is_refused(digest, expected):
    assert expected in config_error(lambda v: v["msa:services"]["user-service"].update(digest=digest))


def test_a_built_image_takes_no_configured_digest(tmp_path):
    def edit(values):
        values["msa:services"]["user-service"].update(digest=DIGEST, context="msa")

    assert config_error(edit).startswith("msa:services.user-service.digest: is for prebuilt images")


def test_kafka_ui_asks_for_a_login_from_a_secret_file(dev):
    ui = by_name(dev, "Deployment", "kafka-ui")
    env = env_of(ui)
    assert env["AUTH_TYPE"] == "LOGIN_FORM" and env["SPRING_CONFIG_IMPORT"] == "configtree:/etc/kafka-ui/auth/"
    assert "KAFKA_CLUSTERS_0_READONLY" not in env
    assert not any("PASSWORD" in name for name in env)  # a file, never an env var
    spec = pod(ui)
    (auth,) = [v for v in spec["volumes"] if v["name"] == "auth"]
    secret = [o for o in objects(dev, "Secret") if o["metadata"]["name"] == auth["secret"]["secretName"]]
    assert secret and secret[0]["immutable"] is True
    (mount,) = [m for m in spec["containers"][0]["volumeMounts"] if m["name"] == "auth"]
    assert mount == {"name": "auth", "mountPath": "/etc/kafka-ui/auth", "readOnly": True}
    assert TEST_UI_PASSWORD not in str(dev.kubernetes_objects())
    assert by_name(dev, "Service", "kafka-ui")["spec"]["ports"][0]["nodePort"] == 30089


def test_kafka_ui_read_only_without_login_and_without_node_port():
    def edit(values):
        values["msa:kafka"]["ui"] = {"enabled": True, "login": False, "readOnly": True, "nodePort": None}

    result = run_stack("dev", edit, secrets={"msa:kafkaUiPassword": None})
    env = env_of(by_name(result, "Deployment", "kafka-ui"))
    assert env["KAFKA_CLUSTERS_0_READONLY"] == "true" and "AUTH_TYPE" not in env
    service = by_name(result, "Service", "kafka-ui")
    assert service["spec"]["type"] == "ClusterIP" and "nodePort" not in service["spec"]["ports"][0]


def test_an_open_kafka_ui_is_refused():
    message = config_error(lambda v: v["msa:kafka"]["ui"].update(login=False))
    assert message.startswith("msa:kafka.ui.login: false with readOnly: false leaves an admin console")


def test_a_kafka_ui_login_needs_its_password():
    message = config_error(lambda v: None, secrets={"msa:kafkaUiPassword": None})
    assert message.startswith("msa:kafkaUiPassword: kafka-ui asks for a login")
    assert "pulumi config set --secret --stack dev msa:kafkaUiPassword" in message
