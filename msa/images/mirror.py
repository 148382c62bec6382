"""Third-party images in Harbor: the copy (or proxy-cache lookup) as a step of `pulumi up`, and the
reference by digest the workloads pull (mirror_plan.py decides what; this module runs it).

The step is a pulumi-command `local.Command` running scripts/mirror-image.sh, where pulumi runs
(push: direct) or, through ssh with the relay host's key, on the relay host (push: relay). Its
triggers are the source, the target and the platform: a preview shows a change exactly when one of
those changes, and then the workloads' image shows as a new digest. The script compares before it
copies, so a re-run (a replaced resource, a by-hand run) copies nothing Harbor already has.
"""

from __future__ import annotations

import hashlib
import os
import tarfile
from pathlib import Path
from typing import Optional

import pulumi
import pulumi_command as command

from .. import k8s as kx
from ..config import Harbor, Secrets
from .harbor import digest_from_output, harbor_step_environment, harbor_step_script
from ..mirror_plan import MirrorPlan


def archive_identity(path: Path) -> str:
    """What names an archive's content, cheap to compute at every preview: an OCI layout's index.json
    hash, a `docker save` tarball's manifest.json hash (it names the config, i.e. the image ID)."""
    if (path / "oci-layout").is_file():
        return "oci:" + hashlib.sha256((path / "index.json").read_bytes()).hexdigest()
    with tarfile.open(path) as tar:
        member = tar.extractfile("manifest.json")
        if member is None:
            raise ValueError(f"{path} holds no manifest.json: not a `docker save` tarball")
        return "docker-archive:" + hashlib.sha256(member.read()).hexdigest()


def _mode(plan: MirrorPlan) -> str:
    return "copy" if plan.mode == "copy" else "resolve"


def _archive_path(plan: MirrorPlan, project_dir: Path) -> Optional[str]:
    """The archive relative to the project folder (the command runs there): the same checkout in
    another folder renders the same script."""
    if plan.archive is None:
        return None
    return Path(os.path.relpath(plan.archive, project_dir)).as_posix()


def mirror_script(plan: MirrorPlan, harbor: Harbor, project_dir: Path) -> str:
    """The exact script `pulumi up` runs for one image; runnable by hand from the project folder.
    No secret is in it: HARBOR_USERNAME, HARBOR_PASSWORD (and MSA_SSH_KEY) come from its environment."""
    source = plan.source_transport(_archive_path(plan, project_dir))
    what = f"copy {source} to {plan.target}" if plan.mode == "copy" else f"resolve {plan.target} through Harbor's proxy cache"
    header = (
        "#!/usr/bin/env bash\n"
        f"# msa mirror of {plan.name} (msa:{plan.key}): {what} ({plan.platform}, push: {plan.push})\n"
        "# Paths are relative to the project folder: run it from there (pulumi up does).\n"
    )
    return harbor_step_script(header, _mode(plan), source, _archive_path(plan, project_dir), plan.target, plan.platform, plan.push, harbor)


def mirror_triggers(plan: MirrorPlan, project_dir: Path) -> list[str]:
    """What re-runs the step: the source (an archive by its content), the target, the platform."""
    source = archive_identity(plan.archive) if plan.archive else plan.source
    return [plan.mode, source, plan.target, plan.platform]


class MirroredImage(pulumi.ComponentResource):
    """One third-party image as the workloads pull it. `ref` is `<harbor>/<project>/<name>@sha256:...`
    once copied or resolved (workloads that use it wait for the step), else the configured reference."""

    ref: pulumi.Output[str]

    def __init__(self, name: str, plan: MirrorPlan, harbor: Harbor, secrets: Secrets, project_dir: Path,
                 opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("msa:images:MirroredImage", name, {
            "name": plan.name,
            "key": plan.key,
            "source": plan.source,
            "archive": _archive_path(plan, project_dir),
            "target": plan.target if plan.mode != "off" else None,
            "platform": plan.platform,
            "mode": plan.mode,
            "push": plan.push if plan.mode == "copy" else None,
        }, opts)
        child = kx.child_options(self, opts)
        if plan.runs_script:
            step = command.local.Command(
                f"{name}-{_mode(plan)}",
                create=mirror_script(plan, harbor, project_dir),
                interpreter=["/bin/bash", "-c"],
                environment=harbor_step_environment(plan.push == "relay", harbor, secrets),
                triggers=mirror_triggers(plan, project_dir),
                logging=command.local.Logging.STDOUT_AND_STDERR,
                add_previous_output_in_env=False,
                opts=child,
            )
            self.ref = step.stdout.apply(lambda out: f"{plan.repository}@{digest_from_output(out)}")
        else:
            self.ref = pulumi.Output.from_input(plan.fixed_ref)
        self.register_outputs({"ref": self.ref})

