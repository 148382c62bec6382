"""msa: a Spring Cloud system on a private Kubernetes cluster, with its images and nodes.

    stack config ─▶ validated config ─▶ address plan
                                            │
    nodes (containerd trusts Harbor) ◀──────┤
    images (built for the nodes, in Harbor) │
    ZooKeeper ─▶ Kafka (+ kafka-ui)         │
    discovery · config · gateway · user · store  (Eureka clients on fixed ClusterIPs)
"""

from pathlib import Path

import pulumi
import pulumi_kubernetes as k8s

from components import config, plan
from components.errors import ConfigError
from components.images import PULL_SECRET, HarborImage, harbor_pull_secret, image_plan
from components.kafka import KafkaCluster, KafkaNames, KafkaUi, ZooKeeper
from components.nodes import setup_nodes
from components.spring import SpringService, SpringServiceArgs, config_repo_map
from components.spring_settings import directory_for, spring_application_json, spring_settings

PROJECT_DIR = Path(__file__).resolve().parent

# Every configuration mistake stops the program here, before a single resource is registered.
try:
    cfg, secrets = config.load(PROJECT_DIR)
    kafka_names = KafkaNames(namespace=cfg.namespace, cluster_domain=cfg.cluster.cluster_domain)
    addresses = plan.address_plan(cfg, kafka_names)
    config_repo = plan.config_repo_files(cfg, PROJECT_DIR)
    images = {name: image_plan(name, svc, cfg.harbor, cfg.cluster.platform, PROJECT_DIR) for name, svc in cfg.services.items()}
except ConfigError as error:
    raise pulumi.RunError(str(error)) from None
for warning in addresses.warnings:
    pulumi.log.warn(warning)

namespace = k8s.core.v1.Namespace("namespace", metadata=k8s.meta.v1.ObjectMetaArgs(name=cfg.namespace))
in_namespace = pulumi.ResourceOptions(depends_on=[namespace])

# Nodes first: a pod that pulls from Harbor before its node trusts Harbor sits in ImagePullBackOff.
nodes = setup_nodes(cfg.cluster, cfg.harbor, secrets)
harbor_images = {name: HarborImage(f"image-{name}", p, cfg.harbor, secrets) for name, p in images.items()}
pull_secret = harbor_pull_secret(cfg.namespace, cfg.harbor, secrets, in_namespace)

# cp-kafka's start script gives up when ZooKeeper does not answer within its timeout, so the brokers
# wait for the ensemble instead of crash-looping through back-off delays.
zookeeper = ZooKeeper("zookeeper", cfg.kafka, kafka_names, addresses.cluster_ip(kafka_names.zookeeper), in_namespace)
kafka = KafkaCluster(
    "kafka", cfg.kafka, kafka_names, addresses.cluster_ip(kafka_names.bootstrap),
    brokers_wait_for=(zookeeper,), opts=in_namespace,
)
if cfg.kafka.ui.enabled:
    KafkaUi("kafka-ui", cfg.kafka, kafka_names, addresses.cluster_ip(kafka_names.ui), addresses.node_ports.get(kafka_names.ui), in_namespace)

# The Spring services do not wait for each other: Eureka clients retry registration and config
# clients import `optional:configserver:`, so all five roll out in parallel. They do wait for the
# nodes (image pulls) and the pull secret; their image reference carries the build as a dependency.
directory = directory_for(cfg, kafka_names.bootstrap_servers)
(config_service,) = cfg.by_role("config")
config_map = config_repo_map(cfg.namespace, config_repo, in_namespace)
pods_wait_for = (*nodes, *([pull_secret] if pull_secret else []))
for name, svc in cfg.services.items():
    cluster_ip = addresses.cluster_ip(name)
    SpringService(name, SpringServiceArgs(
        name=name,
        namespace=cfg.namespace,
        service=svc,
        cluster_ip=cluster_ip,
        node_port=addresses.node_ports.get(name),
        settings_json=spring_application_json(spring_settings(name, svc, cfg, cluster_ip, directory)),
        image=harbor_images[name].ref,
        pull_secret=PULL_SECRET if pull_secret else None,
        config_map=config_map if name == config_service else None,
        pods_wait_for=pods_wait_for,
    ), in_namespace)

pulumi.export("namespace", cfg.namespace)
pulumi.export("clusterIPs", addresses.cluster_ips)
pulumi.export("nodePorts", addresses.node_ports)
pulumi.export("kafkaBootstrapServers", kafka_names.bootstrap_servers)
pulumi.export("images", {name: image.ref for name, image in harbor_images.items()})
