"""The `msa:kafka` object of the config model: brokers, the metadata quorum (KRaft controllers or a
ZooKeeper ensemble), their sizes, kafka-ui and the broker property overrides.

KRaft (`mode: kraft`, the default for new stacks): the controller quorum is static, as cp-kafka 7.9's
start script formats the storage (`kafka-storage format --cluster-id`, no `--standalone` or
`--initial-controllers`): `controller.quorum.voters` lists the voters and Kafka 3.9 cannot add or
remove one (KIP-853 needs a dynamic quorum, formatted so from the start). So `combined` and
`controllers` are fixed once the stack runs (msa/kafka/cluster_id.py refuses a change).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Optional

import re

from pydantic import AfterValidator, BeforeValidator, Field, model_validator

from .fields import DEFAULT_UID, KeyProblem, NodePort, StrictModel, Uid, exact_int
from .forms import Form, ImageReference, KafkaPropertyValue, StorageClassName, Text, jvm_size_bytes
from .resources import Resources, heap_problem
from .sizes import BrokerHeap, BrokerVolume, ControllerHeap, ControllerVolume, ZookeeperHeap, ZookeeperVolume

CONTROLLER_COUNTS = (1, 3, 5)
MIGRATION_STEPS = ("none", "migrate", "brokers", "finalize")


def _cluster_id(value: str) -> str:
    # Kafka's Uuid as text: 16 bytes, URL-safe base64 without padding (what /cluster/id and meta.properties hold).
    if not re.fullmatch(r"[A-Za-z0-9_-]{22}", value):
        raise ValueError(f"{value!r} is not a Kafka cluster id (22 characters of A-Z a-z 0-9 _ -, as ZooKeeper's /cluster/id shows it)")
    return value


ClusterId = Annotated[str, AfterValidator(_cluster_id), Form("Kafka cluster id")]


class KafkaUi(StrictModel):
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


OverrideKey = Annotated[str, Form("Kafka broker property")]


class Kafka(StrictModel):
    mode: Literal["kraft", "zookeeper"] = "kraft"
    """Where the cluster's metadata lives: `kraft` = Kafka's own controller quorum, no ZooKeeper (new stacks); `zookeeper` = a ZooKeeper ensemble (stacks that run it until they migrate; see [KRaft](kraft.md))."""
    brokers: int = Field(1, ge=1, le=9)
    """Number of Kafka brokers (1-9)."""
    combined: Optional[bool] = None
    """`kraft`: `true` = the first `controllers` broker pods are controllers too (one JVM per pod, no controller pods); `false` = dedicated controller pods (`kafka-controller`); none = combined below 3 brokers, dedicated from 3. Fixed once the stack runs."""
    controllers: Optional[int] = None
    """`kraft`: voters of the controller quorum, 1, 3 or 5; none = 1 when combined below 3 brokers, else 3. Fixed once the stack runs (Kafka 3.9's static quorum)."""
    migration: Literal[MIGRATION_STEPS] = "none"
    """The step of the ZooKeeper -> KRaft migration ([Migrating to KRaft](kraft-migration.md)): `migrate` and then `brokers` with mode: zookeeper, `finalize` with mode: kraft (ZooKeeper goes); `none` otherwise. Steps run in order, each may run again."""
    cluster_id: Optional[ClusterId] = None
    """The cluster id of the ZooKeeper-mode cluster to migrate, as `zookeeper-shell <zookeeper> get /cluster/id` shows it; needed from migration: migrate on, kept afterwards."""
    zookeeper_replicas: Annotated[Literal[1, 3, 5], BeforeValidator(exact_int)] = 1
    """`zookeeper`: ZooKeeper ensemble size."""
    storage_class: StorageClassName = ""
    """StorageClass of the PVCs; "" = the cluster's default."""
    storage_size: BrokerVolume = "10Gi"
    """PVC size of each broker."""
    zookeeper_storage_size: ZookeeperVolume = "2Gi"
    """`zookeeper`: PVC size of each ZooKeeper member."""
    controller_storage_size: ControllerVolume = "2Gi"
    """`kraft` with dedicated controllers: PVC size of each controller (the metadata log)."""
    image: ImageReference = "confluentinc/cp-kafka:7.9.1"
    """Broker (and KRaft controller) image; 7.9 (Kafka 3.9) is the last line with ZooKeeper mode and the one that migrates from it."""
    zookeeper_image: ImageReference = "confluentinc/cp-zookeeper:7.9.1"
    """`zookeeper`: ZooKeeper image."""
    heap: BrokerHeap = "512m"
    """Broker JVM heap (-Xms/-Xmx); must fit resources.memoryLimit with headroom."""
    zookeeper_heap: ZookeeperHeap = "256m"
    """`zookeeper`: ZooKeeper JVM heap; must fit zookeeperResources.memoryLimit with headroom."""
    controller_heap: ControllerHeap = "256m"
    """`kraft` with dedicated controllers: controller JVM heap; must fit controllerResources.memoryLimit with headroom."""
    resources: Resources = Resources(cpu="250m", memory="1Gi", cpu_limit="1", memory_limit="1536Mi")
    """Broker container requests/limits."""
    zookeeper_resources: Resources = Resources(cpu="100m", memory="512Mi", cpu_limit="500m", memory_limit="768Mi")
    """`zookeeper`: ZooKeeper container requests/limits."""
    controller_resources: Resources = Resources(cpu="100m", memory="512Mi", cpu_limit="500m", memory_limit="768Mi")
    """`kraft` with dedicated controllers: controller container requests/limits."""
    ui: KafkaUi = KafkaUi()
    """kafbat kafka-ui."""
    authentication: Literal["sasl", "none"] = "sasl"
    """`sasl`: clients log in to Kafka with SCRAM-SHA-512 and the brokers to ZooKeeper with SASL DIGEST-MD5 (Kafka's znodes get ACLs), in KRaft the controller listener with SASL/PLAIN; `none`: Kafka's listeners are open. Passwords derive from the secret msa:kafkaAuthSecret. A running open ZooKeeper-mode cluster moves to `sasl` in one `pulumi up`; a KRaft cluster keeps what it started with ([Security](security.md))."""
    tls: bool = False
    """`true`: the SCRAM listener speaks TLS (SASL_SSL), clients and brokers alike, with a broker certificate the stack issues from the CA in the secret msa:kafkaTlsCa; needs `authentication: sasl` (KRaft's controller listener stays SASL_PLAINTEXT). Fixed once the cluster runs ([Security](security.md))."""
    allow_tls_change: bool = False
    """`true` for the one `pulumi up` that switches `tls` on a running cluster, accepting that clients and replication stop until the brokers' roll ends ([Security](security.md)); remove it afterwards."""
    overrides: dict[OverrideKey, KafkaPropertyValue] = {}
    """Extra broker properties, checked against the broker properties of the Kafka the image runs (3.9; names, types, ranges; no passwords); replication factors above the broker count and min ISR above the replication factor are rejected."""

    @property
    def kraft(self) -> bool:
        return self.mode == "kraft"

    @property
    def is_combined(self) -> bool:
        """KRaft: whether broker pods are the controllers (the default below 3 brokers)."""
        return self.combined if self.combined is not None else self.brokers < 3

    @property
    def controller_count(self) -> int:
        """KRaft: voters of the controller quorum (the default: 1 combined below 3 brokers, else 3)."""
        if self.controllers is not None:
            return self.controllers
        return 1 if self.is_combined and self.brokers < 3 else 3

    @model_validator(mode="before")
    @classmethod
    def _retired_keys(cls, data: Any) -> Any:
        if isinstance(data, dict) and "transition" in data:
            raise KeyProblem("transition", "is no longer needed: a running open cluster moves to authentication: sasl in one pulumi up; "
                                           "remove the key (pulumi config rm msa:kafka.transition, docs/security.md)")
        return data

    @model_validator(mode="after")
    def _heaps_fit(self) -> "Kafka":
        for heap, key, resources, resources_key in (
            (self.heap, "heap", self.resources, "kafka.resources"),
            (self.zookeeper_heap, "zookeeperHeap", self.zookeeper_resources, "kafka.zookeeperResources"),
            (self.controller_heap, "controllerHeap", self.controller_resources, "kafka.controllerResources"),
        ):
            problem = heap_problem(jvm_size_bytes(heap), heap, resources, resources_key)
            if problem:
                raise KeyProblem(key, problem)
        return self

    @model_validator(mode="after")
    def _quorum(self) -> "Kafka":
        count = self.controller_count
        if count not in CONTROLLER_COUNTS:
            why = (f"{count} is even: a quorum of {count} needs {count // 2 + 1} voters up and survives no more failures than {count - 1}"
                   if count > 0 and count % 2 == 0 else f"{count} is not a quorum size this stack runs")
            raise KeyProblem("controllers", f"{why}; use 1, 3 or 5")
        if self.tls and self.authentication != "sasl":
            raise KeyProblem("tls", "true encrypts the SCRAM listener, which exists with authentication: sasl only; set "
                                    "msa:kafka.authentication: sasl or msa:kafka.tls: false")
        if self.is_combined and count > self.brokers:
            raise KeyProblem("controllers", f"{count} combined controllers need at least {count} brokers (msa:kafka.brokers is "
                                            f"{self.brokers}); use controllers: 1, more brokers, or combined: false for dedicated controllers")
        return self
