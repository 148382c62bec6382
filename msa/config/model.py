"""Every `msa:*` key as a typed field (the `msa:kafka` object in kafka_model.py): the schema the stack's configuration is read into.

Pulumi hands a program its configuration as text (objects as JSON). `parse_stack_config` (parse.py)
turns that into a frozen `StackConfig`, or raises `ConfigError` naming the exact key.

The model below IS the configuration reference: every key is one typed field with a docstring, and
the configuration reference (docs/configuration.md) is generated from it (`python3 tasks.py docs`). To add a key: add
the field with its type (a form from forms.py where one fits) and a docstring, put a rule that spans
several keys in a `model_validator` of the object that holds them (raise `KeyProblem` to blame one
key; checks.py holds the rules that need more than the model), then run `python3 tasks.py docs`.
Types are strict: `true` is not a number and `"3"` is not 3.
"""

from __future__ import annotations

import ipaddress
import re
from decimal import Decimal
from typing import Annotated, Any, Literal, Optional

from pydantic import BeforeValidator, Field, model_validator

from .mirror import MirrorImage
from .fields import DEFAULT_UID, Cidr, Ipv4, KeyProblem, NodePort, StrictModel, Uid
from .forms import (
    AbsolutePath, GatewayPath, DnsLabel, DnsSubdomain, Form, Host, ImageDigest, ImagePath, ImageTag,
    Port, PortRange, RegistryHost, Folder, ServiceName, SshHostKey, Text, UserName, jvm_size_bytes, shown,
)
from .kafka_model import Kafka
from .secrets import SECRET_KEYS, Secrets  # noqa: F401  (re-exported: the secret keys beside the model's)
from .resources import JVM_HEADROOM, Resources, heap_problem
from .sizes import SERVICE_HEAP, size_problem

PROJECT = "msa"


class Bastion(StrictModel):
    host: Host
    """SSH jump host in front of the node."""
    user: UserName = "root"
    """SSH user on the bastion."""
    port: Port = 22
    """SSH port of the bastion."""
    host_key: Optional[SshHostKey] = None
    """The bastion's SSH host key, checked on every connection (see the node's `hostKey`)."""


class Node(StrictModel):
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


class Cluster(StrictModel):
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


class Harbor(StrictModel):
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
    """How built images reach Harbor (see [Images and nodes](images-and-nodes.md))."""
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
    mirror: Literal["copy", "proxy-cache", "off"] = "copy"
    """Third-party images (cp-kafka, cp-zookeeper, kafka-ui): `copy` them into `mirrorProject` during `pulumi up` (through `push`), pull them through Harbor's `proxy-cache` projects (`proxyProjects`), or `off` (pulled from their own registries)."""
    mirror_project: ImagePath = "mirror"
    """`mirror: copy`: Harbor project the third-party images are copied into (create it in Harbor first)."""
    mirror_platforms: Literal["node", "all"] = "node"
    """`mirror: copy`: copy only `linux/<cluster.nodeArch>`, or `all` platforms as a multi-arch index."""
    proxy_projects: dict[RegistryHost, ImagePath] = {"docker.io": "dockerhub-proxy", "ghcr.io": "ghcr-proxy"}
    """`mirror: proxy-cache`: the Harbor proxy-cache project of each upstream registry (see "Images")."""
    mirror_images: dict[Annotated[str, Form("mirrored image name")], MirrorImage] = {}
    """Per mirrored image (`cp-kafka`, `cp-zookeeper`, `kafka-ui`): `{archive}` for air-gapped sites, `{digest}` with `push: none`."""


class Route(StrictModel):
    path: GatewayPath
    """Gateway Path predicate, e.g. `/user-service/**`."""
    service: Annotated[Text, Form("a key of msa:services")]
    """Target service (a key of `msa:services`)."""
    strip_prefix: int = Field(0, ge=0, le=10)
    """Path segments the gateway strips before forwarding."""


class KafkaClient(StrictModel):
    transactional: bool = True
    """Per-pod `spring.kafka.producer.transaction-id-prefix`; false for plain `KafkaTemplate.send()` outside transactions."""


def _kafka_client(value: Any) -> Any:
    # `kafka: true` is short for `kafka: {}` (a transactional producer), `false` for no Kafka at all.
    if isinstance(value, bool):
        return {} if value else None
    if value is not None and not isinstance(value, dict):
        raise ValueError(f"expected true, false or an object such as {{transactional: false}}, got {shown(value)}")
    return value


class Service(StrictModel):
    role: Literal["discovery", "config", "gateway", "app"] = "app"
    """`discovery`, `config`, `gateway` (exactly one discovery and one config) or `app`."""
    image: ImagePath
    """Repository inside `<harbor.host>/<harbor.project>/`."""
    tag: ImageTag
    """Image tag, quoted; `latest` is refused."""
    digest: Optional[ImageDigest] = None
    """Prebuilt image (no `context`): its manifest digest; deployed as `image:tag@digest`, the one integrity check over plain HTTP. Unset: read from Harbor at every preview and up (`harbor.push` direct or relay), or by tag with `push: none`."""
    run_as_user: Uid = DEFAULT_UID
    """Numeric uid the container runs as (non-root, read-only root filesystem, writable /tmp); the image's files must be readable by it."""
    port: Port
    """The app's HTTP port; also the Service port."""
    node_port: Optional[NodePort] = None
    """Expose on this NodePort; none = ClusterIP only."""
    cluster_ip: Optional[Ipv4] = Field(None, alias="clusterIP")
    """Fixed ClusterIP; none = derived from the name (see [Addresses](#addresses))."""
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
            problem = size_problem(xmx[-1], SERVICE_HEAP)
            if problem:
                raise KeyProblem("javaOpts", f"-Xmx{problem.replace('did you mean ', 'did you mean -Xmx')}")
            problem = heap_problem(jvm_size_bytes(xmx[-1]), f"-Xmx{xmx[-1]}", self.resources, "resources")
            if problem:
                raise KeyProblem("javaOpts", problem)
        percent = re.findall(r"(?:^|\s)-XX:MaxRAMPercentage=([0-9.]+)(?=\s|$)", self.java_opts)
        if percent and not xmx and Decimal(percent[-1]) > 100 * (1 - JVM_HEADROOM):
            raise KeyProblem("javaOpts", f"-XX:MaxRAMPercentage={percent[-1]} leaves the JVM no room beyond the heap (metaspace, threads, "
                                         f"buffers) before the container's memory limit; use at most {100 * (1 - JVM_HEADROOM):.0f}")
        return self


class Spring(StrictModel):
    registration: Literal["clusterIP", "serviceDns", "podIP"] = "clusterIP"
    """What each Eureka client registers as its address (see [Eureka registration modes](spring.md#registration))."""
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


class Verify(StrictModel):
    enabled: bool = True
    """Run the verification Job at the end of every `pulumi up` that changed something (see [Verification](verification.md))."""
    settle_seconds: int = Field(180, ge=0, le=1800)
    """How long failing checks are repeated while clients register and gateways refresh their registry."""
    kafka_timeout_seconds: int = Field(60, ge=5, le=600)
    """How long a Kafka client of the check may block (e.g. `InitProducerId`) before the check fails."""


class StackConfig(StrictModel):
    namespace: DnsLabel = "msa"
    """Namespace of every object."""
    cluster: Cluster = Cluster()
    """The Kubernetes cluster and its nodes."""
    harbor: Harbor
    """The Harbor registry."""
    kafka: Kafka = Kafka()
    """Kafka, its metadata quorum (KRaft controllers or ZooKeeper) and kafka-ui."""
    spring: Spring = Spring()
    """Spring Cloud settings shared by every service."""
    services: dict[ServiceName, Service]
    """`<name>` is the Service name, the Deployment name and `spring.application.name`."""
    config_repo: Folder = "config-repo"
    """Folder served by the config server (needs an `application.yml`)."""
    verify: Verify = Verify()
    """The verification Job that ends `pulumi up`."""
    allow_address_change: list[Annotated[Text, Form("a Service name")]] = []
    """Services whose existing ClusterIP this `pulumi up` may change (the Service is replaced, clients get a new address); remove the entries after that up (see "Addresses")."""

    def by_role(self, role: str) -> list[str]:
        return [name for name, svc in self.services.items() if svc.role == role]

