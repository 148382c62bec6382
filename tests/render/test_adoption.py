"""Taking over the hand-made deployment: import.json and the adoption-run switch."""

import json

import pytest

import render
from msa.adoption import Registration, import_document
from conftest import ROOT, run_stack

STACK_PREFIX = "pulumi:pulumi:Stack$"


def _cli_urns(document: dict, stack: str) -> dict[str, str]:
    """Entry name -> the URN `pulumi import --file` gives it (import.go: NewURN(stack, project,
    parent's qualified type, type, logicalName); no parent = a child of the stack)."""
    entries = {e["name"]: e for e in document["resources"]}
    assert len(entries) == len(document["resources"]), "entry names must be unique"

    def qualified_type(name: str) -> str:
        entry = entries[name]
        parent = entry.get("parent")
        return f"{qualified_type(parent)}${entry['type']}" if parent else entry["type"]

    return {name: f"urn:pulumi:{stack}::msa::{qualified_type(name)}::{e.get('logicalName', name)}" for name, e in entries.items()}


def _engine_urn(mock_urn: str) -> str:
    # The mock monitor puts the stack's type in front; the engine does not.
    return mock_urn.replace(STACK_PREFIX, "", 1)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_import_json_names_every_object_as_the_program_registers_it(stack, request):
    result = request.getfixturevalue(stack)
    document = json.loads(render.output_files(result, ROOT)["import.json"][0])
    urns = _cli_urns(document, stack)
    objects = {e["name"]: e for e in document["resources"] if not e.get("component")}

    registered = {}
    for r in result.resources:
        # *Patch resources (PVC growth) change objects they do not own: nothing to import.
        if r.custom and r.type.startswith("kubernetes:") and not r.type.endswith("Patch"):
            meta = render.plain(r.inputs)["metadata"]
            if (meta.get("annotations") or {}).get(render.AUTONAMED) != "true":
                registered[_engine_urn(r.urn)] = (r.type, meta)
    # Exactly the program's named objects, each with its type, resource name, parent chain and id.
    assert sorted(urns[n] for n in objects) == sorted(registered)
    for name, entry in objects.items():
        type_, meta = registered[urns[name]]
        assert entry["type"] == type_
        expected_id = f"{meta['namespace']}/{meta['name']}" if meta.get("namespace") else meta["name"]
        assert entry["id"] == expected_id
    # Components are created by the import (no id), so the children's URNs match from the start.
    components = {_engine_urn(r.urn) for r in result.resources if not r.custom}
    assert {urns[e["name"]] for e in document["resources"] if e.get("component")} <= components


def test_the_seed_objects_are_in_dev_import_json(dev):
    document = json.loads(render.output_files(dev, ROOT)["import.json"][0])
    ids = {(e["type"].rsplit(":", 1)[-1], e["id"]) for e in document["resources"] if "id" in e}
    assert ("Namespace", "msa") in ids
    for service in ("discovery-service", "config-service", "apigateway-service", "user-service", "store-service"):
        assert ("Service", f"msa/{service}") in ids and ("Deployment", f"msa/{service}") in ids
    service = next(e for e in document["resources"] if e.get("id") == "msa/user-service" and e["type"].endswith(":Service"))
    assert service == {"type": "kubernetes:core/v1:Service", "name": "Service-user-service", "logicalName": "user-service",
                       "id": "msa/user-service", "parent": "SpringService-user-service"}


def test_auto_named_objects_are_left_out(dev):
    document = json.loads(render.output_files(dev, ROOT)["import.json"][0])
    assert dev.of_type("kubernetes:core/v1:ConfigMap") and dev.of_type("kubernetes:core/v1:Secret")
    # The one fixed-name ConfigMap: the phase of the move to authentication (pods mount it by name).
    kept = [e["logicalName"] for e in document["resources"] if e["type"] in ("kubernetes:core/v1:ConfigMap", "kubernetes:core/v1:Secret")]
    assert kept == ["kafka-auth-phase"]


def test_an_ambiguous_parent_is_impossible():
    """A component and its Service share the logical name; their handles in the file differ."""
    root = "urn:pulumi:dev::msa::pulumi:pulumi:Stack::msa-dev"
    comp = "urn:pulumi:dev::msa::msa:spring:SpringService::api"
    regs = [
        Registration("msa:spring:SpringService", "api", comp, root, False, None),
        Registration("kubernetes:core/v1:Service", "api", comp + "$svc", comp, True, {"name": "api", "namespace": "msa"}),
    ]
    document = import_document(regs)
    assert [e["name"] for e in document["resources"]] == ["SpringService-api", "Service-api"]
    assert document["resources"][1]["parent"] == "SpringService-api"


def test_an_adoption_run_warns_until_it_is_switched_off(dev):
    on = run_stack("dev", lambda v: v.update({"kubernetes:upsertExistingObjects": True}))
    assert any(w.startswith("kubernetes:upsertExistingObjects is on:") and w.endswith("pulumi config rm kubernetes:upsertExistingObjects")
               for w in on.warnings)
    off = dev
    assert not any("upsertExistingObjects" in w for w in off.warnings)
    # Switching it off changes no object (the provider's DiffConfig replaces nothing for this key).
    assert on.kubernetes_objects() == off.kubernetes_objects()
