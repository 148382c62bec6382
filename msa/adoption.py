"""Taking over objects that already exist in the cluster (pure; docs/adoption.md).

`import_document` builds the `pulumi import --file` document for every Kubernetes object the program
registers, in the CLI's import-file format (pulumi/pulumi pkg/cmd/pulumi/operations/import.go:
`nameTable` + `resources[]` of `{type, name, logicalName, id, parent, component}`):
- `logicalName` is the resource name the program uses and `type` its type token, so the imported
  state has exactly the URN the program registers;
- `name` is a handle unique in the file (`<Type>-<logicalName>`): the SpringService component
  `user-service` and its Service `user-service` share a logical name, and the CLI refuses an
  ambiguous parent name;
- the components the objects live in are entries with `component: true` (no id), so the CLI creates
  the parent chain (`msa:spring:SpringService$kubernetes:core/v1:Service`) in the import itself;
- `id` is pulumi-kubernetes' import id: `namespace/name`, or `name` for cluster-scoped objects.
Auto-named objects (ConfigMaps, Secrets: `<name>-<random>`) are left out: they cannot exist before
the stack creates them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Optional

STACK_TYPE = "pulumi:pulumi:Stack"
AUTONAMED = "pulumi.com/autonamed"
# The stack setting for a one-time adoption run (pulumi-kubernetes provider option, read from the
# stack config by the default provider as kubernetes:config:upsertExistingObjects).
UPSERT_KEY = "upsertExistingObjects"


@dataclass(frozen=True)
class Registration:
    """What the program registered: enough to name it in an import file."""

    type: str
    name: str
    urn: str
    parent: str                 # parent URN ("" or the stack's URN for top-level resources)
    custom: bool
    metadata: Optional[dict]    # the Kubernetes metadata (custom kubernetes:* resources only)


def _handle(reg: Registration) -> str:
    return f"{reg.type.rsplit(':', 1)[-1]}-{reg.name}"


def import_id(metadata: dict) -> str:
    namespace = metadata.get("namespace")
    return f"{namespace}/{metadata['name']}" if namespace else metadata["name"]


def importable(reg: Registration) -> bool:
    meta = reg.metadata or {}
    autonamed = (meta.get("annotations") or {}).get(AUTONAMED) == "true"
    # A *Patch resource (the PVC growth) changes fields of an object it does not own: nothing to import.
    patch = reg.type.endswith("Patch")
    return reg.custom and reg.type.startswith("kubernetes:") and bool(meta.get("name")) and not autonamed and not patch


def import_document(registrations: Iterable[Registration]) -> dict:
    regs = list(registrations)
    by_urn = {r.urn: r for r in regs}

    def parent_of(reg: Registration) -> Optional[Registration]:
        parent = by_urn.get(reg.parent)
        return parent if parent is not None and parent.type != STACK_TYPE else None

    # Stable order (registrations arrive from several threads); the CLI resolves parents in any order.
    objects = sorted((r for r in regs if importable(r)), key=lambda r: (r.type, import_id(r.metadata or {})))
    components: dict[str, Registration] = {}
    for obj in objects:
        chain, parent = [], parent_of(obj)
        while parent is not None:
            chain.append(parent)
            parent = parent_of(parent)
        for component in reversed(chain):
            components.setdefault(component.urn, component)

    def entry(reg: Registration) -> dict:
        spec = {"type": reg.type, "name": _handle(reg), "logicalName": reg.name}
        if reg.custom:
            spec["id"] = import_id(reg.metadata or {})
        else:
            spec["component"] = True
        parent = parent_of(reg)
        if parent is not None:
            spec["parent"] = _handle(parent)
        return spec

    ordered = sorted(components.values(), key=lambda c: c.urn)
    return {"resources": [entry(c) for c in ordered] + [entry(o) for o in objects]}


def adoption_warnings(upsert_existing_objects: Optional[bool]) -> list[str]:
    if upsert_existing_objects:
        return [f"kubernetes:{UPSERT_KEY} is on: creating an object that already exists updates it instead of failing; "
                f"for the adoption run only, then: pulumi config rm kubernetes:{UPSERT_KEY}"]
    return []
