"""The GitHub workflows cannot run here; check they parse, use only the action's documented inputs,
and hold the security rules a reviewer signs off (zizmor runs on them in .ci/run as well)."""

import json
import re
import subprocess
import sys

import pytest
import yaml

from conftest import ROOT
from msa import stacks

# Inputs of pulumi/actions v7.0.0 (action.yml) that these workflows may use.
PULUMI_ACTION_INPUTS = {"command", "stack-name", "work-dir", "comment-on-pr", "github-token", "cloud-url",
                        "secrets-provider", "refresh", "diff", "expect-no-changes", "upsert", "edit-pr-comment",
                        "pulumi-version"}
# Tag -> commit, read from the actions' repositories (`git show-ref --tags`).
PINNED = {
    "actions/checkout": ("3d3c42e5aac5ba805825da76410c181273ba90b1", "v7.0.1"),
    "actions/setup-python": ("5fda3b95a4ea91299a34e894583c3862153e4b97", "v7.0.0"),
    "pulumi/actions": ("8e5e406f4007fca908480587cb9893c07090f58d", "v7.0.0"),
}
WORKFLOWS = ["preview.yml", "up.yml"]


def _doc(workflow: str) -> dict:
    return yaml.safe_load((ROOT / ".github/workflows" / workflow).read_text())


def _pulumi_steps(workflow: str) -> list[tuple[dict, dict]]:
    doc = _doc(workflow)
    return [(job, step) for job in doc["jobs"].values() for step in job["steps"] if step.get("uses", "").startswith("pulumi/actions@")]


def _sdk_version() -> str:
    (line,) = [l for l in (ROOT / "requirements.txt").read_text().splitlines() if l.startswith("pulumi==")]
    return line.split("==")[1]


def test_pull_requests_preview_every_stack_with_a_diff_comment():
    doc = _doc("preview.yml")
    assert "pull_request" in doc[True]  # YAML reads the key `on` as True
    assert "pull_request_target" not in doc[True]  # would run with secrets for fork PRs
    (job, step), = _pulumi_steps("preview.yml")
    assert set(step["with"]) <= PULUMI_ACTION_INPUTS
    assert step["with"]["command"] == "preview" and step["with"]["comment-on-pr"] is True
    assert step["with"]["diff"] is True
    assert job["strategy"]["matrix"]["stack"] == DISCOVERED


# Both workflows take their matrix from the `stacks` job, which asks `python3 tasks.py stacks`.
DISCOVERED = "${{ fromJSON(needs.stacks.outputs.stacks) }}"


def committed_stacks() -> list[str]:
    """The stacks in git: a Pulumi.<stack>.yaml someone keeps locally (not committed) is not CI's business."""
    return stacks.committed_stacks(ROOT)


@pytest.mark.parametrize("workflow", WORKFLOWS)
def test_stacks_are_discovered_not_listed(workflow):
    doc = _doc(workflow)
    job = doc["jobs"]["stacks"]
    (step,) = [s for s in job["steps"] if s.get("id") == "list"]
    assert step["run"] == 'echo "stacks=$(python3 tasks.py stacks)" >> "$GITHUB_OUTPUT"'
    assert job["outputs"] == {"stacks": "${{ steps.list.outputs.stacks }}"} and job["permissions"] == {"contents": "read"}
    (deploying,) = [j for j in doc["jobs"].values() if j.get("strategy")]
    assert "stacks" in deploying["needs"] and deploying["strategy"]["matrix"]["stack"] == DISCOVERED


def test_the_stacks_command_answers_without_a_venv_in_json(tmp_path):
    for name in ("tasks.py", "Pulumi.yaml"):
        (tmp_path / name).write_bytes((ROOT / name).read_bytes())
    (tmp_path / "msa").mkdir()
    for name in ("__init__.py", "stacks.py", "cli.py"):
        (tmp_path / "msa" / name).write_bytes((ROOT / "msa" / name).read_bytes())
    for stack in ("prod", "team", "dev", "prod-eu"):
        (tmp_path / f"Pulumi.{stack}.yaml").write_text("config: {}\n")
    result = subprocess.run([sys.executable, "-S", "tasks.py", "stacks"], cwd=tmp_path, capture_output=True, text=True)
    assert json.loads(result.stdout) == ["dev", "team", "prod", "prod-eu"]  # prod* last: every other stack goes first


def test_a_committed_team_stack_is_previewed_and_deployed(tmp_path):
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    for stack in ("dev", "prod", "team"):
        (tmp_path / f"Pulumi.{stack}.yaml").write_text("config: {}\n")
    (tmp_path / "Pulumi.my-laptop.yaml").write_text("config: {}\n")  # local only: not CI's business
    subprocess.run(["git", "add", "Pulumi.dev.yaml", "Pulumi.prod.yaml", "Pulumi.team.yaml"], cwd=tmp_path, check=True)
    assert stacks.committed_stacks(tmp_path) == ["dev", "team", "prod"]


@pytest.mark.parametrize("workflow", WORKFLOWS)
def test_each_stack_job_checks_the_runners_prerequisites_before_pulumi(workflow):
    (job, step), = _pulumi_steps(workflow)
    names = [s.get("run", "") for s in job["steps"]]
    check = next(i for i, run in enumerate(names) if run.startswith("venv/bin/python -m msa.prerequisites"))
    assert check < job["steps"].index(step)
    env = job["steps"][check]["env"]
    assert env["STACK"] == "${{ matrix.stack }}" and env["KUBECONFIG"] == step["env"]["KUBECONFIG"]


@pytest.mark.parametrize("workflow, job", [("preview.yml", "offline"), ("up.yml", "checks")])
def test_the_workflows_run_ci_run_itself(workflow, job):
    runs = [s.get("run", "") for s in _doc(workflow)["jobs"][job]["steps"]]
    assert any(r.endswith("bash .ci/run") for r in runs)


def test_previews_with_secrets_run_only_for_this_repositorys_branches_behind_a_per_stack_environment():
    (job, step), = _pulumi_steps("preview.yml")
    assert job["if"] == "github.event.pull_request.head.repo.full_name == github.repository"
    assert job["environment"] == "preview-${{ matrix.stack }}"
    assert job["permissions"] == {"contents": "read", "pull-requests": "write"}


def test_main_runs_up_behind_an_environment_one_stack_at_a_time():
    doc = _doc("up.yml")
    assert doc[True] == {"push": {"branches": ["main"]}}
    (job, step), = _pulumi_steps("up.yml")
    assert set(step["with"]) <= PULUMI_ACTION_INPUTS
    assert step["with"]["command"] == "up"
    assert job["environment"] == "${{ matrix.stack }}" and job["strategy"]["max-parallel"] == 1
    assert job["strategy"]["matrix"]["stack"] == DISCOVERED and job["strategy"]["fail-fast"] is True
    assert set(job["needs"]) == {"checks", "stacks"}
    assert job["if"] == "github.ref == 'refs/heads/main'"
    assert doc["concurrency"] == {"group": "pulumi-up", "cancel-in-progress": False}
    assert job["permissions"] == {"contents": "read"}


@pytest.mark.parametrize("workflow", WORKFLOWS)
def test_tokens_are_read_only_by_default_and_never_kept_by_checkout(workflow):
    doc = _doc(workflow)
    assert doc["permissions"] == {}
    for job in doc["jobs"].values():
        assert "permissions" in job
        for step in job["steps"]:
            if step.get("uses", "").startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False


@pytest.mark.parametrize("workflow", WORKFLOWS)
def test_actions_are_pinned_to_full_commits_with_the_version_in_a_comment(workflow):
    text = (ROOT / ".github/workflows" / workflow).read_text()
    uses = re.findall(r"uses: (\S+)@(\S+)(?: # (\S+))?", text)
    assert uses
    for action, ref, comment in uses:
        assert (ref, comment) == PINNED[action], action


@pytest.mark.parametrize("workflow", WORKFLOWS)
def test_the_cli_is_the_version_of_the_sdk(workflow):
    (job, step), = _pulumi_steps(workflow)
    assert str(step["with"]["pulumi-version"]) == _sdk_version()


@pytest.mark.parametrize("workflow", WORKFLOWS)
def test_every_job_that_installs_packages_uses_the_pip_cache(workflow):
    for name, job in _doc(workflow)["jobs"].items():
        if name == "stacks":  # the standard library only: `python3 tasks.py stacks` needs no packages
            assert not any("pip" in s.get("run", "") for s in job["steps"])
            continue
        (setup,) = [s for s in job["steps"] if s.get("uses", "").startswith("actions/setup-python@")]
        assert setup["with"]["cache"] == "pip"
