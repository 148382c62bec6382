"""msa: a Spring Cloud system on a private Kubernetes cluster, with its images and nodes.

    stack config ─▶ validated config ─▶ address plan
                                            │
    nodes (containerd trusts Harbor) ◀──────┤
    images (built for the nodes, in Harbor) │
    third-party images (copied into Harbor) │
    ZooKeeper or KRaft controllers ─▶ Kafka (+ kafka-ui)
    discovery · config · gateway · user · store  (Eureka clients on fixed ClusterIPs)
                                            │
    verification Job (waits for all of the above; fails `pulumi up` when the system does not work)
"""

from pathlib import Path

import pulumi
import pulumi_kubernetes as k8s
from pulumi.runtime.mocks import MockMonitor

from msa import config
from msa import k8s as kx
from msa.address_guard import AddressGuard
from msa.adoption import UPSERT_KEY, adoption_warnings
from msa.config import plan
from msa.config.providers import check_context
from msa.errors import ConfigError
from msa.images.harbor import HarborImage, harbor_pull_secret, image_plan, unpinned_warnings
from msa.images.mirror import MirroredImage
from msa.mirror_plan import mirror_plans
from msa.k8s import FORCE_APPLY
from msa.kafka.cluster import KafkaCluster, KafkaImages, KafkaUi
from msa.kafka.zookeeper import ZooKeeper
from msa.kafka.cluster_id import KafkaClusterId, auth_fingerprint, quorum_settings
from msa.kafka.controllers import KafkaControllers
from msa.kafka.kraft_auth import kraft_login as kraft_login_of
from msa.kafka.migration_plan import migration_step
from msa.kafka.migration_stack import migration_workloads
from msa.kafka.auth_guard import AuthenticationGuard
from msa.kafka.tls_guard import TlsGuard
from msa.kafka.broker_auth import broker_phase
from msa.kafka.scram import scram_users
from msa.kafka.storage import StorageGuard, storage_settings
from msa.kafka.client_auth import kafka_client_secrets
from msa.names import KAFKA_ADMIN_USER, KAFKA_UI_USER
from msa.network import network_policies, policy_plan
from msa.nodes.containerd import setup_nodes
from msa.spring.service import SpringService, SpringServiceArgs, config_repo_map
from msa.spring.settings import directory_for, spring_application_json, spring_settings
from msa.verify.job import Verification, VerificationArgs, verification_inputs
from msa.verify.spec import verification_spec

PROJECT_DIR = Path(__file__).resolve().parent

# Every configuration mistake stops the program here, before a single resource is registered.
try:
    cfg, secrets = config.load(PROJECT_DIR)
    if not isinstance(pulumi.runtime.settings.get_monitor(), MockMonitor):
        # preview/up only: the offline render needs no kubeconfig. A context the kubeconfig lacks would
        # otherwise fail late in the provider, or (no context set) deploy to the current one.
        # Read raw: kubernetes:kubeconfig may be a secret (its text), and Config.get would warn about that.
        check_context({key: pulumi.runtime.get_config(f"kubernetes:{key}") for key in ("context", "kubeconfig")})
    kafka_names = plan.kafka_names(cfg)
    addresses = plan.address_plan(cfg, kafka_names)
    config_repo = plan.config_repo_files(cfg, PROJECT_DIR)
    images = {name: image_plan(name, svc, cfg.harbor, cfg.cluster.platform, PROJECT_DIR) for name, svc in cfg.services.items()}
    mirrors = mirror_plans(cfg, PROJECT_DIR)
except ConfigError as error:
    raise pulumi.RunError(str(error)) from None
# The provider compares the text with "true" (provider.go), so the warning does too.
adoption_run = pulumi.Config("kubernetes").get(UPSERT_KEY) == "true"
for warning in [*addresses.warnings, *config.host_key_warnings(cfg), *adoption_warnings(adoption_run), *unpinned_warnings(images)]:
    pulumi.log.warn(warning)

namespace = k8s.core.v1.Namespace("namespace", metadata=k8s.meta.v1.ObjectMetaArgs(name=cfg.namespace, annotations=FORCE_APPLY))
# A change of an existing Service's ClusterIP is refused (msa/address_guard.py) before anything in the
# namespace changes: every Service waits for the guard.
address_guard = AddressGuard("address-guard", addresses.cluster_ips, cfg.allow_address_change)
in_namespace = pulumi.ResourceOptions(depends_on=[namespace, address_guard])
# Deny every ingress, then admit exactly the flows the system uses (needs an enforcing CNI).
network_policies(cfg.namespace, policy_plan(cfg, kafka_names, addresses.node_ports), in_namespace)

# Nodes first: a pod that pulls from Harbor before its node trusts Harbor sits in ImagePullBackOff.
nodes = setup_nodes(cfg.cluster, cfg.harbor, secrets)
harbor_images = {name: HarborImage(f"image-{name}", p, cfg.harbor, secrets) for name, p in images.items()}
pull_secret = harbor_pull_secret(cfg.namespace, cfg.harbor, secrets, in_namespace)

# Third-party images come from Harbor by digest too: copied there first (the workloads' image
# reference is the copy's output, so they wait for it), or resolved through Harbor's proxy cache.
mirrored = {role: MirroredImage(f"mirror-{role}", p, cfg.harbor, secrets, PROJECT_DIR) for role, p in mirrors.items()}


def pod_image(role: str) -> kx.PodImage:
    plan = mirrors[role]
    from_harbor = plan.mode != "off" or plan.repository.startswith(f"{cfg.harbor.host}/")
    return kx.PodImage(mirrored[role].ref, plan.pinned, f"msa:{plan.key} (image@sha256:...) or msa:harbor.mirror: copy",
                       pull_secret.metadata.name if pull_secret and from_harbor else None)


kafka_images = KafkaImages(kafka=pod_image("kafka"), zookeeper=pod_image("zookeeper"),
                           ui=pod_image("kafka-ui") if "kafka-ui" in mirrors else None)
# Pods that pull from Harbor wait for the nodes to trust it and for the pull Secret.
pods_wait_for = (*nodes, *([pull_secret] if pull_secret else []))
kafka_opts = pulumi.ResourceOptions(depends_on=[namespace, address_guard, *pods_wait_for])

# cp-kafka's start script gives up when ZooKeeper does not answer within its timeout, so the brokers
# wait for the ensemble instead of crash-looping through back-off delays.
# A storage change existing volumes cannot follow is refused before either StatefulSet changes.
storage_guard = StorageGuard("storage-guard", storage_settings(cfg.kafka))
# The KRaft cluster id, made once and kept in the state; it also refuses quorum changes a running
# cluster cannot follow (leaving ZooKeeper without the migration, new voters) before anything changes.
cluster_id = KafkaClusterId("kafka-cluster-id", quorum_settings(cfg.kafka), auth_fingerprint(cfg.kafka, secrets.kafka_auth_secret))
# A running cluster moves to authentication (in one up: kafka/auth_roll.py) and never back (kafka/auth_guard.py).
# After the cluster id's check: a KRaft cluster's own refusals (kafka/cluster_id.py) come alone, in one line.
auth_guard = AuthenticationGuard("authentication-guard", broker_phase(kafka_names.sasl), pulumi.ResourceOptions(depends_on=[cluster_id]))
# TLS switches the one listener's protocol: fixed once the cluster runs (kafka/tls_guard.py).
tls_guard = TlsGuard("tls-guard", cfg.kafka.tls, cfg.kafka.allow_tls_change)
guards = (storage_guard, cluster_id, auth_guard, tls_guard)
# msa:kafka.authentication: sasl: one Kafka user and Secret per client (msa/kafka/client_auth.py).
kafka_users = kafka_client_secrets(cfg, secrets.kafka_auth_secret, in_namespace, secrets.kafka_tls_ca_certificate)
zookeeper_args = {"auth_seed": secrets.kafka_auth_secret}
kafka_args = {"admin_secret": kafka_users.get(KAFKA_ADMIN_USER), "auth_seed": secrets.kafka_auth_secret, "scram_users": scram_users(cfg),
              # msa:kafka.tls: the CA signs the brokers' certificate (kafka/tls.py); its certificate is what clients trust.
              "tls_ca": secrets.kafka_tls_ca, "tls_ca_certificate": secrets.kafka_tls_ca_certificate}
# KRaft with authentication: the controller listener's login and the users written at format time (kafka/kraft_auth.py).
kraft_login = (kraft_login_of(secrets.kafka_auth_secret, cfg.namespace, kafka_users[KAFKA_ADMIN_USER].secret, in_namespace,
                              secrets.kafka_tls_ca_certificate if cfg.kafka.tls else "")
               if cfg.kafka.kraft and kafka_names.sasl else None)
# The migration from ZooKeeper, one step per `pulumi up` (msa/kafka/migration_plan.py), or the plain shape.
migration = migration_step(cfg.kafka)
migration_check = None
if migration:
    quorum, kafka, migration_check = migration_workloads(
        migration, cfg.kafka, kafka_names, addresses.cluster_ip(kafka_names.zookeeper) if migration.zookeeper else None,
        addresses.cluster_ip(kafka_names.bootstrap), kafka_images, guards, cluster_id.clusterId, kafka_opts, zookeeper_args, kafka_args)
else:
    if cfg.kafka.kraft:
        # KRaft: no ZooKeeper. Dedicated controllers first (brokers register with them), or none: combined.
        quorum = () if cfg.kafka.is_combined else (
            KafkaControllers("kafka-controllers", cfg.kafka, kafka_names, kafka_images, cluster_id.clusterId, guards, kafka_opts,
                             kraft_login=kraft_login),)
    else:
        quorum = (ZooKeeper("zookeeper", cfg.kafka, kafka_names, addresses.cluster_ip(kafka_names.zookeeper), kafka_images, guards,
                            kafka_opts, **zookeeper_args),)
    kafka = KafkaCluster(
        "kafka", cfg.kafka, kafka_names, addresses.cluster_ip(kafka_names.bootstrap), kafka_images,
        brokers_wait_for=quorum, storage_guard=guards, opts=kafka_opts, cluster_id=cluster_id.clusterId, kraft_login=kraft_login,
        **kafka_args,
    )
kafka_ui = None
if cfg.kafka.ui.enabled:
    kafka_ui = KafkaUi("kafka-ui", cfg.kafka, kafka_names, addresses.cluster_ip(kafka_names.ui), addresses.node_ports.get(kafka_names.ui),
                       kafka_images.ui, secrets.kafka_ui_password, kafka_users.get(KAFKA_UI_USER),
                       kx.waiting_for(kafka_opts, kafka.clients_wait_for), secrets.kafka_tls_ca_certificate)

# The Spring services do not wait for each other: Eureka clients retry registration and config
# clients import `optional:configserver:`, so all five roll out in parallel. They do wait for the
# nodes (image pulls) and the pull secret; their image reference carries the build as a dependency.
directory = directory_for(cfg, kafka_names.bootstrap_servers, secrets.kafka_tls_ca_certificate)
(config_service,) = cfg.by_role("config")
config_map = config_repo_map(cfg.namespace, config_repo, in_namespace)
spring_services = {}
for name, svc in cfg.services.items():
    cluster_ip = addresses.cluster_ip(name)
    spring_services[name] = SpringService(name, SpringServiceArgs(
        name=name,
        namespace=cfg.namespace,
        service=svc,
        cluster_ip=cluster_ip,
        node_port=addresses.node_ports.get(name),
        settings_json=spring_application_json(spring_settings(name, svc, cfg, cluster_ip, directory)),
        image=harbor_images[name].ref,
        image_pinned=images[name].pinned,
        pull_secret=pull_secret.metadata.name if pull_secret else None,
        config_map=config_map if name == config_service else None,
        pods_wait_for=pods_wait_for,
        kafka_secret=kafka_users.get(name) if svc.kafka else None,
    ), kx.waiting_for(in_namespace, kafka.clients_wait_for) if svc.kafka else in_namespace)
# Every Kafka client is Ready on SCRAM: a running cluster moving to authentication closes PLAINTEXT now.
kafka_clients = [s for name, s in spring_services.items() if cfg.services[name].kafka] + ([kafka_ui] if kafka_ui else [])
auth_finished = kafka.finish_authentication(kafka_clients, kafka_opts)

# Last: the proof that the system works, from inside the cluster. It waits for every workload and the
# nodes, and runs again whenever anything that can change its result changes.
if cfg.verify.enabled:
    spec = verification_spec(cfg, addresses, kafka_names, config_repo, {n: p.repository for n, p in images.items()}, kx.PART_OF)
    Verification("verification", VerificationArgs(
        namespace=cfg.namespace,
        verify=cfg.verify,
        spec=spec,
        image=kafka_images.kafka,
        # A new digest of any image (a build, or a third-party copy) is a reason to verify again.
        inputs=verification_inputs(spec, cfg, config_repo, {**{n: image.ref for n, image in harbor_images.items()},
                                                            **{f"mirror:{p.name}": mirrored[r].ref for r, p in mirrors.items()}}),
        waits_for=(*nodes, *quorum, kafka, *auth_finished, *([migration_check] if migration_check else []), *([kafka_ui] if kafka_ui else []), *spring_services.values(), config_map),
        admin_secret=kafka_users.get(KAFKA_ADMIN_USER),
    ), in_namespace)

pulumi.export("namespace", cfg.namespace)
pulumi.export("clusterIPs", addresses.cluster_ips)
pulumi.export("nodePorts", addresses.node_ports)
pulumi.export("kafkaBootstrapServers", kafka_names.bootstrap_servers)
pulumi.export("images", {name: image.ref for name, image in harbor_images.items()})
pulumi.export("mirroredImages", {plan.name: mirrored[role].ref for role, plan in mirrors.items()})
