"""Every `msa:*` key, read once into typed objects and validated before any resource is registered.

Pulumi hands a program its configuration as strings (objects as JSON text). `parse_stack_config`
turns that into a frozen `StackConfig`, or raises `ConfigError` naming the exact key. Shape and type
rules live on the pydantic models; rules that span several keys (roles, routes, Kafka overrides,
image names) live in `_check_*` functions below. Address rules live in `addressing.py`.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import re
import typing
from pathlib import Path
from typing import Any, Callable, Iterable, Literal, Mapping, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic.alias_generators import to_camel

from .errors import ConfigError

PROJECT = "msa"

# Keys that hold secrets: read with get_secret, never part of the typed model's plain data.
SECRET_KEYS = ("harborPassword", "sshPrivateKey")

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
# Docker reference grammar, repository path component and tag (distribution/reference).
IMAGE_PATH = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$")
IMAGE_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
REGISTRY_HOST = re.compile(
    r"^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*(?::[0-9]{1,5})?$"
)
KUBE_QUANTITY = re.compile(r"^[0-9]+(\.[0-9]+)?(m|k|Ki|Mi|Gi|Ti|M|G|T)?$")
KAFKA_PROPERTY = re.compile(r"^[a-z][a-z0-9]*([._-][a-z0-9]+)*$")


class _Model(BaseModel):
    """Strict, immutable, camelCase on the wire: unknown keys (typos) are errors, not ignored."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, alias_generator=to_camel, populate_by_name=True
    )


SSH_KEY_TYPES = (
    "ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com",
)


def host_key(value: str) -> str:
    """`<type> <base64>` as pulumi-command's `hostKey` wants it (ssh.ParseAuthorizedKey), from either
    that form or a line of `ssh-keyscan` output (`<host> <type> <base64>`); the blob must decode and
    name the same key type, so a truncated paste is caught here and not at the first SSH handshake."""
    fields = value.split()
    if len(fields) >= 3 and fields[0] not in SSH_KEY_TYPES and fields[1] in SSH_KEY_TYPES:
        fields = fields[1:]  # an ssh-keyscan line: drop the host name
    if len(fields) < 2 or fields[0] not in SSH_KEY_TYPES:
        raise ValueError("is not an SSH public host key; paste the line `ssh-keyscan -t ed25519 <host>` prints, e.g. ssh-ed25519 AAAAC3Nz...")
    try:
        blob = base64.b64decode(fields[1], validate=True)
    except binascii.Error:
        raise ValueError(f"the {fields[0]} key is not valid base64 (cut short?); paste the whole ssh-keyscan line") from None
    size = int.from_bytes(blob[:4], "big")
    if blob[4:4 + size].decode(errors="replace") != fields[0]:
        raise ValueError(f"the key data is not a {fields[0]} key (cut short?); paste the whole ssh-keyscan line")
    return f"{fields[0]} {fields[1]}"


class Bastion(_Model):
    host: str
    user: str = "root"
    port: int = Field(22, ge=1, le=65535)
    # The SSH host key the connection must present (see Node.host_key).
    host_key: Optional[str] = None

    @field_validator("host_key")
    @classmethod
    def _host_key(cls, v: Optional[str]) -> Optional[str]:
        return host_key(v) if v is not None else v


class Node(_Model):
    host: str
    user: str = "root"
    port: int = Field(22, ge=1, le=65535)
    bastion: Optional[Bastion] = None
    # The node's SSH host key, `ssh-ed25519 AAAA...`: pulumi-command checks it on every connection
    # (without one it accepts any key, so anyone on the path could collect the root key's session).
    host_key: Optional[str] = None

    @field_validator("host_key")
    @classmethod
    def _host_key(cls, v: Optional[str]) -> Optional[str]:
        return host_key(v) if v is not None else v

    @field_validator("host")
    @classmethod
    def _host(cls, v: str) -> str:
        if not v or any(c.isspace() for c in v) or "/" in v:
            raise ValueError(f"{v!r} is not a host name or address; use e.g. 172.10.40.174")
        return v


class Cluster(_Model):
    service_cidr: ipaddress.IPv4Network = ipaddress.IPv4Network("10.96.0.0/12")
    node_arch: Literal["amd64", "arm64"] = "amd64"
    node_port_range: str = "30000-32767"
    cluster_domain: str = "cluster.local"
    nodes: list[Node] = []
    # Where containerd on the nodes looks for per-registry hosts.toml files.
    certs_dir: str = "/etc/containerd/certs.d"
    containerd_config: str = "/etc/containerd/config.toml"
    # Opt-out for a first contact on a trusted network: connect without checking host keys (warned
    # on every run). Normally every node (and bastion) has a hostKey.
    skip_host_key_check: bool = False

    @field_validator("service_cidr", mode="before")
    @classmethod
    def _cidr(cls, v: Any) -> Any:
        try:
            return ipaddress.IPv4Network(str(v), strict=True)
        except ValueError:
            raise ValueError(f"{v!r} is not an IPv4 network in CIDR form with host bits zero; use e.g. 10.96.0.0/12") from None

    @field_validator("node_port_range")
    @classmethod
    def _port_range(cls, v: str) -> str:
        m = re.fullmatch(r"(\d+)-(\d+)", v)
        if not m or not (1 <= int(m[1]) < int(m[2]) <= 65535):
            raise ValueError(f"{v!r} is not a port range; use the API server's --service-node-port-range, e.g. 30000-32767")
        return v

    @property
    def node_ports(self) -> range:
        low, high = (int(p) for p in self.node_port_range.split("-"))
        return range(low, high + 1)

    @property
    def platform(self) -> str:
        return f"linux/{self.node_arch}"


class Harbor(_Model):
    host: str
    address: Optional[ipaddress.IPv4Address] = None
    scheme: Literal["http", "https"] = "http"
    project: str = "library"
    username: Optional[str] = None
    push: Literal["direct", "relay", "none"] = "direct"
    relay_host: Optional[str] = None
    relay_user: str = "root"
    relay_port: int = Field(22, ge=1, le=65535)
    # How the relay host pushes: docker where it has it, else the daemonless skopeo.
    relay_tool: Literal["auto", "docker", "skopeo"] = "auto"

    @field_validator("host")
    @classmethod
    def _host(cls, v: str) -> str:
        if "://" in v or not REGISTRY_HOST.fullmatch(v):
            raise ValueError(f"{v!r} is not a registry host[:port] as written in image names; use e.g. msa.harbor.com or 10.0.0.5:8080")
        return v

    @field_validator("project")
    @classmethod
    def _project(cls, v: str) -> str:
        if not IMAGE_PATH.fullmatch(v):
            raise ValueError(f"{v!r} is not a valid Harbor project name; use lower-case letters, digits and - . _")
        return v


class KafkaUi(_Model):
    enabled: bool = True
    node_port: Optional[int] = 30089
    image: str = "ghcr.io/kafbat/kafka-ui:v1.5.0"


class Resources(_Model):
    """Container requests/limits; limits.cpu stays generous because JVMs JIT-compile at start."""

    cpu: str = "250m"
    memory: str = "512Mi"
    cpu_limit: str = "1"
    memory_limit: str = "768Mi"

    @field_validator("cpu", "memory", "cpu_limit", "memory_limit")
    @classmethod
    def _quantity(cls, v: str) -> str:
        if not KUBE_QUANTITY.fullmatch(v):
            raise ValueError(f"{v!r} is not a Kubernetes quantity; use e.g. 500m, 1, 512Mi or 2Gi")
        return v


class Kafka(_Model):
    brokers: int = Field(1, ge=1, le=9)
    zookeeper_replicas: Literal[1, 3, 5] = 1
    storage_class: str = ""
    storage_size: str = "10Gi"
    zookeeper_storage_size: str = "2Gi"
    image: str = "confluentinc/cp-kafka:7.9.1"
    zookeeper_image: str = "confluentinc/cp-zookeeper:7.9.1"
    heap: str = "512m"
    zookeeper_heap: str = "256m"
    resources: Resources = Resources(cpu="250m", memory="1Gi", cpu_limit="1", memory_limit="1536Mi")
    zookeeper_resources: Resources = Resources(cpu="100m", memory="512Mi", cpu_limit="500m", memory_limit="768Mi")
    ui: KafkaUi = KafkaUi()
    overrides: dict[str, Union[bool, int, float, str]] = {}

    @field_validator("storage_size", "zookeeper_storage_size")
    @classmethod
    def _size(cls, v: str) -> str:
        if not KUBE_QUANTITY.fullmatch(v):
            raise ValueError(f"{v!r} is not a storage size; use e.g. 10Gi")
        return v

    @field_validator("heap", "zookeeper_heap")
    @classmethod
    def _heap(cls, v: str) -> str:
        if not re.fullmatch(r"[0-9]+[mMgG]", v):
            raise ValueError(f"{v!r} is not a JVM heap size; use e.g. 512m or 1g")
        return v


class Route(_Model):
    path: str
    service: str
    strip_prefix: int = Field(0, ge=0, le=10)

    @field_validator("path")
    @classmethod
    def _path(cls, v: str) -> str:
        if not v.startswith("/") or any(c.isspace() for c in v):
            raise ValueError(f"{v!r} is not a gateway Path predicate; use e.g. /user-service/**")
        return v


class Service(_Model):
    role: Literal["discovery", "config", "gateway", "app"] = "app"
    image: str
    tag: str
    port: int = Field(ge=1, le=65535)
    node_port: Optional[int] = None
    cluster_ip: Optional[ipaddress.IPv4Address] = Field(None, alias="clusterIP")
    replicas: int = Field(1, ge=0, le=50)
    kafka: bool = False
    routes: list[Route] = []
    context: Optional[str] = None
    dockerfile: Optional[str] = None
    build_args: dict[str, str] = {}
    resources: Resources = Resources()
    # Seconds a JVM may take from start to a passing liveness check before the kubelet restarts it.
    startup_seconds: int = Field(180, ge=10, le=1800)
    java_opts: str = "-XX:MaxRAMPercentage=75.0 -XX:+ExitOnOutOfMemoryError"

    @field_validator("image")
    @classmethod
    def _image(cls, v: str) -> str:
        if not IMAGE_PATH.fullmatch(v):
            raise ValueError(f"{v!r} is not an image name; use lower-case letters, digits and - . _ / (e.g. usersservice)")
        return v

    @field_validator("tag", mode="before")
    @classmethod
    def _tag(cls, v: Any) -> Any:
        if not isinstance(v, str):
            raise ValueError(f"{v!r} is not a string; quote the tag in YAML, e.g. tag: \"1.0\"")
        if v == "latest":
            raise ValueError("'latest' is not allowed: it never triggers a rollout and differs per node; use a version such as \"1.0\"")
        if not IMAGE_TAG.fullmatch(v):
            raise ValueError(f"{v!r} is not an image tag; use letters, digits and _ . - (at most 128), e.g. \"1.0\"")
        return v


class Spring(_Model):
    # What each Eureka client registers as its address (README: "Eureka registration modes").
    registration: Literal["clusterIP", "serviceDns", "podIP"] = "clusterIP"
    # Spring Cloud Gateway 4.3 moved routes to spring.cloud.gateway.server.webflux.routes.
    gateway_version: Literal["4.2", "4.3"] = "4.3"
    self_preservation: bool = False
    eviction_interval_ms: int = Field(10000, ge=1000, le=600000)


class StackConfig(_Model):
    namespace: str = "msa"
    cluster: Cluster = Cluster()
    harbor: Harbor
    kafka: Kafka = Kafka()
    spring: Spring = Spring()
    services: dict[str, Service]
    config_repo: str = "config-repo"

    @field_validator("namespace")
    @classmethod
    def _namespace(cls, v: str) -> str:
        if not DNS_LABEL.fullmatch(v):
            raise ValueError(f"{v!r} is not a DNS label; use lower-case letters, digits and '-'")
        return v

    def by_role(self, role: str) -> list[str]:
        return [name for name, svc in self.services.items() if svc.role == role]


class Secrets:
    """Secret config values, kept as Pulumi secret Outputs; `None` where not set."""

    def __init__(self, harbor_password: Any = None, ssh_private_key: Any = None):
        self.harbor_password = harbor_password
        self.ssh_private_key = ssh_private_key


# --- raw values -> model ------------------------------------------------------------------------

_OBJECT_KEYS = {"cluster", "harbor", "kafka", "services", "spring"}
# Every top-level key (camelCase, as in the stack file), secrets included.
KNOWN_KEYS = sorted({(f.alias or n) for n, f in StackConfig.model_fields.items()} | set(SECRET_KEYS))


def parse_stack_config(raw: Mapping[str, str], project_dir: Path) -> StackConfig:
    """Parse `{key-without-msa-prefix: raw string}` into a validated StackConfig, or raise ConfigError."""
    data: dict[str, Any] = {}
    for key, text in raw.items():
        if key in SECRET_KEYS:
            continue
        if key not in KNOWN_KEYS:
            if "." in key and key.split(".")[0] in KNOWN_KEYS:
                # `pulumi config set msa:kafka.brokers 3` without --path makes a key with a dot in its name.
                raise ConfigError(key, f"is a key with a dot in its name; set nested values with: pulumi config set --path msa:{key} <value> (and remove this one)")
            raise ConfigError(key, f"unknown key (a typo?); known keys are {', '.join('msa:' + k for k in KNOWN_KEYS)}")
        if key in _OBJECT_KEYS:
            try:
                value = json.loads(text) if isinstance(text, str) else text
            except json.JSONDecodeError:
                raise ConfigError(key, "expected an object (a YAML mapping in Pulumi.<stack>.yaml), got plain text") from None
            if not isinstance(value, dict):
                raise ConfigError(key, f"expected an object (a YAML mapping), got {type(value).__name__}")
            data[key] = value
        else:
            data[key] = text
    try:
        cfg = StackConfig.model_validate(data)
    except ValidationError as exc:
        raise _to_config_error(exc) from None
    _check_services(cfg, project_dir)
    _check_kafka_overrides(cfg.kafka)
    _check_harbor(cfg)
    _check_host_keys(cfg.cluster)
    return cfg


def key_path(loc: Iterable[Any]) -> str:
    """('services', 'gw', 'routes', 0, 'service') -> 'services.gw.routes[0].service' (pulumi --path style)."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _to_config_error(exc: ValidationError) -> ConfigError:
    """The first pydantic error, as one line that names the key and says how to fix it."""
    err = exc.errors(include_url=False)[0]
    path = key_path(err["loc"])
    kind, given = err["type"], err.get("input")
    if kind == "extra_forbidden":
        parent = _model_at(err["loc"][:-1])
        known = ", ".join(sorted(f.alias or n for n, f in parent.model_fields.items())) if parent else ""
        return ConfigError(path, f"unknown key (a typo?); known keys here are: {known}")
    if kind == "missing":
        return ConfigError(path, "is required; set it in Pulumi.<stack>.yaml")
    if kind == "value_error":
        return ConfigError(path, str(err["ctx"]["error"]))
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return ConfigError(path, f"expected a whole number, got {given!r}")
    if kind in ("bool_parsing", "bool_type"):
        return ConfigError(path, f"expected true or false, got {given!r}")
    if kind in ("string_type",):
        return ConfigError(path, f"expected a string, got {given!r}; quote it in YAML")
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return ConfigError(path, f"expected an object (a YAML mapping), got {given!r}")
    if kind == "literal_error":
        return ConfigError(path, f"{given!r} is not allowed; use {err['ctx']['expected']}")
    if kind in ("greater_than_equal", "greater_than"):
        return ConfigError(path, f"{given!r} is too small; use at least {err['ctx'].get('ge', err['ctx'].get('gt'))}")
    if kind in ("less_than_equal", "less_than"):
        return ConfigError(path, f"{given!r} is too large; use at most {err['ctx'].get('le', err['ctx'].get('lt'))}")
    if kind == "list_type":
        return ConfigError(path, f"expected a list, got {given!r}")
    msg = err["msg"][0].lower() + err["msg"][1:]
    return ConfigError(path, f"{msg}, got {given!r}")


def _model_at(loc: Iterable[Any]) -> Optional[type[BaseModel]]:
    """The model class that validates the object at `loc`, to list its keys in an error."""
    annotation: Any = StackConfig
    parts = list(loc)
    while parts:
        model = _model_in(annotation)
        fields = {(f.alias or n): f for n, f in model.model_fields.items()} if model else {}
        field = fields.get(parts.pop(0))
        if field is None:
            return None
        annotation = field.annotation
        # Step over list indexes and dict keys (services.<name>, nodes[0]) to the element type.
        while typing.get_origin(annotation) in (list, dict) and parts:
            annotation = typing.get_args(annotation)[-1]
            parts.pop(0)
    return _model_in(annotation)


def _model_in(annotation: Any) -> Optional[type[BaseModel]]:
    """X for X or Optional[X], when X is a model."""
    for arg in (typing.get_args(annotation) or (annotation,)):
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
    return None


# --- rules that span several keys ---------------------------------------------------------------

def _check_services(cfg: StackConfig, project_dir: Path) -> None:
    if not cfg.services:
        raise ConfigError("services", "no services configured; add at least discovery-service and config-service")
    for name in cfg.services:
        if not DNS_LABEL.fullmatch(name) or name[0].isdigit():
            raise ConfigError(f"services.{name}", "the name must be a DNS label starting with a letter (it becomes the Service name and spring.application.name)")
    for role in ("discovery", "config"):
        found = cfg.by_role(role)
        if len(found) != 1:
            raise ConfigError("services", f"exactly one service needs role: {role} (found {len(found)}: {', '.join(found) or 'none'})")
    gateways = cfg.by_role("gateway")
    if len(gateways) > 1:
        raise ConfigError("services", f"at most one service may have role: gateway (found {', '.join(gateways)})")
    for name, svc in cfg.services.items():
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


def _check_kafka_overrides(kafka: Kafka) -> None:
    from .kafka import broker_properties  # the derived values the overrides are merged into

    for key, value in kafka.overrides.items():
        path = f"kafka.overrides.{key}"
        if not KAFKA_PROPERTY.fullmatch(key):
            raise ConfigError(path, "is not a Kafka broker property name (lower-case words joined by dots)")
        if key in STACK_MANAGED_PROPERTIES:
            raise ConfigError(path, "is computed by the stack per broker; remove the override")
        if isinstance(value, float):
            raise ConfigError(path, f"{value!r} is not a valid property value; use a whole number, true/false or a string")
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
            rf = int(props[rf_key])
            if not 1 <= isr <= rf:
                raise ConfigError(
                    f"kafka.overrides.{isr_key}",
                    f"{isr} is not between 1 and the replication factor {rf} ({rf_key}); use at most {rf}",
                )


def _as_int(value: str, key: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise ConfigError(key, f"{value!r} is not a whole number") from None


def _check_harbor(cfg: StackConfig) -> None:
    harbor = cfg.harbor
    if harbor.push == "relay" and not harbor.relay_host:
        raise ConfigError("harbor.relayHost", "push: relay needs the host that pushes to Harbor; set relayHost (e.g. the Harbor host's address)")
    if harbor.push != "relay" and harbor.relay_host:
        raise ConfigError("harbor.relayHost", f"is only used with push: relay (push is {harbor.push}); remove it or set push: relay")
    built = [n for n, s in cfg.services.items() if s.context]
    if harbor.push == "none" and built:
        raise ConfigError(f"services.{built[0]}.context", "harbor.push is none, so nothing is built; remove context or choose push: direct or relay")


def _check_host_keys(cluster: Cluster) -> None:
    if cluster.skip_host_key_check:
        return
    for i, node in enumerate(cluster.nodes):
        for where, host, port, key in [(f"cluster.nodes[{i}]", node.host, node.port, node.host_key)] + (
            [(f"cluster.nodes[{i}].bastion", node.bastion.host, node.bastion.port, node.bastion.host_key)] if node.bastion else []
        ):
            if key is None:
                raise ConfigError(
                    f"{where}.hostKey",
                    f"is not set, so the SSH identity of {host} would not be checked; set it to the line "
                    f"`ssh-keyscan -t ed25519 -p {port} {host}` prints (compare its fingerprint with the node's console), "
                    "or for a first contact on a trusted network set msa:cluster.skipHostKeyCheck: true",
                )


def host_key_warnings(cluster: Cluster) -> list[str]:
    if cluster.skip_host_key_check and cluster.nodes:
        return ["msa:cluster.skipHostKeyCheck: the nodes' SSH host keys are not checked; set cluster.nodes[].hostKey "
                "(ssh-keyscan -t ed25519 <host>) and remove skipHostKeyCheck"]
    return []


# --- reading from Pulumi --------------------------------------------------------------------------

def read_raw_config(keys: Iterable[str], get: Callable[[str], Optional[str]]) -> dict[str, str]:
    """The raw text of every `msa:*` key, without the prefix (secrets excluded)."""
    raw: dict[str, str] = {}
    for full in keys:
        ns, _, key = full.partition(":")
        if ns != PROJECT or key in SECRET_KEYS:
            continue
        value = get(key)
        if value is not None:
            raw[key] = value
    return raw


def check_secrets_are_secret(keys: Iterable[str], is_secret: Callable[[str], bool]) -> None:
    """A password or key stored in plain text in a stack file is an error, not a warning."""
    for key in SECRET_KEYS:
        full = f"{PROJECT}:{key}"
        if full in keys and not is_secret(full):
            raise ConfigError(key, f"is stored in plain text; remove it and set it with: pulumi config set --secret {full} <value>")


def set_secret_command(key: str, stack: str) -> str:
    """The exact command that stores a secret: the value goes on stdin (a prompt, or a file), never
    on the command line where shell history and `ps` would keep it."""
    source = " < ~/.ssh/id_ed25519" if key == "sshPrivateKey" else ""
    return f"pulumi config set --secret --stack {stack} {PROJECT}:{key}{source}"


def check_secrets_present(cfg: StackConfig, keys: Iterable[str], stack: str) -> None:
    keys = set(keys)
    if cfg.harbor.username and f"{PROJECT}:harborPassword" not in keys:
        raise ConfigError("harborPassword", f"harbor.username is {cfg.harbor.username!r} but no password is set; run: {set_secret_command('harborPassword', stack)} (it prompts for the password)")
    if cfg.harbor.push == "relay" and f"{PROJECT}:sshPrivateKey" not in keys:
        raise ConfigError("sshPrivateKey", f"push: relay copies images over SSH but no key is set; run: {set_secret_command('sshPrivateKey', stack)}")
    if cfg.cluster.nodes and f"{PROJECT}:sshPrivateKey" not in keys:
        raise ConfigError("sshPrivateKey", f"cluster.nodes are set up over SSH but no key is set; run: {set_secret_command('sshPrivateKey', stack)}")


def load(project_dir: Path) -> tuple[StackConfig, Secrets]:
    """Read and validate every msa:* key of the running stack (pulumi up or the mock runtime)."""
    import pulumi
    from pulumi.runtime import config as runtime_config

    # The SDK exposes no public "list all keys"; the values live in these two places (explicitly
    # set, e.g. by the mock runtime, and the PULUMI_CONFIG JSON the language host passes).
    keys = set(runtime_config.CONFIG.get()) | set(runtime_config.get_config_env())
    keys = {k for k in keys if k.startswith(PROJECT + ":")}
    conf = pulumi.Config(PROJECT)
    env_secret_keys = set(runtime_config.get_config_secret_keys_env())
    check_secrets_are_secret(keys, lambda k: runtime_config.is_config_secret(k) or k in env_secret_keys)
    cfg = parse_stack_config(read_raw_config(keys, conf.get), project_dir)
    check_secrets_present(cfg, keys, pulumi.get_stack())
    secrets = Secrets(
        harbor_password=conf.get_secret("harborPassword"),
        ssh_private_key=conf.get_secret("sshPrivateKey"),
    )
    return cfg, secrets
