"""The claim patches (PersistentVolumeClaimPatch data-<statefulset>-<n>) where the claim does not exist yet."""

from __future__ import annotations

import pulumi
import pytest

pytestmark = [pytest.mark.engine, pytest.mark.integration]


def skip_await(args):
    """`pulumi.com/skipAwait` on every Kubernetes object: `up` does not wait for the StatefulSets to create
    their pods and claims before it applies the claim patches."""
    if not args.type_.startswith("kubernetes:"):
        return None
    props = dict(args.props)
    metadata = dict(props.get("metadata") or {})
    metadata["annotations"] = {**(metadata.get("annotations") or {}), "pulumi.com/skipAwait": "true"}
    props["metadata"] = metadata
    return pulumi.ResourceTransformResult(props=props, opts=args.opts)


def test_a_first_deploy_without_awaits_creates_the_claims_the_statefulsets_use(engine_stack, control_plane):
    """Regression: the patch of data-zookeeper-0 met no claim and created one from the size alone
    (`spec.accessModes: Required value`), failing the first `up`."""
    stack = engine_stack("dev")
    stack.transforms.append(skip_await)
    stack.up()

    for workload in ("kafka", "zookeeper"):
        claim = control_plane.get("pvc", f"data-{workload}-0")
        template = control_plane.get("statefulset", workload)["spec"]["volumeClaimTemplates"][0]
        assert claim["spec"]["accessModes"] == template["spec"]["accessModes"] == ["ReadWriteOnce"]
        assert claim["spec"]["resources"] == template["spec"]["resources"]
        assert claim["metadata"]["labels"] == {"app.kubernetes.io/name": workload, "app.kubernetes.io/instance": workload}

    # The same stack with awaits: the StatefulSets' pods run on those claims, and nothing else moves.
    stack.transforms.clear()
    stack.up()
    for workload in ("kafka", "zookeeper"):
        assert control_plane.get("statefulset", workload)["status"].get("readyReplicas") == 1
        assert control_plane.get("pvc", f"data-{workload}-0")["status"]["phase"] == "Bound"
    assert set(stack.up().changes) == {"same"}
