"""Every `msa:*` key, read once into typed objects and validated before any resource is registered.

Pulumi hands a program its configuration as text (objects as JSON). `parse_stack_config` turns that
into a frozen `StackConfig`, or raises `ConfigError` naming the exact key.

The model below IS the configuration reference: every key is one typed field with a docstring, and
the README's configuration table is generated from it (`python3 tasks.py docs`). To add a key: add
the field with its type (a form from forms.py where one fits) and a docstring, put a rule that spans
several keys in a `model_validator` of the object that holds them (raise `KeyProblem` to blame one
key), then run `python3 tasks.py docs`. Types are strict: `true` is not a number and `"3"` is not 3.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import re
import typing
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Callable, Iterable, Literal, Mapping, Optional

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator
from pydantic.alias_generators import to_camel

from ..errors import ConfigError
from ..names import reserved_names
from .forms import (
    DNS_LABEL, IMAGE_PATH, IMAGE_TAG, AbsolutePath, GatewayPath, DnsLabel, DnsSubdomain, Form, Host, ImageDigest, ImagePath, ImageReference, ImageTag,
    JvmSize, KafkaPropertyValue, Port, PortRange, Quantity, RegistryHost, Folder, ServiceName, Size, StorageClassName,
    SshHostKey, Text, UserName,
    jvm_size_bytes, kind_of, quantity_value, shown,
)

__all__ = [
    "PROJECT", "SECRET_KEYS", "KNOWN_KEYS", "DNS_LABEL", "IMAGE_PATH", "IMAGE_TAG", "ConfigError", "KeyProblem",
    "Bastion", "Node", "Cluster", "Harbor", "KafkaUi", "Resources", "Kafka", "Route", "KafkaClient", "Service", "Spring", "Verify",
    "StackConfig",
    "Secrets", "parse_stack_config", "key_path", "read_raw_config", "check_namespaces", "check_secrets_are_secret",
    "check_secrets_present", "set_secret_command", "host_key_warnings", "validate", "load", "reserved_names",
]

PROJECT = "msa"

# Keys that hold secrets: read with get_secret, never part of the typed model's plain data.
SECRET_KEYS = ("harborPassword", "sshPrivateKey", "kafkaUiPassword")

# Config namespaces a stack file may use besides msa: the engine's own and the providers the program
# creates resources with. Anything else is a typo of `msa:` (or a key no one reads).
KNOWN_NAMESPACES = (PROJECT, "pulumi", "kubernetes", "docker", "command")

# Part of the heap's container the JVM needs beyond the heap (metaspace, threads, buffers, GC).
JVM_HEADROOM = Decimal("0.25")


class KeyProblem(ValueError):
    """A rule of an object that blames one of its keys (pydantic alone would blame the object)."""

    def __init__(self, key: str, problem: str):
        self.key = key
        super().__init__(problem)


def _ipv4_network(value: Any) -> Any:
    if isinstance(value, ipaddress.IPv4Network):
        return value
    try:
        return ipaddress.IPv4Network(value if isinstance(value, str) else "", strict=True)
    except ValueError:
        raise ValueError(f"{shown(value)} is not an IPv4 network in CIDR form with host bits zero; use e.g. 10.96.0.0/12") from None


def _ipv4_address(value: Any) -> Any:
    if isinstance(value, ipaddress.IPv4Address):
        return value
    try:
        return ipaddress.IPv4Address(value if isinstance(value, str) else "")
    except ValueError:
        raise ValueError(f"{shown(value)} is not an IPv4 address; use e.g. 10.96.0.50") from None


def _exact_int(value: Any) -> Any:
    # A Literal of numbers would take `true` as 1 and 3.0 as 3.
    if isinstance(value, (bool, float)):
        raise ValueError(f"expected a whole number, got {shown(value)}")
    return value


NodePort = Annotated[int, Form("port in cluster.nodePortRange")]
# A numeric, non-root uid: the kubelet can only enforce runAsNonRoot on a number.
Uid = Annotated[int, Field(ge=1, le=2147483647), Form("uid 1-2147483647")]
# Pod Security "restricted" and checkov (CKV_K8S_40) want uids above the host's range.
DEFAULT_UID = 10001
Cidr = Annotated[ipaddress.IPv4Network, BeforeValidator(_ipv4_network), Form("IPv4 CIDR")]
Ipv4 = Annotated[ipaddress.IPv4Address, BeforeValidator(_ipv4_address), Form("IPv4 address")]


class _Model(BaseModel):
    """Strict, immutable, camelCase on the wire: unknown keys (typos) are errors, not ignored.
    A field's docstring is its description in the README table."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, strict=True, alias_generator=to_camel, populate_by_name=True,
        use_attribute_docstrings=True,
    )


class Bastion(_Model):
    host: Host
    """SSH jump host in front of the node."""
    user: UserName = "root"
    """SSH user on the bastion."""
    port: Port = 22
    """SSH port of the bastion."""
    host_key: Optional[SshHostKey] = None
    """The bastion's SSH host key, checked on every connection (see the node's `hostKey`)."""


class Node(_Model):
    host: Host
    """Node address for SSH (host only: user and port have their own keys)."""
    user: UserName = "root"
    """SSH user: root, or a user with passwordless sudo."""
    port: Port = 22
    """SSH port of the node."""
    bastion: Optional[Bastion] = None
    """Jump host `{host, user, port, hostKey}`; none = connect directly."""
    host_key: Optional[SshHostKey] = None
    """The node's SSH host key (`ssh-keyscan -t ed25519 <host>`), checked on every connection; required unless `skipHostKeyCheck`."""


class Cluster(_Model):
    service_cidr: Cidr = ipaddress.IPv4Network("10.96.0.0/12")
    """The API server's `--service-cluster-ip-range`."""
    node_arch: Literal["amd64", "arm64"] = "amd64"
    """Images are built for `linux/<nodeArch>`."""
    node_port_range: PortRange = "30000-32767"
    """The API server's `--service-node-port-range`."""
    cluster_domain: DnsSubdomain = "cluster.local"
    """The cluster's DNS domain (kubelet `--cluster-domain`)."""
    nodes: list[Node] = []
    """Nodes whose containerd is set up to pull from Harbor over SSH; empty = no node setup."""
    certs_dir: AbsolutePath = "/etc/containerd/certs.d"
    """Where containerd on the nodes looks for per-registry `hosts.toml` files."""
    containerd_config: AbsolutePath = "/etc/containerd/config.toml"
    """containerd's config file on the nodes."""
    skip_host_key_check: bool = False
    """First contact on a trusted network only: SSH to nodes without checking host keys (warned on every run)."""

    @model_validator(mode="after")
    def _unique_hosts(self) -> "Cluster":
        seen: set[str] = set()
        for i, node in enumerate(self.nodes):
            if node.host.lower() in seen:
                raise KeyProblem(f"nodes[{i}].host", f"{node.host} is listed twice; list each node once")
            seen.add(node.host.lower())
        return self

    @model_validator(mode="after")
    def _host_keys(self) -> "Cluster":
        """Without a host key pulumi-command accepts any server (ssh.InsecureIgnoreHostKey): whoever
        answers on the node's address gets the root key's session."""
        if self.skip_host_key_check:
            return self
        for i, node in enumerate(self.nodes):
            hops = [(f"nodes[{i}]", node.host, node.port, node.host_key)]
            if node.bastion:
                hops.append((f"nodes[{i}].bastion", node.bastion.host, node.bastion.port, node.bastion.host_key))
            for where, host, port, key in hops:
                if key is None:
                    raise KeyProblem(
                        f"{where}.hostKey",
                        f"is not set, so the SSH identity of {host} would not be checked; set it to the line "
                        f"`ssh-keyscan -t ed25519 -p {port} {host}` prints (compare its fingerprint with the node's console), "
                        "or for a first contact on a trusted network set msa:cluster.skipHostKeyCheck: true",
                    )
        return self


    @property
    def node_ports(self) -> range:
        low, high = (int(p) for p in self.node_port_range.split("-"))
        return range(low, high + 1)

    @property
    def platform(self) -> str:
        return f"linux/{self.node_arch}"


class Harbor(_Model):
    host: RegistryHost
    """Registry `host[:port]` exactly as in image names."""
    address: Optional[Ipv4] = None
    """Written to the nodes' `/etc/hosts` for `host` when set."""
    scheme: Literal["http", "https"] = "http"
    """How containerd and Docker talk to Harbor."""
    project: ImagePath = "library"
    """Harbor project the images live in."""
    username: Optional[Text] = None
    """Harbor user; the password is the secret `msa:harborPassword`."""
    push: Literal["direct", "relay", "none"] = "direct"
    """How built images reach Harbor (see "Images")."""
    relay_host: Optional[Host] = None
    """`push: relay`: the host that pushes to Harbor."""
    relay_user: UserName = "root"
    """`push: relay`: SSH user on the relay host."""
    relay_port: Port = 22
    """`push: relay`: SSH port of the relay host."""
    relay_tool: Literal["auto", "docker", "skopeo"] = "auto"
    """`push: relay`: docker where the relay host has it, else the daemonless skopeo."""
    relay_host_key: Optional[SshHostKey] = None
    """`push: relay`: the relay host's SSH host key (`ssh-keyscan -t ed25519 <relayHost>`), checked by ssh/scp; required unless `cluster.skipHostKeyCheck`."""


class KafkaUi(_Model):
    enabled: bool = True
    """Deploy kafbat kafka-ui."""
    node_port: Optional[NodePort] = 30089
    """NodePort of kafka-ui; null = ClusterIP only (reach it with `kubectl port-forward`)."""
    image: ImageReference = "ghcr.io/kafbat/kafka-ui:v1.5.0@sha256:7cda86a33344160309fdb65146332e4da65db81a945614f2fe32e210803f6fd1"
    """kafka-ui image, by digest (the tag is for humans)."""
    login: bool = True
    """Login form (`AUTH_TYPE=LOGIN_FORM`) for `username` with the secret msa:kafkaUiPassword."""
    username: Text = "admin"
    """kafka-ui login name."""
    read_only: bool = False
    """Browse only: no topic creation or deletion, no messages produced."""
    run_as_user: Uid = DEFAULT_UID
    """Numeric uid kafka-ui runs as (its image's user `kafkaui` is not numeric)."""

    @model_validator(mode="after")
    def _not_open(self) -> "KafkaUi":
        if self.enabled and not self.login and not self.read_only:
            raise KeyProblem("login", "false with readOnly: false leaves an admin console that anyone who reaches it can use to delete topics; "
                             "keep login: true (and set msa:kafkaUiPassword) or set readOnly: true")
        return self


class Resources(_Model):
    """Container requests/limits; limits.cpu stays generous because JVMs JIT-compile at start."""

    cpu: Quantity = "250m"
    """CPU request."""
    memory: Quantity = "512Mi"
    """Memory request."""
    cpu_limit: Quantity = "1"
    """CPU limit (at least the request)."""
    memory_limit: Quantity = "768Mi"
    """Memory limit (at least the request)."""

    @model_validator(mode="after")
    def _requests_within_limits(self) -> "Resources":
        if quantity_value(self.memory_limit) <= 0:
            raise KeyProblem("memoryLimit", f"{self.memory_limit!r} is not above zero; use e.g. 768Mi")
        for request, limit, request_key, limit_key in (
            (self.cpu, self.cpu_limit, "cpu", "cpuLimit"), (self.memory, self.memory_limit, "memory", "memoryLimit"),
        ):
            if quantity_value(request) > quantity_value(limit):
                raise KeyProblem(request_key, f"{request} is above the limit {limit_key}: {limit}; lower the request or raise the limit")
        return self


def _heap_problem(heap_bytes: int, heap: str, resources: Resources, resources_key: str) -> Optional[str]:
    """Why a JVM heap does not fit its container's memory limit with headroom, or None."""
    most = int(quantity_value(resources.memory_limit) * (1 - JVM_HEADROOM)) // 2**20
    if heap_bytes <= most * 2**20:
        return None
    return (f"{heap} does not fit its container: {resources_key}.memoryLimit is {resources.memory_limit} and the JVM needs "
            f"about {int(JVM_HEADROOM * 100)} % beyond the heap; use at most {most}m or raise {resources_key}.memoryLimit")


OverrideKey = Annotated[str, Form("Kafka broker property")]


class Kafka(_Model):
    brokers: int = Field(1, ge=1, le=9)
    """Number of Kafka brokers (1-9)."""
    zookeeper_replicas: Annotated[Literal[1, 3, 5], BeforeValidator(_exact_int)] = 1
    """ZooKeeper ensemble size."""
    storage_class: StorageClassName = ""
    """StorageClass of the PVCs; "" = the cluster's default."""
    storage_size: Size = "10Gi"
    """PVC size of each broker."""
    zookeeper_storage_size: Size = "2Gi"
    """PVC size of each ZooKeeper member."""
    image: ImageReference = "confluentinc/cp-kafka:7.9.1"
    """Broker image; 7.9 is the last line with ZooKeeper mode."""
    zookeeper_image: ImageReference = "confluentinc/cp-zookeeper:7.9.1"
    """ZooKeeper image."""
    heap: JvmSize = "512m"
    """Broker JVM heap (-Xms/-Xmx); must fit resources.memoryLimit with headroom."""
    zookeeper_heap: JvmSize = "256m"
    """ZooKeeper JVM heap; must fit zookeeperResources.memoryLimit with headroom."""
    resources: Resources = Resources(cpu="250m", memory="1Gi", cpu_limit="1", memory_limit="1536Mi")
    """Broker container requests/limits."""
    zookeeper_resources: Resources = Resources(cpu="100m", memory="512Mi", cpu_limit="500m", memory_limit="768Mi")
    """ZooKeeper container requests/limits."""
    ui: KafkaUi = KafkaUi()
    """kafbat kafka-ui."""
    overrides: dict[OverrideKey, KafkaPropertyValue] = {}
    """Extra broker properties; replication factors above the broker count and min ISR above the replication factor are rejected."""

    @model_validator(mode="after")
    def _heaps_fit(self) -> "Kafka":
        for heap, key, resources, resources_key in (
            (self.heap, "heap", self.resources, "kafka.resources"),
            (self.zookeeper_heap, "zookeeperHeap", self.zookeeper_resources, "kafka.zookeeperResources"),
        ):
            problem = _heap_problem(jvm_size_bytes(heap), heap, resources, resources_key)
            if problem:
                raise KeyProblem(key, problem)
        return self


class Route(_Model):
    path: GatewayPath
    """Gateway Path predicate, e.g. `/user-service/**`."""
    service: Annotated[Text, Form("a key of msa:services")]
    """Target service (a key of `msa:services`)."""
    strip_prefix: int = Field(0, ge=0, le=10)
    """Path segments the gateway strips before forwarding."""


class KafkaClient(_Model):
    transactional: bool = True
    """Per-pod `spring.kafka.producer.transaction-id-prefix`; false for plain `KafkaTemplate.send()` outside transactions."""


def _kafka_client(value: Any) -> Any:
    # `kafka: true` is short for `kafka: {}` (a transactional producer), `false` for no Kafka at all.
    if isinstance(value, bool):
        return {} if value else None
    if value is not None and not isinstance(value, dict):
        raise ValueError(f"expected true, false or an object such as {{transactional: false}}, got {shown(value)}")
    return value


class Service(_Model):
    role: Literal["discovery", "config", "gateway", "app"] = "app"
    """`discovery`, `config`, `gateway` (exactly one discovery and one config) or `app`."""
    image: ImagePath
    """Repository inside `<harbor.host>/<harbor.project>/`."""
    tag: ImageTag
    """Image tag, quoted; `latest` is refused."""
    digest: Optional[ImageDigest] = None
    """Prebuilt image (no `context`): its manifest digest; deployed as `image:tag@digest`, the one integrity check over plain HTTP."""
    run_as_user: Uid = DEFAULT_UID
    """Numeric uid the container runs as (non-root, read-only root filesystem, writable /tmp); the image's files must be readable by it."""
    port: Port
    """The app's HTTP port; also the Service port."""
    node_port: Optional[NodePort] = None
    """Expose on this NodePort; none = ClusterIP only."""
    cluster_ip: Optional[Ipv4] = Field(None, alias="clusterIP")
    """Fixed ClusterIP; none = derived from the name (see "Addresses")."""
    replicas: int = Field(1, ge=0, le=50)
    """Pods of the Deployment."""
    kafka: Annotated[Optional[KafkaClient], BeforeValidator(_kafka_client), Form("true/false or object")] = None
    """`true` (= `{}`) or `{transactional: false}`: adds the Kafka bootstrap servers and, when transactional, a per-pod transaction id prefix; `false`/none: no Kafka."""
    routes: list[Route] = []
    """Gateway routes `[{path, service, stripPrefix}]` (role: gateway only)."""
    context: Optional[Folder] = None
    """Build context folder, relative to the project; none = not built (pulled from Harbor)."""
    dockerfile: Optional[Text] = None
    """Dockerfile inside the context (default `Dockerfile`)."""
    build_args: dict[str, Text] = {}
    """Docker build arguments."""
    resources: Resources = Resources()
    """Container requests/limits."""
    startup_seconds: int = Field(180, ge=10, le=1800)
    """Seconds a JVM may take from start to a passing liveness check before the kubelet restarts it."""
    java_opts: Text = "-XX:MaxRAMPercentage=75.0 -XX:+ExitOnOutOfMemoryError"
    """JAVA_TOOL_OPTIONS; -Xmx must fit resources.memoryLimit with 25 % headroom, -XX:MaxRAMPercentage at most 75."""

    @property
    def kafka_transactional(self) -> bool:
        return self.kafka is not None and self.kafka.transactional

    @model_validator(mode="after")
    def _consistent(self) -> "Service":
        paths: dict[str, int] = {}
        for i, route in enumerate(self.routes):
            if route.path in paths:
                raise KeyProblem(f"routes[{i}].path", f"{route.path} is already the path of routes[{paths[route.path]}]; give each route its own path")
            paths[route.path] = i
        if self.digest is not None and self.context is not None:
            raise KeyProblem("digest", "is for prebuilt images: a built image (context) is deployed by the digest its push returns; remove digest")
        xmx = re.findall(r"(?:^|\s)-Xmx([0-9]+[kKmMgG]?)(?=\s|$)", self.java_opts)
        if xmx:
            problem = _heap_problem(jvm_size_bytes(xmx[-1]), f"-Xmx{xmx[-1]}", self.resources, "resources")
            if problem:
                raise KeyProblem("javaOpts", problem)
        percent = re.findall(r"(?:^|\s)-XX:MaxRAMPercentage=([0-9.]+)(?=\s|$)", self.java_opts)
        if percent and not xmx and Decimal(percent[-1]) > 100 * (1 - JVM_HEADROOM):
            raise KeyProblem("javaOpts", f"-XX:MaxRAMPercentage={percent[-1]} leaves the JVM no room beyond the heap (metaspace, threads, "
                                         f"buffers) before the container's memory limit; use at most {100 * (1 - JVM_HEADROOM):.0f}")
        return self


class Spring(_Model):
    registration: Literal["clusterIP", "serviceDns", "podIP"] = "clusterIP"
    """What each Eureka client registers as its address (see "Eureka registration modes")."""
    self_preservation: bool = False
    """Eureka self-preservation (off: evict dead instances in a small cluster)."""
    eviction_interval_ms: int = Field(10000, ge=1000, le=600000)
    """Eureka eviction interval."""

    @model_validator(mode="before")
    @classmethod
    def _retired_keys(cls, data: Any) -> Any:
        if isinstance(data, dict) and "gatewayVersion" in data:
            raise KeyProblem("gatewayVersion", "is no longer needed: routes are written for every Gateway line (4.1 to 5.0); remove the key")
        return data


class Verify(_Model):
    enabled: bool = True
    """Run the verification Job at the end of every `pulumi up` that changed something (see "Verification")."""
    settle_seconds: int = Field(180, ge=0, le=1800)
    """How long failing checks are repeated while clients register and gateways refresh their registry."""
    kafka_timeout_seconds: int = Field(60, ge=5, le=600)
    """How long a Kafka client of the check may block (e.g. `InitProducerId`) before the check fails."""


class StackConfig(_Model):
    namespace: DnsLabel = "msa"
    """Namespace of every object."""
    cluster: Cluster = Cluster()
    """The Kubernetes cluster and its nodes."""
    harbor: Harbor
    """The Harbor registry."""
    kafka: Kafka = Kafka()
    """ZooKeeper, Kafka and kafka-ui."""
    spring: Spring = Spring()
    """Spring Cloud settings shared by every service."""
    services: dict[ServiceName, Service]
    """`<name>` is the Service name, the Deployment name and `spring.application.name`."""
    config_repo: Folder = "config-repo"
    """Folder served by the config server (needs an `application.yml`)."""
    verify: Verify = Verify()
    """The verification Job that ends `pulumi up`."""

    def by_role(self, role: str) -> list[str]:
        return [name for name, svc in self.services.items() if svc.role == role]


class Secrets:
    """Secret config values, kept as Pulumi secret Outputs; `None` where not set."""

    def __init__(self, harbor_password: Any = None, ssh_private_key: Any = None, kafka_ui_password: Any = None):
        self.harbor_password = harbor_password
        self.ssh_private_key = ssh_private_key
        self.kafka_ui_password = kafka_ui_password


# --- raw values -> model ------------------------------------------------------------------------

def _wire_name(name: str, field: Any) -> str:
    return field.alias or to_camel(name)


# Every top-level key (camelCase, as in the stack file), secrets included.
KNOWN_KEYS = sorted({_wire_name(n, f) for n, f in StackConfig.model_fields.items()} | set(SECRET_KEYS))


def _did_you_mean(key: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(key, list(known), n=1, cutoff=0.6)
    if not close:
        close = [k for k in known if k.lower() == key.lower()]
    return f"did you mean {close[0]}? " if close else ""


def parse_stack_config(raw: Mapping[str, str], project_dir: Path) -> StackConfig:
    """Parse `{key-without-msa-prefix: raw text}` into a validated StackConfig, or raise ConfigError."""
    fields = {_wire_name(n, f): f for n, f in StackConfig.model_fields.items()}
    data: dict[str, Any] = {}
    for key, text in raw.items():
        if key in SECRET_KEYS:
            continue
        if key not in fields:
            if "." in key and key.split(".")[0] in fields:
                # `pulumi config set msa:kafka.brokers 3` without --path makes a key with a dot in its name.
                raise ConfigError(key, f"is a key with a dot in its name; set nested values with: pulumi config set --path msa:{key} <value> (and remove this one)")
            raise ConfigError(key, f"unknown key; {_did_you_mean(key, KNOWN_KEYS)}known keys are {', '.join('msa:' + k for k in KNOWN_KEYS)}")
        annotation = fields[key].annotation
        if text == "":
            default = fields[key].get_default()
            hint = f" for the default {default}" if isinstance(default, str) else ""
            raise ConfigError(key, f"is empty; give it a value or remove the line{hint}")
        if _is_text(annotation):
            data[key] = text
            continue
        try:
            # The CLI passes objects and lists as JSON, and a top-level scalar as text: `true`, `3`.
            data[key] = json.loads(text) if isinstance(text, str) else text
        except json.JSONDecodeError:
            if _model_in(annotation) or typing.get_origin(annotation) is dict:
                raise ConfigError(key, "expected an object (a YAML mapping in Pulumi.<stack>.yaml), got plain text") from None
            data[key] = text
    try:
        cfg = StackConfig.model_validate(data)
    except ValidationError as exc:
        raise _to_config_error(exc) from None
    _check_services(cfg, project_dir)
    _check_kafka_overrides(cfg.kafka)
    _check_harbor(cfg)
    _check_addresses(cfg)
    return cfg


def _is_text(annotation: Any) -> bool:
    """A top-level key whose value is text as the CLI passes it (no JSON decoding)."""
    if annotation is str:
        return True
    if typing.get_origin(annotation) is Annotated:
        return typing.get_args(annotation)[0] is str
    return False


def key_path(loc: Iterable[Any]) -> str:
    """('services', 'gw', 'routes', 0, 'service') -> 'services.gw.routes[0].service' (pulumi --path style)."""
    out = ""
    for part in loc:
        if part == "[key]":
            continue  # pydantic's marker for "the key of this mapping is wrong": the path already names it
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _join(path: str, sub: str) -> str:
    return f"{path}{sub}" if sub.startswith("[") else (f"{path}.{sub}" if path else sub)


# A misspelt key explains the "missing" error of the key it was meant to be: report it first.
_ERROR_RANK = {"extra_forbidden": 0, "missing": 2}


def _to_config_error(exc: ValidationError) -> ConfigError:
    """The most telling pydantic error, as one line that names the key and says how to fix it."""
    errors = sorted(exc.errors(include_url=False), key=lambda e: _ERROR_RANK.get(e["type"], 1))
    err = errors[0]
    path = key_path(err["loc"])
    kind, given = err["type"], err.get("input")
    ctx = err.get("ctx") or {}
    if kind == "extra_forbidden":
        parent = _model_at(err["loc"][:-1])
        known = sorted(_wire_name(n, f) for n, f in parent.model_fields.items()) if parent else []
        return ConfigError(path, f"unknown key; {_did_you_mean(str(err['loc'][-1]), known)}known keys here are: {', '.join(known)}")
    if kind == "missing":
        return ConfigError(path, "is required; set it in Pulumi.<stack>.yaml")
    if kind in ("value_error", "assertion_error"):
        problem = ctx.get("error")
        if isinstance(problem, KeyProblem):
            return ConfigError(_join(path, problem.key), str(problem))
        return ConfigError(path, str(problem))
    if kind in ("int_parsing", "int_type", "int_from_float"):
        unquote = isinstance(given, str) and given.strip().lstrip("+-").isdigit()
        return ConfigError(path, f"expected a whole number, got {kind_of(given)}" + ("; write it without quotes" if unquote else ""))
    if kind in ("bool_parsing", "bool_type"):
        unquote = isinstance(given, str) and given.strip().lower() in ("true", "false")
        return ConfigError(path, f"expected true or false, got {kind_of(given)}" + ("; write it without quotes" if unquote else ""))
    if kind == "string_type":
        return ConfigError(path, f"expected text, got {kind_of(given)}" + ("" if isinstance(given, (list, dict)) else "; quote it in YAML"))
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return ConfigError(path, f"expected an object (a YAML mapping), got {kind_of(given)}")
    if kind == "literal_error":
        return ConfigError(path, f"{kind_of(given)} is not allowed; use {ctx['expected']}")
    if kind in ("greater_than_equal", "greater_than"):
        return ConfigError(path, f"{shown(given)} is too small; use at least {ctx.get('ge', ctx.get('gt'))}")
    if kind in ("less_than_equal", "less_than"):
        return ConfigError(path, f"{shown(given)} is too large; use at most {ctx.get('le', ctx.get('lt'))}")
    if kind == "list_type":
        return ConfigError(path, f"expected a list, got {kind_of(given)}")
    msg = err["msg"][0].lower() + err["msg"][1:]
    return ConfigError(path, f"{msg}, got {kind_of(given)}")


def _model_at(loc: Iterable[Any]) -> Optional[type[BaseModel]]:
    """The model class that validates the object at `loc`, to list its keys in an error."""
    annotation: Any = StackConfig
    parts = list(loc)
    while parts:
        model = _model_in(annotation)
        fields = {_wire_name(n, f): f for n, f in model.model_fields.items()} if model else {}
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
    reserved = reserved_names()
    for name in cfg.services:
        if name in reserved:
            raise ConfigError(f"services.{name}", f"{name!r} is a name the stack uses for its own objects ({', '.join(reserved)}); rename the service")
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
    from .kafka_properties import broker_properties  # the derived values the overrides are merged into

    for key in kafka.overrides:
        path = f"kafka.overrides.{key}"
        if not KAFKA_PROPERTY.fullmatch(key):
            raise ConfigError(path, "is not a Kafka broker property name; use lower-case words joined by dots, e.g. log.retention.hours")
        if key in STACK_MANAGED_PROPERTIES:
            raise ConfigError(path, "is computed by the stack per broker; remove the override")
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
    """Every Service gets a ClusterIP inside the CIDR and every NodePort fits (addressing.py's plan)."""
    from ..names import KafkaNames
    from .plan import address_plan

    address_plan(cfg, KafkaNames(namespace=cfg.namespace, cluster_domain=cfg.cluster.cluster_domain))


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


def check_namespaces(keys: Iterable[str]) -> None:
    """A key outside every namespace the program reads (`msq:kafka`, `kafka`) would be ignored silently."""
    for full in sorted(keys):
        ns, colon, key = full.partition(":")
        if not colon:
            ns, key = "", full
        if ns in KNOWN_NAMESPACES:
            continue
        hint = f"did you mean {PROJECT}:{key}? " if key.split(".")[0] in KNOWN_KEYS or not colon else ""
        where = f"namespace {ns!r} is not read by this program" if colon else "has no namespace"
        providers = ", ".join(n + ":" for n in KNOWN_NAMESPACES[1:])
        raise ConfigError(key, f"{where}; {hint}this stack's keys are {PROJECT}:<key> (besides {providers} keys)", namespace=ns)


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
    if cfg.kafka.ui.enabled and cfg.kafka.ui.login and f"{PROJECT}:kafkaUiPassword" not in keys:
        raise ConfigError("kafkaUiPassword", f"kafka-ui asks for a login (kafka.ui.login) but no password is set; run: {set_secret_command('kafkaUiPassword', stack)} "
                          "(or set kafka.ui.readOnly: true and login: false)")
    if cfg.cluster.nodes and f"{PROJECT}:sshPrivateKey" not in keys:
        raise ConfigError("sshPrivateKey", f"cluster.nodes are set up over SSH but no key is set; run: {set_secret_command('sshPrivateKey', stack)}")


def validate(keys: Iterable[str], get: Callable[[str], Optional[str]], is_secret: Callable[[str], bool],
             project_dir: Path, stack: str) -> StackConfig:
    """Every check, on the config as the CLI passes it: `keys` are all full keys (`msa:kafka`,
    `kubernetes:context`, ...), `get` the text of an msa key without its prefix (pure: no Pulumi)."""
    keys = set(keys)
    check_namespaces(keys)
    keys = {k for k in keys if k.startswith(PROJECT + ":")}
    check_secrets_are_secret(keys, is_secret)
    cfg = parse_stack_config(read_raw_config(keys, get), project_dir)
    check_secrets_present(cfg, keys, stack)
    return cfg


def load(project_dir: Path) -> tuple[StackConfig, Secrets]:
    """Read and validate every msa:* key of the running stack (pulumi up or the mock runtime)."""
    import pulumi
    from pulumi.runtime import config as runtime_config

    # The SDK exposes no public "list all keys"; the values live in these two places (explicitly
    # set, e.g. by the mock runtime, and the PULUMI_CONFIG JSON the language host passes).
    every_key = set(runtime_config.CONFIG.get()) | set(runtime_config.get_config_env())
    conf = pulumi.Config(PROJECT)
    env_secret_keys = set(runtime_config.get_config_secret_keys_env())
    cfg = validate(every_key, conf.get, lambda k: runtime_config.is_config_secret(k) or k in env_secret_keys,
                   project_dir, pulumi.get_stack())
    secrets = Secrets(
        harbor_password=conf.get_secret("harborPassword"),
        ssh_private_key=conf.get_secret("sshPrivateKey"),
        kafka_ui_password=conf.get_secret("kafkaUiPassword"),
    )
    return cfg, secrets
