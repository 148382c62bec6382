"""A day-2 Job that could not run: what the next `up` does with it (decision: run it again).

The day-2 Jobs (drain, rebalance, zookeeper-shrink) and the verification Job carry
`pulumi.com/replaceUnready`: a Job that did not complete, because its pod failed, never got a node, or the
`up` that created it did not wait for it (interrupted, `pulumi.com/skipAwait`), is replaced on the next
`up`: deleted (fixed name: delete first) and created again, and the resources that depend on it wait for
that new run. Without it the Job would be `same` on the next `up`, nothing would wait for it, and a
StatefulSet could shrink although its drain never ran. The scripts compute their work from the cluster,
so a second run is safe. Once a Job has completed, it is ready and is left alone.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from engine.cluster import NODE

pytestmark = [pytest.mark.engine, pytest.mark.integration]


def skip_await_on_verify(args):
    """A `--skip-await`-style run for the verification Job only (as a transform: the program is untouched)."""
    import pulumi

    if args.type_ == "kubernetes:batch/v1:Job" and args.name == "verify":
        props = dict(args.props)
        metadata = dict(props["metadata"])
        metadata["annotations"] = {**(metadata.get("annotations") or {}), "pulumi.com/skipAwait": "true"}
        props["metadata"] = metadata
        return pulumi.ResourceTransformResult(props=props, opts=args.opts)
    return None


def test_a_job_that_never_ran_runs_again_on_the_next_up(engine_stack, control_plane):
    stack = engine_stack("dev")
    stack.up()

    # The verification runs again (its inputs changed) but its pod finds no node, and this `up` does not wait.
    control_plane.kubectl("cordon", NODE)
    stack.edit(lambda c: c.setdefault("msa:verify", {}).update(settleSeconds=120))
    stack.transforms.append(skip_await_on_verify)
    stack.up()
    stuck = control_plane.get("job", "verify")
    assert not stuck["status"].get("succeeded")

    # The next preview plans to run it again, and nothing else.
    preview = stack.preview()
    assert preview.changed() == {"Job/verify": "replace"}, preview.changed()
    assert '.metadata.annotations["pulumi.com/replaceUnready"]' in preview.step("verify", "Job")["keys"]

    # The next (awaited) `up` replaces it and waits for the new run: the node comes back only once the
    # replacement exists (were it back before, the old pod would run, the Job complete, nothing be replaced).
    stack.transforms.clear()
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(stack.up)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and not running.done():
            job = control_plane.get("job", "verify")
            if job and job["metadata"]["uid"] != stuck["metadata"]["uid"]:
                break
            time.sleep(0.5)
        control_plane.kubectl("uncordon", NODE)
        run = running.result()            # the `up` is bounded itself (EngineStack.up's timeout)
    assert run.changed().get("Job/verify") == "replace", run.changed()
    done = control_plane.get("job", "verify")
    assert done["metadata"]["uid"] != stuck["metadata"]["uid"] and done["status"].get("succeeded") == 1
    # A completed Job is ready: left alone from now on.
    assert set(stack.up().changes) == {"same"}
