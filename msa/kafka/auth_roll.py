"""The move of a running open cluster to authentication inside one `pulumi up` (ZooKeeper mode).

Kafka's documented order needs three rolls (broker_auth.py says why none can be merged). They all
happen in one up: the brokers pick their phase when their pod starts, from the ConfigMap
kafka-auth-phase (broker_auth.phase_start), and three Jobs move it on, each in Pulumi's dependency order
and each a no-op when there is nothing to do (a new authenticated cluster, an up that changes
something else):

  kafka-scram-users   every SCRAM user in ZooKeeper                  (scram.py)
  kafka-auth-begin    an open cluster runs -> phase scram-added      before the StatefulSet
  StatefulSet update  roll 1: PLAINTEXT + SCRAM, inter-broker PLAINTEXT, ZooKeeper login
  kafka-auth-roll     -> inter-broker-scram, roll 2 (ZooKeeper ACLs); the ACL migration Job follows
  clients             Spring services, kafka-ui switch to SCRAM       (they wait for kafka-auth-roll)
  kafka-auth-finish   -> scram-only, roll 3: PLAINTEXT is closed     after the clients are Ready

Pulumi creates the ConfigMap with scram-only and ignores its data afterwards: the Jobs own the value,
and neither a refresh nor the next up may set it back. The Jobs restart brokers by deleting their pods
(the StatefulSet controller recreates them) under their own ServiceAccount and a Role limited by name to
the broker pods and this ConfigMap. The script is scripts/kafka_auth_phase.py (python3 of cp-kafka).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_kubernetes as k8s

from .. import k8s as kx
from ..names import KafkaNames
from .broker_auth import PHASE_CONFIGMAP, PHASE_KEY, SCRAM_ONLY

NAME = "kafka-auth"
BEGIN_JOB, ROLL_JOB, FINISH_JOB = "kafka-auth-begin", "kafka-auth-roll", "kafka-auth-finish"
SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
SCRIPT = Path(__file__).resolve().parent / "scripts" / "kafka_auth_phase.py"
# One broker's restart: log recovery and catching up with the ISR can take minutes.
READY_TIMEOUT_SECONDS = 900
_SCRIPT_END = "MSA_AUTH_PHASE_PY"


def auth_phase_script() -> str:
    """The Jobs' bash command: the Python script on python3's stdin (the Job runs `bash -c`)."""
    text = SCRIPT.read_text()
    assert _SCRIPT_END not in text
    return f"#!/usr/bin/env bash\nexec python3 -S - <<'{_SCRIPT_END}'\n{text}{_SCRIPT_END}\n"


def auth_phase_env(step: str, names: KafkaNames, brokers: int) -> dict[str, str]:
    """One Job's env. Every broker count is in it: a new count is a new spec (and Role), the Job runs again."""
    return {
        "STEP": step, "NAMESPACE": names.namespace, "CONFIGMAP": PHASE_CONFIGMAP, "POD_PREFIX": names.kafka,
        "BROKERS": str(brokers), "READY_TIMEOUT_SECONDS": str(READY_TIMEOUT_SECONDS), "KUBE_SA_DIR": SA_DIR,
        **({"ZOOKEEPER_CONNECT": names.zookeeper_connect} if step == "begin" else {}),
    }


def role_rules(names: KafkaNames, brokers: int) -> list[dict]:
    """The Jobs' only rights: read and delete the broker pods, read and patch the phase ConfigMap."""
    return [
        {"apiGroups": [""], "resources": ["pods"], "resourceNames": [f"{names.kafka}-{i}" for i in range(brokers)], "verbs": ["get", "delete"]},
        {"apiGroups": [""], "resources": ["configmaps"], "resourceNames": [PHASE_CONFIGMAP], "verbs": ["get", "patch"]},
    ]


@dataclass
class AuthRoll:
    """The ConfigMap, the RBAC objects and the Jobs before and after the StatefulSet."""

    config_map: k8s.core.v1.ConfigMap
    access: tuple            # ServiceAccount, Role, RoleBinding
    begin: k8s.batch.v1.Job
    job_options: dict
    names: KafkaNames
    brokers: int
    roll: "k8s.batch.v1.Job | None" = None

    def _job(self, step: str, name: str, opts: pulumi.ResourceOptions, waits_for) -> k8s.batch.v1.Job:
        return kx.script_job(name, self.names.namespace, "kafka-admin", self.job_options["image"], auth_phase_script(),
                             auth_phase_env(step, self.names, self.brokers), kx.waiting_for(opts, (*self.access, self.config_map, *waits_for)),
                             READY_TIMEOUT_SECONDS * (self.brokers + 1), service_account=NAME,
                             **{k: v for k, v in self.job_options.items() if k != "image"})

    def add_roll(self, stateful_set: pulumi.Resource, opts: pulumi.ResourceOptions) -> k8s.batch.v1.Job:
        self.roll = self._job("roll", ROLL_JOB, opts, (stateful_set,))
        return self.roll

    def add_finish(self, clients, opts: pulumi.ResourceOptions) -> k8s.batch.v1.Job:
        """After every client (Spring services, kafka-ui) is Ready on SCRAM: PLAINTEXT closes."""
        return self._job("finish", FINISH_JOB, opts, (*((self.roll,) if self.roll else ()), *clients))


def auth_roll(names: KafkaNames, brokers: int, job_options: dict, waits_for, opts: pulumi.ResourceOptions) -> AuthRoll:
    """The phase ConfigMap, the ServiceAccount and Role of the Jobs, and kafka-auth-begin (after `waits_for`:
    the SCRAM users). `job_options`: kx.script_job's keyword arguments plus `image`."""
    ns = names.namespace
    config_map = k8s.core.v1.ConfigMap(
        PHASE_CONFIGMAP, metadata=kx.metadata(PHASE_CONFIGMAP, ns, "kafka"), data={PHASE_KEY: SCRAM_ONLY},
        # The Jobs own the phase after creation (see the module's docstring).
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(ignore_changes=["data"])),
    )
    account = k8s.core.v1.ServiceAccount(NAME, metadata=kx.metadata(NAME, ns, "kafka-admin"), automount_service_account_token=False, opts=opts)
    role = k8s.rbac.v1.Role(NAME, metadata=kx.metadata(NAME, ns, "kafka-admin"), rules=role_rules(names, brokers), opts=opts)
    binding = k8s.rbac.v1.RoleBinding(
        NAME, metadata=kx.metadata(NAME, ns, "kafka-admin"),
        role_ref=k8s.rbac.v1.RoleRefArgs(api_group="rbac.authorization.k8s.io", kind="Role", name=NAME),
        subjects=[k8s.rbac.v1.SubjectArgs(kind="ServiceAccount", name=NAME, namespace=ns)],
        opts=kx.waiting_for(opts, (role, account)),
    )
    roll = AuthRoll(config_map, (account, role, binding), None, job_options, names, brokers)  # type: ignore[arg-type]
    roll.begin = roll._job("begin", BEGIN_JOB, opts, tuple(waits_for))
    return roll
