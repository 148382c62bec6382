"""A new stack file from an existing one (`python3 tasks.py init-stack team --from dev`).

What is copied is the shape of the system (services, Kafka, Harbor, nodes); what belongs to the
template's own stack is left out, because it would be wrong or unusable for a new one:
- every `secure:` value and the encryption lines (`encryptionsalt`, `secretsprovider`, `encryptedkey`):
  ciphertext of another stack's key, which the new stack cannot decrypt;
- ZooKeeper mode: a new stack has no cluster to migrate, so it runs KRaft (`msa:kafka.mode: kraft`)
  without the template's ZooKeeper keys, authenticated (`msa:kafka.authentication: sasl`, written out: a
  KRaft cluster cannot start authenticating later);
- every `clusterIP` pin: an address of the template's cluster. Without a pin a Service's address is
  derived from its name inside the new `serviceCidr` (README "Addresses").
"""

from __future__ import annotations

import copy
import ipaddress
from pathlib import Path
from typing import Optional

import yaml

from .stackfile import load_document

ENCRYPTION_LINES = ("encryptionsalt", "secretsprovider", "encryptedkey")
ZOOKEEPER_KEYS = ("zookeeperReplicas", "zookeeperStorageSize", "zookeeperImage", "zookeeperHeap", "zookeeperResources")


class TemplateError(Exception):
    pass


def new_stack_document(template: dict, service_cidr: Optional[str] = None, context: Optional[str] = None) -> tuple[dict, list[str]]:
    """(the new stack file's document, what was left out or changed: one phrase each)."""
    doc = {k: copy.deepcopy(v) for k, v in template.items() if k not in ENCRYPTION_LINES}
    config = doc.setdefault("config", {}) or {}
    doc["config"] = config
    notes = []
    for key in [k for k, v in config.items() if isinstance(v, dict) and set(v) == {"secure"}]:
        del config[key]
        notes.append(f"{key} left out (set it with init-stack)")
    for name, svc in (config.get("msa:services") or {}).items():
        if isinstance(svc, dict) and "clusterIP" in svc:
            notes.append(f"msa:services.{name}.clusterIP {svc.pop('clusterIP')} left out (derived from the name in the new range)")
    kafka = config.get("msa:kafka")
    if isinstance(kafka, dict):
        # A new stack has no cluster yet: it starts in KRaft (docs/kraft.md), whatever the template runs.
        if kafka.get("mode") != "kraft":
            notes.append("msa:kafka.mode: kraft (a new cluster; the template's ZooKeeper settings left out)")
        kafka["mode"] = "kraft"
        # ...and authenticates from its first start: a KRaft cluster cannot start to later (docs/security.md).
        if kafka.get("authentication", "sasl") != "sasl":
            notes.append("msa:kafka.authentication: sasl (a new KRaft cluster authenticates from its first start)")
        kafka["authentication"] = "sasl"
        for key in ZOOKEEPER_KEYS:
            kafka.pop(key, None)
    if service_cidr is not None:
        try:
            network = ipaddress.IPv4Network(service_cidr)
        except ValueError as exc:
            raise TemplateError(f"--service-cidr {service_cidr}: {exc}; use your API server's --service-cluster-ip-range, e.g. 10.43.0.0/16") from None
        config.setdefault("msa:cluster", {})["serviceCidr"] = str(network)
        notes.append(f"msa:cluster.serviceCidr: {network}")
    if context is not None:
        config["kubernetes:context"] = context
        notes.append(f"kubernetes:context: {context}")
    return doc, notes


def stack_from_template(project_dir: Path, template: str, stack: str, service_cidr: Optional[str] = None,
                        context: Optional[str] = None) -> str:
    """Write Pulumi.<stack>.yaml from Pulumi.<template>.yaml; never over an existing file."""
    source, target = project_dir / f"Pulumi.{template}.yaml", project_dir / f"Pulumi.{stack}.yaml"
    if not source.is_file():
        raise TemplateError(f"--from {template}: {source.name} not found; use one of: "
                            + ", ".join(sorted(p.name[len("Pulumi."):-len(".yaml")] for p in project_dir.glob("Pulumi.*.yaml")) or "none"))
    if target.exists():
        raise TemplateError(f"{target.name} exists already; edit it, or run init-stack {stack} without --from")
    doc, notes = new_stack_document(load_document(source) or {}, service_cidr, context)
    header = (f"# Stack {stack}: written by `init-stack {stack} --from {template}` (msa/config/template.py).\n"
              "# Edit it for your cluster (README: \"Make it yours\"), then commit it.\n")
    target.write_text(header + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=120))
    return f"wrote {target.name} from {source.name}: " + "; ".join(notes or ["copied as is"])
