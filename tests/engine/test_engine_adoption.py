"""Taking over the hand-made deployment (README "Taking over the hand-made deployment") through the real
engine, both documented paths, starting from the seed cluster's objects made with kubectl: the namespace,
the Services user-service/store-service on 10.104.193.23/.24, and Deployments whose selector is not the
stack's (which the README says to delete first: a selector is immutable)."""

from __future__ import annotations

import json

import pytest

from engine.stack import EngineStack

pytestmark = [pytest.mark.engine, pytest.mark.integration]

SEED = """\
apiVersion: v1
kind: Namespace
metadata: {name: msa}
---
apiVersion: v1
kind: Service
metadata: {name: user-service, namespace: msa, labels: {team: made-by-hand}}
spec:
  clusterIP: 10.104.193.23
  selector: {app: user-service}
  ports: [{port: 46279, targetPort: 46279}]
---
apiVersion: v1
kind: Service
metadata: {name: store-service, namespace: msa, labels: {team: made-by-hand}}
spec:
  clusterIP: 10.104.193.24
  selector: {app: store-service}
  ports: [{port: 8080, targetPort: 8080}]
""" + "".join(f"""\
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}, namespace: msa}}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      containers: [{{name: {name.split('-')[0]}, image: "msa.harbor.com/library/{name.replace('-', '')}:0.9"}}]
""" for name in ("user-service", "store-service"))
KEPT = (("namespace", "msa", None), ("service", "user-service", "msa"), ("service", "store-service", "msa"))


def seed(control_plane) -> dict[tuple, str]:
    """The hand-made objects; returns the uid of each object the README says is kept."""
    control_plane.apply(SEED)
    return {k: control_plane.get(k[0], k[1], k[2])["metadata"]["uid"] for k in KEPT}


def existing_objects(control_plane) -> set[str]:
    """README step: `Kind:namespace/name` of what exists (the jq over `kubectl get ... -o json`)."""
    found = {"Namespace:msa"} if control_plane.get("namespace", "msa", None) else set()
    for kind in ("services", "deployments", "statefulsets", "poddisruptionbudgets", "jobs", "serviceaccounts",
                 "roles", "rolebindings", "networkpolicies"):
        found |= {f"{o['kind'] if 'kind' in o else kind}:msa/{o['metadata']['name']}" for o in
                  json.loads(control_plane.kubectl("get", kind, "-n", "msa", "-o", "json").stdout)["items"]}
    return found


def owned_by_stack(control_plane, kind: str, name: str, namespace) -> bool:
    managers = control_plane.get(kind, name, namespace)["metadata"].get("managedFields", [])
    return any(m["manager"].startswith("pulumi") and m["operation"] == "Apply" for m in managers)


def assert_taken_over(stack: EngineStack, control_plane, kept: dict) -> None:
    for (kind, name, namespace), uid in kept.items():
        live = control_plane.get(kind, name, namespace)
        assert live["metadata"]["uid"] == uid, f"{kind} {name} was replaced"
        if kind != "namespace":   # an imported namespace whose declared fields are already live gets no apply
            assert owned_by_stack(control_plane, kind, name, namespace), f"{kind} {name} has no pulumi field manager: {[(m['manager'], m['operation']) for m in live['metadata'].get('managedFields', [])]}"
    assert control_plane.get("service", "user-service")["spec"]["clusterIP"] == "10.104.193.23"
    assert control_plane.get("service", "store-service")["spec"]["clusterIP"] == "10.104.193.24"
    selector = control_plane.get("deployment", "user-service")["spec"]["selector"]["matchLabels"]
    assert selector == {"app.kubernetes.io/name": "user-service", "app.kubernetes.io/instance": "user-service"}
    ids = {r.get("id") for r in stack.resources()}
    assert {"msa", "msa/user-service", "msa/store-service"} <= ids
    assert set(stack.up().changes) == {"same"}


def test_adoption_by_import_file(engine_stack, control_plane):
    kept = seed(control_plane)
    stack = engine_stack("dev")
    # README: Deployments whose selector is not the stack's are deleted first (stateless; `up` creates them).
    control_plane.kubectl("delete", "deployment", "user-service", "store-service", "-n", "msa", "--wait=true")

    document = json.loads((stack.render() / "import.json").read_text())
    existing = existing_objects(control_plane)
    document["resources"] = [r for r in document["resources"]
                             if r.get("component") or f"{r['type'].split(':')[-1]}:{r['id']}" in existing]
    assert {r["id"] for r in document["resources"] if "id" in r} == {"msa", "msa/user-service", "msa/store-service"}
    import_file = stack.root / "import.json"
    import_file.write_text(json.dumps(document))

    stack.cli("import", "--file", str(import_file), "--protect=false", "--generate-code=false", "--yes")
    preview = stack.preview()
    replaced = {name for name, op in preview.changed().items() if "replace" in op}
    assert not replaced, replaced
    assert preview.changed()["Service/user-service"] == "update", preview.changed()
    assert preview.changed()["Deployment/user-service"] == "create", preview.changed()
    stack.up()
    assert_taken_over(stack, control_plane, kept)


def test_adoption_by_upsert_existing_objects(engine_stack, control_plane):
    kept = seed(control_plane)
    stack = engine_stack("dev")
    stack.edit(lambda c: c.update({"kubernetes:upsertExistingObjects": "true"}))

    # docs/adoption.md: the preview shows every object as a plain create (it cannot tell which exist), and
    # the program warns while the option is on; a selector that differs is found by comparing by hand.
    preview = stack.preview()
    assert preview.changed()["Service/user-service"] == "create", preview.changed()
    assert not [name for name, op in preview.changed().items() if op != "create"], preview.changed()
    warnings = [e.diagnostic_event.message for e in preview.events if getattr(e, "diagnostic_event", None)]
    assert any("kubernetes:upsertExistingObjects is on" in m for m in warnings), warnings
    control_plane.kubectl("delete", "deployment", "user-service", "store-service", "-n", "msa", "--wait=true")
    stack.up()

    # Off again: an update of the default provider, no replacement of any object.
    stack.edit(lambda c: c.pop("kubernetes:upsertExistingObjects"))
    off = stack.preview()
    assert not [name for name, op in off.changed().items() if "replace" in op or op == "delete"], off.changed()
    stack.up()
    assert_taken_over(stack, control_plane, kept)
