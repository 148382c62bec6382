"""Assertions the engine tests share: what the API server holds against what the program declares, and the
order of the engine's steps."""

from __future__ import annotations

from engine.cluster import ControlPlane
from engine.stack import Run

AUTONAMED = "pulumi.com/autonamed"
# Kinds of the rendering that are Patch resources (they change fields of objects others create).
PATCHED = {"PersistentVolumeClaim"}
WORKLOAD_TYPES = ("Deployment", "StatefulSet", "Job", "PersistentVolumeClaimPatch", "Service")


def live_name(control_plane: ControlPlane, obj: dict) -> str:
    """The live name of a rendered object; an auto-named one (`<name>-<random>`) found by its label."""
    meta = obj["metadata"]
    if (meta.get("annotations") or {}).get(AUTONAMED) != "true":
        return meta["name"]
    label = meta["labels"]["app.kubernetes.io/name"]
    (found,) = [o["metadata"]["name"] for o in control_plane.items(obj["kind"].lower() + "s", meta.get("namespace"))
                if o["metadata"].get("labels", {}).get("app.kubernetes.io/name") == label]
    return found


def assert_cluster_holds_rendering(control_plane: ControlPlane, rendered: list[dict]) -> None:
    """Every object the program declares exists; every Service has exactly the declared ClusterIP; every
    workload has the declared replicas and images."""
    for obj in rendered:
        name = live_name(control_plane, obj)
        live = control_plane.get(obj["kind"], name, obj["metadata"].get("namespace"))
        assert live is not None, f"{obj['kind']} {name} is missing from the cluster"
        if obj["kind"] == "Service":
            assert live["spec"]["clusterIP"] == obj["spec"]["clusterIP"], name
            assert len(live["spec"]["ports"]) == len(obj["spec"]["ports"]), name
            for got, want in zip(live["spec"]["ports"], obj["spec"]["ports"]):
                assert got["port"] == want["port"] and got.get("nodePort") == want.get("nodePort", got.get("nodePort")), name
        if obj["kind"] in ("Deployment", "StatefulSet"):
            assert live["spec"]["replicas"] == obj["spec"]["replicas"], name
            images = [c["image"] for c in live["spec"]["template"]["spec"]["containers"]]
            assert images == [c["image"] for c in obj["spec"]["template"]["spec"]["containers"]], name
        if obj["kind"] in PATCHED:
            assert live["spec"]["resources"]["requests"]["storage"] == obj["spec"]["resources"]["requests"]["storage"], name


def step_order(run: Run) -> tuple[dict[str, int], dict[str, int]]:
    """(urn -> index of its first pre-step event, urn -> index of its outputs event) in the run's event stream."""
    started, finished = {}, {}
    for i, event in enumerate(run.events):
        if event.resource_pre_event is not None:
            started.setdefault(event.resource_pre_event.metadata.urn, i)
        if event.res_outputs_event is not None:
            finished[event.res_outputs_event.metadata.urn] = i
    return started, finished


def urn_of(run: Run, name: str, type_suffix: str) -> str:
    (urn,) = {s["urn"] for s in run.steps if s["name"] == name and s["type"].endswith(type_suffix)}
    return urn


def assert_before(run: Run, first: tuple[str, str], then: tuple[str, str]) -> None:
    """`first` (name, type suffix) finished before `then` started, in the engine's own event order."""
    started, finished = step_order(run)
    a, b = urn_of(run, *first), urn_of(run, *then)
    assert finished[a] < started[b], f"{first} did not finish before {then} started"


def assert_verification_last(run: Run) -> None:
    """The verification Job starts only after every workload, Service, day-2 Job and claim patch is done."""
    started, finished = step_order(run)
    verify = urn_of(run, "verify", "batch/v1:Job")
    others = [s["urn"] for s in run.steps
              if s["type"].startswith("kubernetes:") and s["type"].endswith(WORKLOAD_TYPES) and s["urn"] != verify]
    assert others
    late = [u for u in others if finished.get(u, 10**9) > started[verify]]
    assert not late, f"started before these finished: {late}"
