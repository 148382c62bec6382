"""The GitHub workflows cannot run here; check they parse and use only the action's documented inputs."""

import subprocess

import yaml

from conftest import ROOT

# Inputs of pulumi/actions (action.yml) that these workflows may use.
PULUMI_ACTION_INPUTS = {"command", "stack-name", "work-dir", "comment-on-pr", "github-token", "cloud-url",
                        "secrets-provider", "refresh", "diff", "expect-no-changes", "upsert", "edit-pr-comment"}


def _pulumi_steps(workflow: str) -> list[dict]:
    doc = yaml.safe_load((ROOT / ".github/workflows" / workflow).read_text())
    return [(job, step) for job in doc["jobs"].values() for step in job["steps"] if step.get("uses", "").startswith("pulumi/actions@")]


def test_pull_requests_preview_every_stack_with_a_comment():
    doc = yaml.safe_load((ROOT / ".github/workflows/preview.yml").read_text())
    assert "pull_request" in doc[True]  # YAML reads the key `on` as True
    (job, step), = _pulumi_steps("preview.yml")
    assert set(step["with"]) <= PULUMI_ACTION_INPUTS
    assert step["with"]["command"] == "preview" and step["with"]["comment-on-pr"] is True
    assert sorted(job["strategy"]["matrix"]["stack"]) == committed_stacks()


def committed_stacks() -> list[str]:
    """The stacks in git: a Pulumi.<stack>.yaml someone keeps locally (not committed) is not CI's business."""
    listed = subprocess.run(["git", "ls-files", "--", "Pulumi.*.yaml"], cwd=ROOT, capture_output=True, text=True)
    names = listed.stdout.split() if listed.returncode == 0 else []
    if not names:  # not a git checkout (a copied tree): the two stacks the project ships
        return ["dev", "prod"]
    return sorted(name[len("Pulumi."):-len(".yaml")] for name in names)


def test_a_local_stack_file_does_not_change_what_ci_previews():
    local = ROOT / "Pulumi.my-laptop.yaml"
    local.write_text("config: {}\n")
    try:
        assert "my-laptop" not in committed_stacks()
    finally:
        local.unlink()


def test_main_runs_up_behind_an_environment_one_stack_at_a_time():
    (job, step), = _pulumi_steps("up.yml")
    assert set(step["with"]) <= PULUMI_ACTION_INPUTS
    assert step["with"]["command"] == "up"
    assert job["environment"] == "${{ matrix.stack }}" and job["strategy"]["max-parallel"] == 1
