"""The migration's Jobs (components): the gate before a step's rolls and the check after them, each one run
of kafka-migration.sh in the cp-kafka image (the very script tests/integration/test_kraft_migration.py runs
against real servers). `pulumi up` waits for them and fails with their one line."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from .. import k8s as kx
from ..config import Kafka as KafkaConfig
from ..names import KafkaNames
from .migration import gate_script
from .migration_plan import GATE_TIMEOUT_SECONDS, gate_env
from .cluster import ADMIN_COMPONENT, TOOLS_WRITE, KafkaImages, _pod_security, cp_checkov_skips


def migration_job(name: str, check: str, cfg: KafkaConfig, names: KafkaNames, images: KafkaImages,
                  opts: pulumi.ResourceOptions) -> k8s.batch.v1.Job:
    return kx.script_job(
        name, names.namespace, ADMIN_COMPONENT, images.kafka.ref, gate_script(), dict(gate_env(cfg, names, check)), opts,
        GATE_TIMEOUT_SECONDS, security_context=_pod_security(), annotations=cp_checkov_skips(images.kafka, cfg.image, TOOLS_WRITE),
        pull_secrets=images.kafka.pull_secrets,
    )
