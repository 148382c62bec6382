"""The Kafka workloads of a stack in the middle of the ZooKeeper -> KRaft migration (components), in the
order migration_plan.py describes: the gate Job, ZooKeeper (until finalize), the dedicated controllers,
the brokers, the check Job. Outside a migration __main__ builds the plain ZooKeeper or KRaft shape."""

from __future__ import annotations

from typing import Optional

import pulumi

from .. import k8s as kx
from ..config import Kafka as KafkaConfig
from ..names import KafkaNames
from .cluster import KafkaCluster, KafkaImages
from .controllers import KafkaControllers
from .migration_job import migration_job
from .migration_plan import MigrationStep, broker_extra_env, controller_extra_env
from .zookeeper import ZooKeeper


def migration_workloads(step: MigrationStep, cfg: KafkaConfig, names: KafkaNames, zookeeper_ip: Optional[str], bootstrap_ip: str,
                        images: KafkaImages, guards: tuple[pulumi.Resource, ...], cluster_id: pulumi.Input[str],
                        opts: pulumi.ResourceOptions, zookeeper_args: dict, kafka_args: dict,
                        ) -> tuple[tuple[pulumi.Resource, ...], KafkaCluster, Optional[pulumi.Resource]]:
    """(the metadata quorum's workloads, the brokers, the check Job) of `step`; `zookeeper_args` and
    `kafka_args`: what __main__ gives those components in any mode (logins, secrets)."""
    # The previous step's result, on the cluster itself, before anything of this step rolls.
    gate = migration_job(names.migration_gate, step.gate, cfg, names, images, kx.waiting_for(opts, guards))
    zookeeper = (ZooKeeper("zookeeper", cfg, names, zookeeper_ip, images, guards, opts, **zookeeper_args),) if step.zookeeper else ()
    controllers = KafkaControllers("kafka-controllers", step.kraft_view, names, images, cluster_id, (*guards, gate, *zookeeper), opts,
                                   extra_env=controller_extra_env(step, names))
    kafka = KafkaCluster(
        "kafka", step.kraft_view if step.brokers_kraft else cfg, names, bootstrap_ip, images,
        brokers_wait_for=(*zookeeper, controllers, gate), storage_guard=guards, cluster_id=cluster_id, opts=opts,
        extra_env=broker_extra_env(step, cfg, names), **kafka_args,
    )
    check = migration_job(names.migration_check, step.check, cfg, names, images, kx.waiting_for(opts, (kafka,))) if step.check else None
    return (*zookeeper, controllers), kafka, check
