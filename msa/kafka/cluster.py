"""ZooKeeper and Kafka (cp-zookeeper / cp-kafka 7.9.x, the last line with ZooKeeper mode), and kafka-ui.

In KRaft mode (`msa:kafka.mode: kraft`) there is no ZooKeeper: the brokers run kraft.py's settings
and the controllers are the first broker pods (combined) or controllers.py's StatefulSet.

The broker configuration is computed by pure functions in settings.py and tested on its own;
these components only place it into StatefulSets.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Optional, Sequence

import pulumi
import pulumi_kubernetes as k8s

from .. import k8s as kx
from ..config import Kafka as KafkaConfig
from ..names import CONTROLLER_PORT, KAFKA_PORT, UI_AUTH_SUFFIX, KafkaNames
from .jobs import REASSIGN_TIMEOUT_SECONDS, drain_env, drain_script, rebalance_env, rebalance_script
from .auth_roll import AuthRoll, auth_roll
from .broker_auth import broker_phase, zookeeper_phase
from .broker_pod import broker_container, phase_volume
from .client_auth import CLIENT_CONFIG, UI_JAAS_ENV, ClientSecret, client_settings
from .jobs import zookeeper_acl_migration_script
from .kraft_auth import KraftLogin
from .kraft_scram import kraft_broker_scram, kraft_users_job
from .scram import maybe_broker_scram
from .tls import maybe_broker_tls
from .tls_settings import truststore_inline_properties
from .zookeeper_auth import BrokerLogin, acl_migration_env, broker_zookeeper_login
from .storage import claim_names

# Label of the Jobs that administer Kafka (NetworkPolicies admit app.kubernetes.io/component=kafka-admin).
ADMIN_COMPONENT = "kafka-admin"
# cp-* images run as appuser (uid/gid 1000); the PVC must be writable by that group.
CP_USER = 1000


def _pod_security() -> k8s.core.v1.PodSecurityContextArgs:
    return kx.restricted_pod_security(CP_USER, fs_group=CP_USER)


def _container_security() -> k8s.core.v1.SecurityContextArgs:
    # The entrypoint writes the image itself (below): the root filesystem stays writable.
    return kx.restricted_container_security(read_only_root=False)


def cp_checkov_skips(image: kx.PodImage, what: str, writes: Optional[str] = None, extra: Optional[dict[str, str]] = None) -> dict[str, str]:
    """The restricted-profile checks a workload on a cp-* image fails on purpose, and why (checkov.io/skip):
    `writes` says what writes the image's own files (no read-only root filesystem), `extra` adds others.
    The tag-only exceptions apply only with msa:harbor.mirror: off and a configured tag without digest."""
    skips = {"CKV_K8S_40": f"the cp images run as appuser (uid {CP_USER}) which owns the folders their scripts write", **(extra or {})}
    if writes:
        skips["CKV_K8S_22"] = writes
    return kx.checkov_skips({**skips, **image.checkov_skips(what)})


@dataclass(frozen=True)
class KafkaImages:
    """The images of the Kafka components as pods pull them (mirrored into Harbor: images/mirror.py)."""

    kafka: kx.PodImage
    zookeeper: kx.PodImage
    ui: Optional[kx.PodImage] = None


ENTRYPOINT_WRITES = "the cp entrypoint (/etc/confluent/docker/configure) renders its properties into the image's /etc at every start"
TOOLS_WRITE = "the Kafka tools' start script (kafka-run-class) creates its log folder inside the image"


def _cp_stateful_set(name: str, namespace: str, component: str, replicas: int, headless: str, image: kx.PodImage, what: str,
                     container: k8s.core.v1.ContainerArgs, claim: k8s.core.v1.PersistentVolumeClaimArgs,
                     termination_grace: int, opts: pulumi.ResourceOptions,
                     volumes: Optional[list[k8s.core.v1.VolumeArgs]] = None, skips: Optional[dict[str, str]] = None) -> k8s.apps.v1.StatefulSet:
    """A cp-* StatefulSet: one container as appuser, per-pod DNS through `headless`, data on a claim.

    Drift on volumeClaimTemplates is ignored: pulumi-kubernetes would replace the whole StatefulSet
    (every pod down at once) and existing PVCs would keep their size anyway; `grow_claims` grows them.
    """
    return k8s.apps.v1.StatefulSet(
        name,
        metadata=kx.metadata(name, namespace, component, annotations=cp_checkov_skips(image, what, ENTRYPOINT_WRITES, skips)),
        spec=k8s.apps.v1.StatefulSetSpecArgs(
            replicas=replicas,
            service_name=headless,
            # All members start together: a ZooKeeper ensemble needs its peers to elect a leader, and
            # brokers gain nothing from waiting for each other.
            pod_management_policy="Parallel",
            # Parallel affects scaling only: an update still replaces one pod at a time, the next one
            # only after the previous one is Ready (in sync / a voting member: see the probes).
            update_strategy=k8s.apps.v1.StatefulSetUpdateStrategyArgs(type="RollingUpdate"),
            selector=k8s.meta.v1.LabelSelectorArgs(match_labels=kx.selector_labels(name)),
            template=k8s.core.v1.PodTemplateSpecArgs(
                metadata=k8s.meta.v1.ObjectMetaArgs(labels=kx.labels(name, component)),
                spec=kx.pod_spec(
                    security_context=_pod_security(),
                    termination_grace_period_seconds=termination_grace,
                    image_pull_secrets=image.pull_secrets,
                    containers=[container],
                    volumes=volumes,
                ),
            ),
            volume_claim_templates=[claim],
        ),
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(ignore_changes=["spec.volumeClaimTemplates"])),
    )


def grow_claims(statefulset: k8s.apps.v1.StatefulSet, name: str, namespace: str, replicas: int, storage_class: str,
                size: str, opts: pulumi.ResourceOptions) -> list[k8s.core.v1.PersistentVolumeClaimPatch]:
    """Set each claim's requested size through the API (server-side apply), after the StatefulSet. Needs a
    StorageClass with allowVolumeExpansion to grow; the same size is a no-op.

    A Patch resource is a server-side apply, and an apply of an object that does not exist *creates* it
    (pulumi-kubernetes await.go: Patch resources always apply). The claim need not exist yet: the preview
    of a scale-up (a dry run, nothing was created), an `up` whose StatefulSet was not awaited
    (`pulumi.com/skipAwait`, or pods still starting). A patch of the size alone then fails (`spec.accessModes:
    Required value`). So each patch declares the whole claim the StatefulSet controller would create from
    its template (`claim`: access modes, class, size; the selector labels the controller adds): a missing
    claim is created exactly so, and the controller uses it for the pod; on an existing claim the equal
    fields change nothing (server-side apply shares equal values) and only the size moves.

    retain_on_delete: when a patch goes (brokers 3 -> 1), the provider would hand back its fields, and after
    a growth the patch is the only owner of the size, which the API server refuses to drop
    (`spec.resources[storage]: Required value`). The claim stays, as the StatefulSet leaves it on a scale-down.
    """
    return [
        k8s.core.v1.PersistentVolumeClaimPatch(
            claim,
            metadata=k8s.meta.v1.ObjectMetaPatchArgs(
                name=claim, namespace=namespace, labels=kx.selector_labels(name),
                # The StatefulSet controller created the claim and owns the size: take it over.
                annotations={"pulumi.com/patchForce": "true"},
            ),
            spec=k8s.core.v1.PersistentVolumeClaimSpecPatchArgs(
                access_modes=kx.CLAIM_ACCESS_MODES,
                # "" = the cluster's default class: left out, as in the StatefulSet's template.
                storage_class_name=storage_class or None,
                resources=k8s.core.v1.VolumeResourceRequirementsPatchArgs(requests={"storage": size}),
            ),
            opts=pulumi.ResourceOptions.merge(kx.waiting_for(opts, (statefulset,)), pulumi.ResourceOptions(retain_on_delete=True)),
        )
        for claim in claim_names(name, replicas)
    ]


class KafkaCluster(pulumi.ComponentResource):
    """`brokers` cp-kafka brokers in a StatefulSet, a headless Service for per-broker DNS and a
    bootstrap Service with a fixed address for clients."""

    def __init__(self, name: str, cfg: KafkaConfig, names: KafkaNames, bootstrap_ip: str, images: KafkaImages,
                 brokers_wait_for: tuple[pulumi.Resource, ...] = (), storage_guard: tuple[pulumi.Resource, ...] = (),
                 admin_secret: Optional[ClientSecret] = None, opts: Optional[pulumi.ResourceOptions] = None,
                 auth_seed: Optional[pulumi.Input[str]] = None, scram_users: Sequence[str] = (),
                 cluster_id: Optional[pulumi.Input[str]] = None,
                 extra_env: Optional[dict[str, str]] = None, kraft_login: Optional[KraftLogin] = None,
                 tls_ca: Optional[pulumi.Input[str]] = None, tls_ca_certificate: str = ""):
        super().__init__("msa:kafka:KafkaCluster", name, {"brokers": cfg.brokers, "image": cfg.image}, opts)
        child = kx.child_options(self, opts)
        ns, component = names.namespace, "kafka"
        # The brokers' SASL login to ZooKeeper (zookeeper_auth.py; zookeeper.set.acl steps with the listeners'
        # phase: broker_auth.phase_vars). KRaft: no ZooKeeper to log in to.
        login_phase = "open" if cfg.kraft else zookeeper_phase(broker_phase(names.sasl))
        self.zookeeper_login = login = broker_zookeeper_login(login_phase, auth_seed, ns, child)
        pod_ports = self._services(cfg, names, bootstrap_ip, child)
        job_options = dict(security_context=_pod_security(), annotations=cp_checkov_skips(images.kafka, cfg.image, TOOLS_WRITE),
                           pull_secrets=images.kafka.pull_secrets)
        # SCRAM (scram.py): the brokers' own login and every user's credential, in ZooKeeper before the brokers change.
        self.tls = tls = maybe_broker_tls(cfg.tls, names, bootstrap_ip, tls_ca, tls_ca_certificate, child)  # msa:kafka.tls (tls.py)
        self.scram = scram = _brokers_scram(cfg, names, list(scram_users), auth_seed, images, job_options,
                                            kx.waiting_for(child, (*brokers_wait_for, *login.waits_for)), login, kraft_login,
                                            tls_ca_certificate if tls else "")
        # A running open cluster's move to SCRAM in this one up (auth_roll.py, ZooKeeper mode).
        self.auth = _auth_roll(cfg, names, images, job_options, scram, child)
        container = broker_container(cfg, names, images.kafka.ref, scram, login, pod_ports, _container_security(), cluster_id,
                                     extra_env, kraft_login if cfg.kraft and names.sasl else None, tls.mount if tls else None)
        # Day two: replicas leave the brokers that go away before the StatefulSet changes, and are
        # spread over every broker after it is ready (see jobs.py; both are no-ops when nothing moves).
        # With authentication both log in as the admin user (its client.properties, mounted read-only).
        admin = _admin_login(admin_secret)
        self.drain = kx.script_job(
            names.drain, ns, ADMIN_COMPONENT, images.kafka.ref, drain_script(), drain_env(cfg, names, admin.config),
            kx.waiting_for(child, (*brokers_wait_for, self.headless, self.bootstrap, *admin.waits_for, *(scram.waits_for if scram else ()))),
            REASSIGN_TIMEOUT_SECONDS, volumes=admin.volumes, **job_options,
        )
        self.stateful_set = _cp_stateful_set(
            names.kafka, ns, component, cfg.brokers, names.kafka_headless, images.kafka, cfg.image, container,
            kx.data_claim("data", cfg.storage_class, cfg.storage_size), termination_grace=60, skips=kx.SECRET_ENV_SKIP if scram else None,
            opts=kx.waiting_for(child, (*brokers_wait_for, self.drain, *storage_guard, *login.waits_for, *(scram.waits_for if scram else ()),
                                        *((tls.secret,) if tls else ()), *((self.auth.begin,) if self.auth else ()))),
            volumes=[*login.volumes, *(scram.volumes if scram else ()), *((tls.volume,) if tls else ()), *((phase_volume(),) if self.auth else ())],
        )
        brokers_rolled = (self.auth.add_roll(self.stateful_set, child),) if self.auth else (self.stateful_set,)
        self.claims = grow_claims(self.stateful_set, names.kafka, ns, cfg.brokers, cfg.storage_class, cfg.storage_size, child)
        if cfg.kraft and names.sasl:
            # Every other user, through the brokers as admin, once they are ready (kraft_scram.py).
            job = kraft_users_job(list(scram_users), names, auth_seed, images.kafka, admin_secret, job_options,
                                  kx.waiting_for(child, (self.stateful_set, *brokers_wait_for)))
            self.scram = scram = dataclasses.replace(scram, users_job=job)
        self.rebalance = kx.script_job(
            names.rebalance, ns, ADMIN_COMPONENT, images.kafka.ref, rebalance_script(),
            rebalance_env(cfg, names, admin.config), kx.waiting_for(child, (self.stateful_set, *admin.waits_for)),
            REASSIGN_TIMEOUT_SECONDS, volumes=admin.volumes, **job_options,
        )
        if login.sets_acls:
            # Once every broker sets ACLs: the znodes created before get them too (a no-op on a new cluster).
            self.acl_migration = _acl_migration_job(cfg, names, images, login, kx.waiting_for(child, brokers_rolled))
        if cfg.brokers >= 3:
            self.disruption_budget = kx.pod_disruption_budget(names.kafka, ns, component, names.kafka, child)
        self.register_outputs({"bootstrapServers": names.bootstrap_servers})

    def _services(self, cfg: KafkaConfig, names: KafkaNames, bootstrap_ip: str, child: pulumi.ResourceOptions) -> list:
        """The headless Service (per-broker DNS) and the bootstrap Service (fixed address); the pods' ports."""
        # With authentication the SCRAM listener is the clients' (names.client_port); the open port stays on
        # the Services for the move of a running open cluster (auth_roll.py), nothing listens on it after.
        # The open port first: a Service an open cluster created keeps 9092 where it was, so the server's merge of
        # the ports (keyed by port number) gives back this order and the next up sees no difference.
        ports = [*([kx.port("plaintext", KAFKA_PORT)] if names.sasl else []), kx.port("kafka", names.client_port)]
        # KRaft combined: the pods' controller port on the headless Service too (the voters' addresses are its pod names).
        pod_ports = [*ports, *([kx.port("controller", CONTROLLER_PORT)] if cfg.kraft and cfg.is_combined else [])]
        self.headless = kx.headless_service(names.kafka_headless, names.namespace, "kafka", pod_ports, names.kafka, child)
        self.bootstrap = kx.cluster_ip_service(names.bootstrap, names.namespace, "kafka", bootstrap_ip, ports, names.kafka, child)
        return pod_ports

    @property
    def clients_wait_for(self) -> tuple[pulumi.Resource, ...]:
        """What Kafka's clients (Spring services, kafka-ui) wait for: with SCRAM their users exist first, and
        every broker has the SCRAM listener (kafka-auth-roll: a running open cluster's second roll is done)."""
        if self.scram is None:
            return ()
        return (self.scram.users_job, *((self.auth.roll,) if self.auth and self.auth.roll else ()))

    def finish_authentication(self, clients: Sequence[pulumi.Resource], opts: pulumi.ResourceOptions) -> tuple[pulumi.Resource, ...]:
        """kafka-auth-finish after `clients` (every Kafka client of the stack): PLAINTEXT closes. () when open."""
        if self.auth is None:
            return ()
        return (self.auth.add_finish(clients, kx.child_options(self, opts)),)


def _brokers_scram(cfg: KafkaConfig, names: KafkaNames, users: list[str], seed: Optional[pulumi.Input[str]], images: KafkaImages,
                   job_options: dict, opts: pulumi.ResourceOptions, login: BrokerLogin, kraft_login: Optional[KraftLogin],
                   ca_certificate: str = ""):
    """The brokers' SCRAM login (None when open). ZooKeeper mode: with the kafka-scram-users Job before the brokers.
    KRaft: from kraft_login's broker Secret; its users Job follows the brokers (KafkaCluster)."""
    if cfg.kraft and names.sasl:
        if kraft_login is None:
            raise ValueError("KRaft brokers with authentication need their login (kraft_auth.kraft_login)")
        return kraft_broker_scram(kraft_login)
    # The Job logs in to ZooKeeper once the brokers set ACLs (before, its znodes stay open like theirs,
    # readable by brokers not rolled yet).
    return maybe_broker_scram(users, names, seed, images.kafka, job_options, opts,
                              (login.env, tuple(zip(login.volumes, login.mounts))) if login.sets_acls else ((), ()), ca_certificate)


def _auth_roll(cfg: KafkaConfig, names: KafkaNames, images: KafkaImages, job_options: dict, scram, opts: pulumi.ResourceOptions) -> Optional[AuthRoll]:
    if scram is None or cfg.kraft:       # KRaft authenticates from its first start or not at all (cluster_id.py)
        return None
    skips = cp_checkov_skips(images.kafka, cfg.image, TOOLS_WRITE, {
        "CKV_K8S_38": "the Job restarts broker pods through the API with its own ServiceAccount (Role: those pods and one ConfigMap)"})
    return auth_roll(names, cfg.brokers, {**job_options, "image": images.kafka.ref, "annotations": skips}, (scram.users_job,), opts)


def _acl_migration_job(cfg: KafkaConfig, names: KafkaNames, images: KafkaImages, login: BrokerLogin, opts: pulumi.ResourceOptions) -> k8s.batch.v1.Job:
    return kx.script_job(
        names.zookeeper_acl_migration, names.namespace, ADMIN_COMPONENT, images.kafka.ref, zookeeper_acl_migration_script(),
        acl_migration_env(names.zookeeper_connect), opts, timeout_seconds=900,
        security_context=_pod_security(), annotations=cp_checkov_skips(images.kafka, cfg.image, TOOLS_WRITE),
        pull_secrets=images.kafka.pull_secrets, volumes=tuple(zip(login.volumes, login.mounts)),
    )


@dataclass(frozen=True)
class _AdminLogin:
    config: Optional[str]                   # the client.properties path the scripts pass to every tool
    volumes: tuple = ()                     # (volume, mount) for kx.script_job
    waits_for: tuple = ()


def _admin_login(secret: Optional[ClientSecret]) -> _AdminLogin:
    if secret is None:
        return _AdminLogin(None)
    return _AdminLogin(CLIENT_CONFIG, ((secret.config_volume(), secret.config_mount()),), (secret.secret,))


# kafka-ui reads its login from files (Spring Boot config tree): the password never sits in an env var
# (where /proc/<pid>/environ, crash reports and `kubectl describe` would show it).
UI_AUTH_MOUNT = "/etc/kafka-ui/auth"
UI_USER_KEY, UI_PASSWORD_KEY = "spring.security.user.name", "spring.security.user.password"


def kafka_ui_env(cfg: KafkaConfig, names: KafkaNames, ca_certificate: str = "") -> dict[str, str]:
    """kafbat kafka-ui's settings (pure): the cluster, the login form, read-only mode."""
    env = {
        "KAFKA_CLUSTERS_0_NAME": names.namespace,
        "KAFKA_CLUSTERS_0_BOOTSTRAPSERVERS": names.bootstrap_servers,
    }
    if cfg.ui.read_only:
        env["KAFKA_CLUSTERS_0_READONLY"] = "true"
    # msa:kafka.authentication: sasl: protocol and mechanism here, the JAAS line from kafka-ui's own
    # Secret (client_auth.UI_JAAS_ENV); kafbat binds KAFKA_CLUSTERS_0_PROPERTIES_* to the clients' properties.
    trust = truststore_inline_properties(ca_certificate) if cfg.tls else {}
    for key, value in {**client_settings(cfg), **trust}.items():
        env["KAFKA_CLUSTERS_0_PROPERTIES_" + key.replace(".", "_").upper()] = value
    if cfg.ui.login:
        env["AUTH_TYPE"] = "LOGIN_FORM"
        # Not `optional:`: a missing login must stop kafka-ui, not open it.
        env["SPRING_CONFIG_IMPORT"] = f"configtree:{UI_AUTH_MOUNT}/"
    return env


class KafkaUi(pulumi.ComponentResource):
    """kafbat/kafka-ui (the maintained fork of provectus/kafka-ui), behind a login form or read-only,
    on a NodePort or ClusterIP only."""

    def __init__(self, name: str, cfg: KafkaConfig, names: KafkaNames, cluster_ip: str, node_port: Optional[int], image: kx.PodImage,
                 password: Optional[pulumi.Input[str]] = None, client_secret: Optional[ClientSecret] = None,
                 opts: Optional[pulumi.ResourceOptions] = None, ca_certificate: str = ""):
        super().__init__("msa:kafka:KafkaUi", name, {"image": cfg.ui.image}, opts)
        child = kx.child_options(self, opts)
        ns, component, http = names.namespace, "kafka-ui", 8080
        self.service = kx.cluster_ip_service(
            names.ui, ns, component, cluster_ip, [kx.port("http", http, node_port)], names.ui, child
        )
        volumes, mounts, waits_for = self._login(cfg, names, password, child)
        env = kx.env(kafka_ui_env(cfg, names, ca_certificate))
        if client_secret is not None:
            env.append(client_secret.jaas_env(UI_JAAS_ENV))
            waits_for.append(client_secret.secret)
        self.deployment = k8s.apps.v1.Deployment(
            names.ui,
            metadata=kx.metadata(names.ui, ns, component, annotations=kx.checkov_skips({**image.checkov_skips(cfg.ui.image),
                                                                                   **(kx.SECRET_ENV_SKIP if client_secret is not None else {})})),
            spec=k8s.apps.v1.DeploymentSpecArgs(
                replicas=1,
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=kx.selector_labels(names.ui)),
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(labels=kx.labels(names.ui, component)),
                    spec=kx.pod_spec(
                        # fsGroup: the Secret's files (mode 0440) are readable by the pod's group.
                        security_context=kx.restricted_pod_security(cfg.ui.run_as_user, fs_group=cfg.ui.run_as_user),
                        volumes=volumes,
                        image_pull_secrets=image.pull_secrets,
                        containers=[k8s.core.v1.ContainerArgs(
                            name="kafka-ui",
                            image=image.ref,
                            image_pull_policy=kx.PULL_POLICY,
                            env=env,
                            ports=[k8s.core.v1.ContainerPortArgs(name="http", container_port=http)],
                            startup_probe=kx.http_probe("/actuator/health", http, period=5, failures=36),
                            readiness_probe=kx.http_probe("/actuator/health", http, period=10, failures=3),
                            liveness_probe=kx.http_probe("/actuator/health", http, period=10, failures=3),
                            resources=k8s.core.v1.ResourceRequirementsArgs(
                                requests={"cpu": "100m", "memory": "384Mi"}, limits={"cpu": "1", "memory": "768Mi"}
                            ),
                            security_context=kx.restricted_container_security(read_only_root=True),
                            volume_mounts=mounts,
                        )],
                    ),
                ),
            ),
            opts=kx.waiting_for(child, waits_for),
        )
        self.register_outputs({})

    def _login(self, cfg: KafkaConfig, names: KafkaNames, password: Optional[pulumi.Input[str]], child: pulumi.ResourceOptions):
        """The login form's Secret, mounted as a config tree: (volumes, mounts, what the pods wait for)."""
        volumes, mounts, waits_for = [kx.TMP_VOLUME], [kx.TMP_MOUNT], []
        if not cfg.ui.login:
            return volumes, mounts, waits_for
        if password is None:
            raise ValueError("kafka-ui login without msa:kafkaUiPassword (config.check_secrets_present stops this earlier)")
        # Auto-named and immutable like the pull secret: a new password is a new Secret and a rollout.
        self.auth = k8s.core.v1.Secret(
            names.ui + UI_AUTH_SUFFIX,
            metadata=kx.metadata(names.ui + UI_AUTH_SUFFIX, names.namespace, "kafka-ui", autonamed=True),
            immutable=True,
            string_data={UI_USER_KEY: cfg.ui.username, UI_PASSWORD_KEY: pulumi.Output.secret(password)},
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(additional_secret_outputs=["data", "stringData"])),
        )
        volumes.append(k8s.core.v1.VolumeArgs(name="auth", secret=k8s.core.v1.SecretVolumeSourceArgs(
            secret_name=self.auth.metadata.name, default_mode=0o440)))
        mounts.append(k8s.core.v1.VolumeMountArgs(name="auth", mount_path=UI_AUTH_MOUNT, read_only=True))
        waits_for.append(self.auth)
        return volumes, mounts, waits_for
