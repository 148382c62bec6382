"""Fixtures of the engine tests (README in this folder):

- `control_plane`: a fresh `ControlPlane` (etcd, kube-apiserver, controller-manager, scheduler, kwok) per test;
- `engine_stack(name, edit=None)`: an `EngineStack` of a copy of the project against that control plane.

The binaries come from build-engine.sh (its `--env` lines are applied here); a missing one skips the
test, or fails it when MSA_REQUIRE_INTEGRATION=1 (CI).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from engine.cluster import ControlPlane, missing_binaries
from engine.stack import EngineStack

BUILD_SCRIPT = Path(__file__).resolve().parent / "build-engine.sh"


def _engine_env() -> dict[str, str]:
    """The environment build-engine.sh --env describes (PATH with the cached binaries, stages, plugin)."""
    script = f'eval "$(bash {BUILD_SCRIPT} --env)" && env -0'
    out = subprocess.run(["bash", "-c", script], check=True, capture_output=True).stdout.decode()
    return dict(line.split("=", 1) for line in out.split("\0") if "=" in line)


os.environ.update({k: v for k, v in _engine_env().items() if k == "PATH" or k.startswith("MSA_")})


def skip_or_fail(message: str) -> None:
    if os.environ.get("MSA_REQUIRE_INTEGRATION") == "1":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture
def control_plane(tmp_path_factory):
    missing = missing_binaries()
    if not Path(os.environ.get("MSA_K8S_PROVIDER_BIN", "/nonexistent")).is_file():
        missing.append("pulumi-resource-kubernetes")
    if missing:
        skip_or_fail("missing for the engine tests: " + ", ".join(missing) + " (run tests/engine/build-engine.sh)")
    root = tmp_path_factory.mktemp("k8s")
    with ControlPlane(root) as cp:
        yield cp


@pytest.fixture
def engine_stack(tmp_path_factory, control_plane):
    def make(name: str, edit=None) -> EngineStack:
        return EngineStack(tmp_path_factory.mktemp(f"stack-{name}"), name, control_plane, edit)
    return make
