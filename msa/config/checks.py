"""The rules that span several keys, run on the typed config once every key has its type: service
names and roles, Kafka overrides against Kafka's own property names and the broker count, Harbor's push mode, the address plan."""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import ConfigError
from ..mirror_plan import MirrorProblem, mirror_plans
from ..names import KAFKA_ADMIN_USER, KAFKA_BROKER_USER, reserved_names
from .kafka_names import override_problem
from .kafka_properties import broker_properties, is_confluent_server
from .model import Kafka, StackConfig
from .plan import address_plan, kafka_names
from .problems import did_you_mean


def check_stack(cfg: StackConfig, project_dir: Path) -> None:
    """Every cross-key rule, in the order a user fixes them: services first, the addresses last."""
    _check_services(cfg, project_dir)
    _check_kafka_overrides(cfg.kafka)
    _check_migration(cfg)
    _check_harbor(cfg)
    _check_mirror(cfg, project_dir)
    _check_addresses(cfg)


def _check_services(cfg: StackConfig, project_dir: Path) -> None:
    if not cfg.services:
        raise ConfigError("services", "no services configured; add at least discovery-service and config-service")
    reserved = reserved_names()
    for name in cfg.services:
        if name in reserved:
            raise ConfigError(f"services.{name}", f"{name!r} is a name the stack uses for its own objects ({', '.join(reserved)}); rename the service")
    # A service with `kafka` logs in to Kafka as a user of its own name (msa/kafka/client_auth.py): it must
    # not be one of the stack's own Kafka users (kafka-ui is a reserved object name already).
    for name, svc in cfg.services.items():
        if svc.kafka is not None and name in (KAFKA_ADMIN_USER, KAFKA_BROKER_USER):
            raise ConfigError(f"services.{name}.kafka", f"a service with kafka logs in to Kafka as its own name, and {name!r} is "
                                                        f"the stack's own Kafka user ({KAFKA_ADMIN_USER}, {KAFKA_BROKER_USER}); rename the service")
    for role in ("discovery", "config"):
        found = cfg.by_role(role)
        if len(found) != 1:
            raise ConfigError("services", f"exactly one service needs role: {role} (found {len(found)}: {', '.join(found) or 'none'})")
    gateways = cfg.by_role("gateway")
    if len(gateways) > 1:
        raise ConfigError("services", f"at most one service may have role: gateway (found {', '.join(gateways)})")
    registry_path = f"{cfg.harbor.host}/{cfg.harbor.project}/"
    for name, svc in cfg.services.items():
        first = svc.image.split("/")[0]
        if svc.image.startswith((f"{cfg.harbor.host}/", f"{cfg.harbor.project}/")) or ("." in first and "/" in svc.image):
            short = svc.image.removeprefix(f"{cfg.harbor.host}/").removeprefix(f"{cfg.harbor.project}/")
            raise ConfigError(f"services.{name}.image", f"{svc.image!r} repeats the registry path: the image becomes {registry_path}<image>; write only the name, e.g. {short!r}")
        if svc.routes and svc.role != "gateway":
            raise ConfigError(f"services.{name}.routes", "only the service with role: gateway takes routes; move them there")
        for i, route in enumerate(svc.routes):
            if route.service not in cfg.services:
                raise ConfigError(
                    f"services.{name}.routes[{i}].service",
                    f"no service named {route.service!r}; use one of: {', '.join(cfg.services)}",
                )
        if svc.context is not None:
            ctx = (project_dir / svc.context)
            if not ctx.is_dir():
                raise ConfigError(f"services.{name}.context", f"folder {svc.context!r} does not exist (relative to the project folder); point it at the service's build context")
            dockerfile = ctx / (svc.dockerfile or "Dockerfile")
            if not dockerfile.is_file():
                raise ConfigError(f"services.{name}.dockerfile", f"{dockerfile.relative_to(project_dir) if dockerfile.is_relative_to(project_dir) else dockerfile} does not exist; add it or set dockerfile to the right file name")
        elif svc.dockerfile is not None or svc.build_args:
            raise ConfigError(f"services.{name}.context", "dockerfile/buildArgs are set but context is not; set context to the build folder")


# Replication settings whose value may not exceed the broker count, and the min-ISR that must not
# exceed each replication factor. The stack derives all of them; overrides are checked here.
REPLICATION_FACTOR_KEYS = (
    "offsets.topic.replication.factor",
    "transaction.state.log.replication.factor",
    "default.replication.factor",
)
MIN_ISR_OF = {
    "transaction.state.log.min.isr": "transaction.state.log.replication.factor",
    "min.insync.replicas": "default.replication.factor",
}
# Properties the stack computes per pod or from its own Services; overriding them breaks clients.
STACK_MANAGED_PROPERTIES = ("broker.id", "listeners", "advertised.listeners", "zookeeper.connect", "log.dirs")
KAFKA_PROPERTY = re.compile(r"^[a-z][a-z0-9]*([._-][a-z0-9]+)*$")


def _check_kafka_overrides(kafka: Kafka) -> None:
    for key in kafka.overrides:
        path = f"kafka.overrides.{key}"
        if not KAFKA_PROPERTY.fullmatch(key):
            raise ConfigError(path, "is not a Kafka broker property name; use lower-case words joined by dots, e.g. log.retention.hours")
        if key in STACK_MANAGED_PROPERTIES:
            raise ConfigError(path, "is computed by the stack per broker; remove the override")
        problem = override_problem(key, kafka.overrides[key], is_confluent_server(kafka.image))
        if problem:
            raise ConfigError(path, problem)
    props = broker_properties(kafka.brokers, kafka.overrides)
    for key in REPLICATION_FACTOR_KEYS:
        if key in kafka.overrides:
            rf = _as_int(props[key], f"kafka.overrides.{key}")
            if not 1 <= rf <= kafka.brokers:
                raise ConfigError(
                    f"kafka.overrides.{key}",
                    f"{rf} is not between 1 and the {kafka.brokers} broker(s) of msa:kafka.brokers; use at most {kafka.brokers}",
                )
    for isr_key, rf_key in MIN_ISR_OF.items():
        if isr_key in kafka.overrides or rf_key in kafka.overrides:
            isr = _as_int(props[isr_key], f"kafka.overrides.{isr_key}")
            rf = _as_int(props[rf_key], f"kafka.overrides.{rf_key}")
            if not 1 <= isr <= rf:
                raise ConfigError(
                    f"kafka.overrides.{isr_key}",
                    f"{isr} is not between 1 and the replication factor {rf} ({rf_key}); use at most {rf}",
                )


def _check_migration(cfg: StackConfig) -> None:
    """msa:kafka.migration's companions (docs/kraft-migration.md); the order of the steps is the
    KafkaClusterId resource's to keep (it knows the previous step)."""
    kafka, step = cfg.kafka, cfg.kafka.migration
    if step == "none":
        return
    if step in ("migrate", "brokers") and kafka.mode != "zookeeper":
        raise ConfigError("kafka.migration", f"{step} is a step of a stack that still runs ZooKeeper (it stays the source of truth until "
                                             "finalize); keep msa:kafka.mode: zookeeper until migration: finalize")
    if step == "finalize" and kafka.mode != "kraft":
        raise ConfigError("kafka.migration", "finalize goes with msa:kafka.mode: kraft (from this step on the stack runs KRaft only "
                                             "and ZooKeeper goes); set mode: kraft")
    if kafka.combined is not False:
        raise ConfigError("kafka.combined", "a migration from ZooKeeper needs dedicated controllers (Kafka refuses it in combined "
                                            "mode), and they stay afterwards; set msa:kafka.combined: false (msa:kafka.controllers: 1 or 3)")
    if kafka.cluster_id is None:
        raise ConfigError("kafka.clusterId", "needed to migrate (the controllers are formatted with the id Kafka keeps in ZooKeeper): "
                                             f"read it with `kubectl -n {cfg.namespace} exec zookeeper-0 -- zookeeper-shell localhost:2181 "
                                             "get /cluster/id` and set it with `pulumi config set msa:kafka.clusterId <id>`")
    if kafka.authentication == "sasl":
        raise ConfigError("kafka.authentication", "sasl cannot be migrated to KRaft yet (the SCRAM listener has no KRaft form in this "
                                                  "release); migrating needs authentication: none")


def _as_int(value: str, key: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise ConfigError(key, f"{value!r} is not a whole number; use e.g. 1") from None


def _check_relay_host_key(cfg: StackConfig) -> None:
    harbor = cfg.harbor
    if harbor.push == "relay" and harbor.relay_host and harbor.relay_host_key is None and not cfg.cluster.skip_host_key_check:
        raise ConfigError(
            "harbor.relayHostKey",
            f"is not set, so the SSH identity of the relay host {harbor.relay_host} would be trusted on first use "
            f"(on a fresh CI runner: every time); set it to the line `ssh-keyscan -t ed25519 -p {harbor.relay_port} {harbor.relay_host}` prints, "
            "or for a first contact on a trusted network set msa:cluster.skipHostKeyCheck: true",
        )


def host_key_warnings(cfg: StackConfig) -> list[str]:
    """What msa:cluster.skipHostKeyCheck leaves unchecked, said on every run."""
    unchecked = [n.host for n in cfg.cluster.nodes if n.host_key is None]
    if cfg.harbor.push == "relay" and cfg.harbor.relay_host and cfg.harbor.relay_host_key is None:
        unchecked.append(cfg.harbor.relay_host)
    if cfg.cluster.skip_host_key_check and unchecked:
        return [f"msa:cluster.skipHostKeyCheck: the SSH host keys of {', '.join(unchecked)} are not checked; set "
                "cluster.nodes[].hostKey / harbor.relayHostKey (ssh-keyscan -t ed25519 <host>) and remove skipHostKeyCheck"]
    return []


def _check_harbor(cfg: StackConfig) -> None:
    _check_relay_host_key(cfg)
    harbor = cfg.harbor
    if harbor.push == "relay" and not harbor.relay_host:
        raise ConfigError("harbor.relayHost", "push: relay needs the host that pushes to Harbor; set relayHost (e.g. the Harbor host's address)")
    if harbor.push != "relay" and harbor.relay_host:
        raise ConfigError("harbor.relayHost", f"is only used with push: relay (push is {harbor.push}); remove it or set push: relay")
    built = [n for n, s in cfg.services.items() if s.context]
    if harbor.push == "none" and built:
        raise ConfigError(f"services.{built[0]}.context", "harbor.push is none, so nothing is built; remove context or choose push: direct or relay")


def _check_addresses(cfg: StackConfig) -> None:
    """Every Service gets a ClusterIP inside the CIDR and every NodePort fits (addressing.py's plan);
    msa:allowAddressChange names Services that have an address."""
    plan = address_plan(cfg, kafka_names(cfg))
    for i, name in enumerate(cfg.allow_address_change):
        if name not in plan.cluster_ips:
            raise ConfigError(f"allowAddressChange[{i}]", f"{name!r} is not a Service of this stack; "
                                                          f"{did_you_mean(name, list(plan.cluster_ips))}use one of: {', '.join(sorted(plan.cluster_ips))}")


def _check_mirror(cfg: StackConfig, project_dir: Path) -> None:
    """Every third-party image has a way into Harbor (mirror_plan.py decides it, and says what is wrong)."""
    try:
        mirror_plans(cfg, project_dir)
    except MirrorProblem as problem:
        raise ConfigError(problem.key, str(problem)) from None
