"""The move of a running open cluster to authentication in one `pulumi up` (msa/kafka/auth_roll.py,
broker_auth.phase_*): the phase chosen at pod start, the Jobs' order, their rights and their inputs."""

from __future__ import annotations

import subprocess

import pytest

from conftest import by_name, env_of, run_stack
from msa.kafka.auth_roll import BEGIN_JOB, FINISH_JOB, ROLL_JOB, auth_phase_env, role_rules
from msa.kafka.broker_auth import (
    INTER_BROKER_SCRAM, PHASE_CONFIGMAP, PHASE_DIR, SASL_PHASES, SCRAM_ADDED, SCRAM_ONLY, listener_env, phase_env, phase_start, phase_var,
)
from msa.names import KafkaNames


def _sasl(values):
    values.setdefault("msa:kafka", {}).update(authentication="sasl", mode="zookeeper")


@pytest.fixture(scope="module")
def prod_sasl():
    return run_stack("prod", _sasl)


def _deps(result, kind: str, name: str) -> list[str]:
    resource = next(r for r in result.resources if r.type.endswith(f":{kind}") and r.name == name)
    return [d.rsplit("::", 1)[1] for d in resource.dependencies]


@pytest.mark.parametrize("phase", SASL_PHASES)
def test_every_sasl_phase_is_in_the_spec_and_the_start_command_exports_it(prod_sasl, phase, tmp_path):
    sts = by_name(prod_sasl, "StatefulSet", "kafka")
    env = {k: v for k, v in env_of(sts).items() if isinstance(v, str)}
    chosen = phase_env(env, phase + "\n")
    assert {k: chosen[k] for k in listener_env(phase, KafkaNames("msa", "cluster.local", sasl=True))} == \
        listener_env(phase, KafkaNames("msa", "cluster.local", sasl=True))
    assert chosen["KAFKA_ZOOKEEPER_SET_ACL"] == ("false" if phase == SCRAM_ADDED else "true")
    # The rendered command, run by bash with the phase file where the ConfigMap is mounted: it exports these.
    (container,) = sts["spec"]["template"]["spec"]["containers"]
    command = container["command"][2].replace(PHASE_DIR, str(tmp_path)).replace("exec /etc/confluent/docker/run", "env -0")
    (tmp_path / "phase").write_text(phase)
    out = subprocess.run(["bash", "-c", command], env={**env, "HOSTNAME": "kafka-2", "PATH": "/usr/bin:/bin"},
                         capture_output=True, text=True, check=True).stdout
    exported = dict(item.split("=", 1) for item in out.split("\0") if "=" in item)
    assert {k: exported[k] for k in chosen} == chosen and exported["KAFKA_BROKER_ID"] == "2"


def test_no_phase_file_or_an_unknown_one_is_scram_only(prod_sasl):
    env = {k: v for k, v in env_of(by_name(prod_sasl, "StatefulSet", "kafka")).items() if isinstance(v, str)}
    assert phase_env(env, None) == phase_env(env, "nonsense") == phase_env(env, SCRAM_ONLY)
    assert phase_env(env, None)["KAFKA_LISTENERS"] == "SCRAM://0.0.0.0:9094"
    assert "phase=scram-only" in phase_start("true")


def test_the_spec_is_the_same_in_every_phase_and_the_configmap_is_optional(prod_sasl):
    pod = by_name(prod_sasl, "StatefulSet", "kafka")["spec"]["template"]["spec"]
    (volume,) = [v for v in pod["volumes"] if "configMap" in v]
    assert volume["configMap"] == {"name": PHASE_CONFIGMAP, "optional": True, "defaultMode": 0o444}
    assert {"name": volume["name"], "mountPath": PHASE_DIR, "readOnly": True} in pod["containers"][0]["volumeMounts"]
    assert phase_var(INTER_BROKER_SCRAM, "KAFKA_LISTENERS") == "MSA_AUTH_INTER_BROKER_SCRAM__KAFKA_LISTENERS"


def test_pulumi_creates_the_phase_scram_only_and_leaves_it_to_the_jobs_after(prod_sasl):
    config_map = by_name(prod_sasl, "ConfigMap", PHASE_CONFIGMAP)
    assert config_map["data"] == {"phase": SCRAM_ONLY}
    resource = next(r for r in prod_sasl.resources if r.type == "kubernetes:core/v1:ConfigMap" and r.name == PHASE_CONFIGMAP)
    assert resource.ignore_changes == ["data"]


def test_the_jobs_run_in_kafkas_order_around_the_statefulset_and_the_clients(prod_sasl):
    assert "kafka-scram-users" in _deps(prod_sasl, "Job", BEGIN_JOB)
    assert BEGIN_JOB in _deps(prod_sasl, "StatefulSet", "kafka")
    assert "kafka" in _deps(prod_sasl, "Job", ROLL_JOB)
    assert ROLL_JOB in _deps(prod_sasl, "Job", "zookeeper-acl-migration")
    for client in ("store-service", "kafka-ui"):
        assert ROLL_JOB in _deps(prod_sasl, "Deployment", client)
    finish = _deps(prod_sasl, "Job", FINISH_JOB)
    assert {ROLL_JOB, "store-service", "kafka-ui"} <= set(finish)
    assert FINISH_JOB in _deps(prod_sasl, "Job", "verify")


def test_the_jobs_may_restart_the_broker_pods_and_set_the_phase_nothing_else(prod_sasl):
    role = by_name(prod_sasl, "Role", "kafka-auth")
    assert role["rules"] == role_rules(KafkaNames("msa", "cluster.local", sasl=True), 3)
    assert role["rules"][0]["resourceNames"] == ["kafka-0", "kafka-1", "kafka-2"]
    assert {tuple(r["verbs"]) for r in role["rules"]} == {("get", "delete"), ("get", "patch")}
    for name in (BEGIN_JOB, ROLL_JOB, FINISH_JOB):
        pod = by_name(prod_sasl, "Job", name)["spec"]["template"]["spec"]
        assert pod["serviceAccountName"] == "kafka-auth" and pod["automountServiceAccountToken"] is True
    # No other Job gets a token.
    assert by_name(prod_sasl, "Job", "kafka-scram-users")["spec"]["template"]["spec"]["automountServiceAccountToken"] is False


def test_each_job_says_its_step_and_only_begin_reads_zookeeper():
    names = KafkaNames("msa", "cluster.local", sasl=True)
    assert auth_phase_env("begin", names, 3)["ZOOKEEPER_CONNECT"] == names.zookeeper_connect
    assert "ZOOKEEPER_CONNECT" not in auth_phase_env("roll", names, 3)
    assert auth_phase_env("finish", names, 5)["BROKERS"] == "5"


def test_an_open_stack_has_none_of_it():
    result = run_stack("prod", lambda v: v.setdefault("msa:kafka", {}).update(authentication="none", mode="zookeeper"))
    kinds = {(o["kind"], o["metadata"]["name"]) for o in result.kubernetes_objects()}
    assert not {("ConfigMap", PHASE_CONFIGMAP), ("Role", "kafka-auth"), ("Job", BEGIN_JOB), ("Job", ROLL_JOB), ("Job", FINISH_JOB)} & kinds
