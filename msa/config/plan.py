"""Stack-wide plans computed from the validated config, before any resource exists."""

from __future__ import annotations

import os
from pathlib import Path

from ..addressing import AddressPlan, AddressRequest, plan_addresses
from ..errors import ConfigError
from ..names import KafkaNames
from .model import StackConfig


def kafka_names(cfg: StackConfig) -> KafkaNames:
    """The Kafka objects' names and addresses of this stack (the client port follows msa:kafka.authentication)."""
    return KafkaNames(namespace=cfg.namespace, cluster_domain=cfg.cluster.cluster_domain, sasl=cfg.kafka.authentication == "sasl")


def address_requests(cfg: StackConfig, names: KafkaNames) -> list[AddressRequest]:
    """Every Service of the stack that gets a ClusterIP, with the config key that decides it."""
    requests = [AddressRequest(names.bootstrap, None, "kafka.brokers")]
    if cfg.kafka.mode == "zookeeper":
        requests.insert(0, AddressRequest(names.zookeeper, None, "kafka.zookeeperReplicas"))
    if cfg.kafka.ui.enabled:
        requests.append(AddressRequest(names.ui, None, "kafka.ui", cfg.kafka.ui.node_port, "kafka.ui.nodePort"))
    for name, svc in cfg.services.items():
        requests.append(AddressRequest(name, svc.cluster_ip, f"services.{name}.clusterIP", svc.node_port, f"services.{name}.nodePort"))
    return requests


def address_plan(cfg: StackConfig, names: KafkaNames) -> AddressPlan:
    # Service names the stack reserves for itself are refused by config (names.reserved_names).
    plan = plan_addresses(address_requests(cfg, names), cfg.cluster.service_cidr, cfg.cluster.node_ports)
    if cfg.allow_address_change:
        # Said on every run while it is set: the next accidental change would pass too.
        plan.warnings.append(f"msa:allowAddressChange: the ClusterIPs of {', '.join(cfg.allow_address_change)} may change in this up "
                             "(the Service is re-created); remove the key afterwards so a later change is refused again")
    return plan


def config_repo_files(cfg: StackConfig, project_dir: Path) -> dict[str, str]:
    """The files the config server serves, by file name (a ConfigMap is flat: no sub-folders)."""
    folder = project_dir / cfg.config_repo
    # os.path.isdir, not Path.is_dir: a name the file system cannot hold (too long) is "no such folder", not an OSError.
    if not os.path.isdir(folder):
        raise ConfigError("configRepo", f"folder {cfg.config_repo!r} does not exist; create it with at least an application.yml")
    files = {p.name: p.read_text() for p in sorted(folder.iterdir()) if p.is_file() and p.suffix in (".yml", ".yaml", ".properties")}
    if "application.yml" not in files and "application.yaml" not in files:
        raise ConfigError("configRepo", f"{cfg.config_repo}/ has no application.yml; the config server reports DOWN without one")
    return files
