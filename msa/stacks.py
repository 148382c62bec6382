"""Which stacks the project has: every committed `Pulumi.<stack>.yaml` (standard library only: CI asks
before any virtualenv exists, `python3 tasks.py stacks`).

The workflows discover stacks instead of listing them, so a team's `Pulumi.team.yaml` is previewed and
deployed as soon as it is committed. A stack file someone keeps locally (not in git) is not CI's
business. Deploy order: by name, except that a stack whose name starts with `prod` comes last, so
every other stack has gone through an `up` of the same commit first.
"""

from __future__ import annotations

import subprocess
from pathlib import Path


def stack_name(file_name: str) -> str:
    return file_name[len("Pulumi."):-len(".yaml")]


def committed_stacks(project_dir: Path) -> list[str]:
    """The stacks in git; outside a git checkout (a copied tree, an unpacked release) every stack file."""
    try:
        listed = subprocess.run(["git", "ls-files", "--", "Pulumi.*.yaml"], cwd=project_dir, capture_output=True, text=True)
        names = listed.stdout.split() if listed.returncode == 0 else []
    except OSError:  # no git at all
        names = []
    if not names:
        names = [p.name for p in project_dir.glob("Pulumi.*.yaml")]
    return deploy_order(stack_name(n) for n in names if "/" not in n)


def deploy_order(stacks) -> list[str]:
    return sorted(set(stacks), key=lambda s: (s.startswith("prod"), s))
