"""What the stack renders, for the real-server tests: its StatefulSets (their env configures the test
servers) and its Jobs' scripts, run unchanged against those servers.
"""

from __future__ import annotations

import copy
import json
import subprocess
from typing import Mapping

from integration.jvm_tools import ToolBox


def job_command(job: Mapping, tools: ToolBox, substitute: Mapping[str, str]) -> tuple[list[str], dict[str, str]]:
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["command"][:2] == ["bash", "-c"], container["command"][:2]
    env = {e["name"]: e["value"] for e in container.get("env", []) if "value" in e}
    missing = set(substitute) - set(env)
    assert not missing, f"the Job has no {missing} to substitute"
    env.update(substitute)
    return ["bash", "-c", container["command"][2]], tools.env(**env)


def run_job_script(job: Mapping, tools: ToolBox, substitute: Mapping[str, str], timeout: float = 600) -> subprocess.CompletedProcess:
    """Run a rendered Job's script unchanged: its own env with `substitute` (loopback addresses), the
    cp-named tools first on PATH. The kubelet would expand $(VAR) references in the command first; the
    scripts contain none (tests/kafka/test_kafka_jobs.py), so the text runs as it is."""
    command, env = job_command(job, tools, substitute)
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)


def start_job_script(job: Mapping, tools: ToolBox, substitute: Mapping[str, str]) -> subprocess.Popen:
    """`run_job_script` in the background, in its own process group (a Job's pod: kill the group to kill it)."""
    command, env = job_command(job, tools, substitute)
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)


# Renders by the stack config they were made from: a cluster's start renders the same config twice (its
# ZooKeeper's StatefulSet, its brokers' env) and tests start the same few configs again and again, at about
# half a CPU-second a render. Only the StatefulSets are kept; rendered_workload hands out copies.
_statefulsets: dict[str, dict[str, dict]] = {}


def _rendered_statefulsets(stack: str, edit=None) -> dict[str, dict]:
    from conftest import edited_values, objects, open_kafka_then, render_values

    values = edited_values(stack, open_kafka_then(edit))
    key = json.dumps([stack, values], sort_keys=True)
    if key not in _statefulsets:
        _statefulsets[key] = {o["metadata"]["name"]: o for o in objects(render_values(stack, values), "StatefulSet")}
    return _statefulsets[key]


def rendered_workload(stack: str, workload: str, edit=None) -> dict:
    """A StatefulSet as the stack renders it (mock runtime)."""
    return copy.deepcopy(_rendered_statefulsets(stack, edit)[workload])


def rendered_pod_env(stack: str, workload: str, edit=None) -> dict[str, str]:
    """The literal env of a StatefulSet's container as the stack renders it (mock runtime); with
    authentication plus what the start command exports for a new cluster's phase (scram-only)."""
    from conftest import env_of
    from msa.kafka.broker_auth import phase_env

    env = {k: v for k, v in env_of(rendered_workload(stack, workload, edit)).items() if isinstance(v, str)}
    return {**env, **phase_env(env, None)} if any(k.startswith("MSA_AUTH_") for k in env) else env
