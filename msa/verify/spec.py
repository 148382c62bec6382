"""What the verification expects of the live system, as JSON data for the checker (msa/verify/checker/).

Pure: computed from the validated config and the address plan, before any resource exists. The
verification Job gets it in a ConfigMap; `python3 tasks.py verify STACK` builds the same spec from
the stack file and runs the checker against the NodePorts.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Mapping, Optional

import yaml

from ..addressing import AddressPlan
from ..config import StackConfig
from ..config.kafka_properties import broker_properties
from ..kafka.client_auth import CLIENT_CONFIG, security_protocol
from ..mirror_plan import pulled_repositories, service_digest_source
from ..names import KafkaNames

# The checker package, shipped whole in the Job's ConfigMap and run there as `python3 -m checker`.
CHECKER = Path(__file__).with_name("checker")
VERIFY_TOPIC_PREFIX = "msa-verify"
VERIFY_TRANSACTIONAL_ID = "msa-verify"
VERIFY_RECORDS = 10
# The replication settings the Kafka check reads back from every broker (the rest of the overrides
# are the user's business; these decide whether transactions and consumer groups work at all).
CHECKED_BROKER_PROPERTIES = (
    "default.replication.factor",
    "min.insync.replicas",
    "offsets.topic.replication.factor",
    "transaction.state.log.min.isr",
    "transaction.state.log.replication.factor",
)
CONFIG_SUFFIXES = (".yml", ".yaml", ".properties")


def eureka_address(name: str, cfg: StackConfig, addresses: AddressPlan, names: KafkaNames):
    """The address a client registers under in `msa:spring.registration` mode (None: any pod IP)."""
    mode = cfg.spring.registration
    if mode == "clusterIP":
        return addresses.cluster_ip(name)
    if mode == "serviceDns":
        return names.fqdn(name)
    return None


def config_sources(client: str, files: Mapping[str, str]) -> list[str]:
    """The config-repo files the config server must serve to `client` (`/<client>/default`).

    The native repository serves application.* to everyone and <client>.* to that client; a file
    without a single property produces no property source, so it is not expected.
    """
    wanted = []
    for stem in (client, "application"):
        for suffix in CONFIG_SUFFIXES:
            name = stem + suffix
            if name in files and _has_properties(name, files[name]):
                wanted.append(name)
    return wanted


def _has_properties(name: str, text: str) -> bool:
    if name.endswith(".properties"):
        return any(line.strip() and not line.lstrip().startswith(("#", "!")) for line in text.splitlines())
    try:
        return any(doc for doc in yaml.safe_load_all(text))
    except yaml.YAMLError:
        return True     # the config server will complain itself; expect the file


def verification_spec(cfg: StackConfig, addresses: AddressPlan, names: KafkaNames, config_repo: Mapping[str, str],
                      image_repositories: Mapping[str, str], part_of: str) -> dict:
    """Everything the checker compares the live system with. `image_repositories`: Harbor repository per service."""

    def url(name: str) -> str:
        return f"http://{addresses.cluster_ip(name)}:{cfg.services[name].port}"

    (discovery,) = cfg.by_role("discovery")
    (config,) = cfg.by_role("config")
    gateways = cfg.by_role("gateway")
    spec: dict = {
        "namespace": cfg.namespace,
        "settleSeconds": cfg.verify.settle_seconds,
        "registration": cfg.spring.registration,
        "discovery": {"name": discovery, "url": url(discovery), "nodePort": addresses.node_ports.get(discovery)},
        # The config server is reached by its URL (spring.cloud.config.uri), never through Eureka: it
        # need not register, but if it does, it must register correctly like everyone else.
        "eurekaClients": [
            {"name": name, "address": eureka_address(name, cfg, addresses, names), "port": svc.port, "required": svc.role != "config"}
            for name, svc in cfg.services.items() if svc.role != "discovery" and svc.replicas > 0
        ],
        "config": {
            "name": config, "url": url(config), "nodePort": addresses.node_ports.get(config), "repo": f"{cfg.config_repo}/",
            "clients": [{"name": name, "sources": config_sources(name, config_repo)} for name in cfg.services if name != config],
        },
        "gateway": None,
        "kafka": _kafka_spec(cfg, names),
        "pods": _pods_spec(cfg, names, image_repositories, part_of),
    }
    if gateways:
        (gateway,) = gateways
        spec["gateway"] = {
            "name": gateway, "url": url(gateway), "nodePort": addresses.node_ports.get(gateway),
            "routes": [
                {"path": r.path, "service": r.service, "stripPrefix": r.strip_prefix,
                 "targetUrl": url(r.service), "targetNodePort": addresses.node_ports.get(r.service)}
                for r in cfg.services[gateway].routes
            ],
        }
    return spec


def _kafka_spec(cfg: StackConfig, names: KafkaNames) -> dict:
    kafka = cfg.kafka
    props = broker_properties(kafka.brokers, kafka.overrides)
    return {
        "bootstrap": names.bootstrap_servers,
        "brokers": kafka.brokers,
        "brokerProperties": {k: props[k] for k in CHECKED_BROKER_PROPERTIES},
        "replicationFactor": int(props["default.replication.factor"]),
        "minInsyncReplicas": int(props["min.insync.replicas"]),
        "internalReplicationFactor": {
            "__transaction_state": int(props["transaction.state.log.replication.factor"]),
            "__consumer_offsets": int(props["offsets.topic.replication.factor"]),
        },
        # KRaft: the controller quorum's voters (kafka-metadata-quorum); none in ZooKeeper mode.
        "quorumVoters": kafka.controller_count if kafka.mode == "kraft" else None,
        # One partition per broker: every broker leads one, so every broker takes part in the transaction.
        "partitions": kafka.brokers,
        "topicPrefix": VERIFY_TOPIC_PREFIX,
        "transactionalId": VERIFY_TRANSACTIONAL_ID,
        "records": VERIFY_RECORDS,
        "timeoutMs": cfg.verify.kafka_timeout_seconds * 1000,
        # msa:kafka.authentication: sasl: the admin user's client.properties, mounted from its Secret (job.py).
        "clientConfig": CLIENT_CONFIG if security_protocol(kafka) else None,
    }


def _pods_spec(cfg: StackConfig, names: KafkaNames, image_repositories: Mapping[str, str], part_of: str) -> dict:
    kafka = cfg.kafka
    mirrored = pulled_repositories(cfg)
    return {
        "selector": f"app.kubernetes.io/part-of={part_of}",
        "harbor": cfg.harbor.host,
        "workloads": [
            # byDigest: built, configured or resolved from Harbor, so the pods must run `repository@sha256:...`.
            *({"name": name, "replicas": svc.replicas, "repository": image_repositories[name],
               "byDigest": service_digest_source(svc, cfg.harbor) is not None} for name, svc in cfg.services.items()),
            *_quorum_workloads(kafka, names, mirrored),
            {"name": names.kafka, "replicas": kafka.brokers, **_third_party(mirrored["kafka"], kafka.image)},
            *([{"name": names.ui, "replicas": 1, **_third_party(mirrored["kafka-ui"], kafka.ui.image)}] if kafka.ui.enabled else []),
        ],
    }


def _quorum_workloads(kafka, names: KafkaNames, mirrored: Mapping[str, Optional[str]]) -> list[dict]:
    """ZooKeeper's members, KRaft's dedicated controllers, or nothing (combined: the broker pods)."""
    if kafka.mode == "zookeeper":
        return [{"name": names.zookeeper, "replicas": kafka.zookeeper_replicas, **_third_party(mirrored["zookeeper"], kafka.zookeeper_image)}]
    if kafka.is_combined:
        return []
    return [{"name": names.controller, "replicas": kafka.controller_count, **_third_party(mirrored["kafka"], kafka.image)}]


def _third_party(repository: Optional[str], configured: str) -> dict:
    """A mirrored image runs as <Harbor repository>@<digest> (known only after the copy): match the
    repository; an unmirrored one exactly as configured."""
    return {"repository": repository} if repository else {"image": configured}


def checker_files() -> dict[str, str]:
    """Every module of the checker package by file name: what the Job's ConfigMap ships."""
    return {path.name: path.read_text() for path in sorted(CHECKER.glob("*.py"))}


def checker_source() -> str:
    """All of the checker's text as one string, for `inputs_digest`: a change to any module counts."""
    return json.dumps(checker_files(), sort_keys=True)


def spec_json(spec: dict) -> str:
    return json.dumps(spec, indent=2, sort_keys=True) + "\n"


def inputs_digest(spec: dict, checker_source: str, stack_config_json: str, config_repo: Mapping[str, str],
                  images: Mapping[str, str]) -> str:
    """sha256 over everything that can change a verification's result.

    Not only the spec: every msa:* setting shapes something the checks observe (a heap, a probe, a
    transaction prefix), and a new image build can break what an old one did right. A narrower hash
    would have to follow every new key by hand and would silently miss one; a verification too many
    costs a minute. Secrets are not part of `stack_config_json` and never hashed into the Job.
    """
    digest = hashlib.sha256()
    for part in (spec_json(spec), checker_source, stack_config_json,
                 json.dumps(dict(config_repo), sort_keys=True), json.dumps(dict(images), sort_keys=True)):
        digest.update(part.encode())
        digest.update(b"\0")
    return "sha256:" + digest.hexdigest()
