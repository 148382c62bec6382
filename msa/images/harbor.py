"""Service images: built for the nodes' platform and pushed to Harbor, referenced by digest.

Three push modes (`msa:harbor.push`):
- direct: pulumi-docker `Image` builds with the local Docker daemon and pushes to Harbor.
- relay:  build and `docker save` locally, copy the archive over SSH to `msa:harbor.relayHost`,
          and push from there with docker or, where docker is absent, the daemonless skopeo.
- none:   the images are already in Harbor; the stack references them by tag (or a configured digest).

A prebuilt service (no `context`) is not built; unless its digest is configured, the stack reads the
digest Harbor holds for its tag at every preview and up (push: direct or relay; read-only) and
deploys `repo@sha256:...`.

Whatever machine runs `pulumi up` (an Apple-silicon laptop builds arm64 by default), the build
platform is always `linux/<msa:cluster.nodeArch>`, or the nodes answer `exec format error`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import pulumi
import pulumi_command as command
import pulumi_docker as docker
import pulumi_kubernetes as k8s

from .. import k8s as kx
from ..config import Harbor, Secrets, Service
from ..mirror_plan import service_digest_source
from ..names import PULL_SECRET

SCRIPTS = Path(__file__).parent / "scripts"
DIGEST_LINE = re.compile(r"^(sha256:[0-9a-f]{64})$", re.M)


@dataclass(frozen=True)
class ImagePlan:
    """Everything about one service image, computed before any resource exists."""

    service: str
    repository: str                 # <harbor host>/<project>/<image>
    tag: str
    platform: str                   # linux/<nodeArch>
    push: str                       # direct | relay | none
    context: Optional[Path] = None
    dockerfile: Optional[Path] = None
    build_args: dict[str, str] = field(default_factory=dict)
    # The folder `pulumi up` runs in (the project): builds name their paths relative to it.
    project_dir: Optional[Path] = None
    # A prebuilt image's manifest digest (msa:services.<name>.digest).
    digest: Optional[str] = None
    # A prebuilt image without a configured digest: how its digest is read from Harbor (direct | relay).
    resolve: Optional[str] = None

    @property
    def target(self) -> str:
        return f"{self.repository}:{self.tag}"

    @property
    def prebuilt_ref(self) -> str:
        """What Deployments pull when the stack does not build: `repo:tag@digest` when the digest is
        configured (the tag stays for humans; the runtime pulls by digest), else `repo:tag`."""
        return f"{self.target}@{self.digest}" if self.digest else self.target

    @property
    def pinned(self) -> bool:
        """Deployed by digest: built and pushed by the stack, prebuilt with a configured digest, or
        prebuilt with its digest read from Harbor."""
        return self.context is not None or self.digest is not None or self.resolve is not None

    def build_path(self, path: Path) -> str:
        """`path` as the build sees it: relative to the project folder, so the same commit checked out
        in another folder (another laptop, a CI workspace) has identical inputs and rebuilds nothing.
        The docker provider and the relay command both run with the project folder as their cwd."""
        if self.project_dir is None:
            return str(path)
        return Path(os.path.relpath(path, self.project_dir)).as_posix()

    @property
    def built(self) -> bool:
        return self.context is not None


def image_plan(name: str, svc: Service, harbor: Harbor, platform: str, project_dir: Path) -> ImagePlan:
    context = (project_dir / svc.context).resolve() if svc.context else None
    return ImagePlan(
        service=name,
        repository=f"{harbor.host}/{harbor.project}/{svc.image}",
        tag=svc.tag,
        platform=platform,
        push=harbor.push if context else "none",
        context=context,
        dockerfile=(context / (svc.dockerfile or "Dockerfile")) if context else None,
        build_args=dict(svc.build_args),
        project_dir=project_dir.resolve(),
        digest=svc.digest,
        resolve=harbor.push if service_digest_source(svc, harbor) == "resolve" else None,
    )


def context_hash(context: Path, dockerfile: Path) -> str:
    """sha256 over every file's path and bytes in the build context (and the Dockerfile).

    The relay build re-runs exactly when this, the tag or the platform changes.
    """
    digest = hashlib.sha256()
    files = sorted(p for p in context.rglob("*") if p.is_file() and ".git" not in p.relative_to(context).parts)
    if dockerfile not in files:
        files.append(dockerfile)
    for path in files:
        rel = path.relative_to(context).as_posix() if path.is_relative_to(context) else path.as_posix()
        digest.update(rel.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def digest_from_output(stdout: str) -> str:
    """The pushed manifest digest: the last `sha256:...` line the relay push printed."""
    found = DIGEST_LINE.findall(stdout or "")
    if not found:
        raise ValueError("the relay push printed no image digest (a line 'sha256:<64 hex>')")
    return found[-1]


def relay_push_script() -> str:
    return (SCRIPTS / "relay-push.sh").read_text()


def relay_local_script(plan: ImagePlan, harbor: Harbor) -> str:
    """The exact script `pulumi up` runs locally in relay mode; runnable by hand as well.

    Secrets are not in it: it reads HARBOR_USERNAME, HARBOR_PASSWORD and MSA_SSH_KEY from its
    environment, and passes the Harbor credentials to the relay host on stdin, never on a command line.
    """
    assert plan.context is not None and plan.dockerfile is not None and harbor.relay_host
    build_args = " ".join(shlex.quote(f"{k}={v}") for k, v in sorted(plan.build_args.items()))
    params = "\n".join([
        f"CONTEXT={shlex.quote(plan.build_path(plan.context))}",
        f"DOCKERFILE={shlex.quote(plan.build_path(plan.dockerfile))}",
        f"PLATFORM={shlex.quote(plan.platform)}",
        f"TARGET={shlex.quote(plan.target)}",
        f"BUILD_ARGS=({build_args})",
        f"RELAY_HOST={shlex.quote(harbor.relay_host)}",
        f"RELAY_USER={shlex.quote(harbor.relay_user)}",
        f"RELAY_PORT={harbor.relay_port}",
        f"RELAY_TOOL={shlex.quote(harbor.relay_tool)}",
        f"RELAY_HOST_KEY={shlex.quote(harbor.relay_host_key or '')}",
        f"HARBOR_SCHEME={shlex.quote(harbor.scheme)}",
    ])
    body = (SCRIPTS / "relay-local.sh").read_text()
    push = relay_push_script()
    return (
        "#!/usr/bin/env bash\n"
        f"# msa relay build for {plan.service}: build {plan.platform}, copy to {harbor.relay_host}, push {plan.target}\n"
        "# Paths are relative to the project folder: run it from there (pulumi up does).\n"
        f"{params}\n"
        f"RELAY_PUSH_SCRIPT=$(cat <<'__MSA_RELAY_PUSH__'\n{push}\n__MSA_RELAY_PUSH__\n)\n"
        f"{relay_ssh_functions()}"
        f"{body}"
    )


def relay_ssh_functions() -> str:
    """`setup_relay_ssh`: ssh/scp options for the relay host, with its host key (relay-ssh.sh)."""
    return (SCRIPTS / "relay-ssh.sh").read_text()


def relay_params(harbor: Harbor) -> list[str]:
    """The relay host's connection parameters as shell assignments (no secret among them)."""
    return [
        f"RELAY_HOST={shlex.quote(harbor.relay_host or '')}",
        f"RELAY_USER={shlex.quote(harbor.relay_user)}",
        f"RELAY_PORT={harbor.relay_port}",
        f"RELAY_HOST_KEY={shlex.quote(harbor.relay_host_key or '')}",
    ]


def mirror_image_script() -> str:
    return (SCRIPTS / "mirror-image.sh").read_text()


def harbor_step_script(header: str, mode: str, source: str, archive: Optional[str], target: str, platform: str,
                       push: str, harbor: Harbor) -> str:
    """scripts/mirror-image.sh (copy, or resolve: read the digest only) with its parameters, run where
    pulumi runs or, for push: relay, on the relay host through mirror-relay.sh. No secret is in it:
    HARBOR_USERNAME, HARBOR_PASSWORD (and MSA_SSH_KEY) come from its environment."""
    if push != "relay":
        args = " ".join(shlex.quote(a) for a in (mode, source, target, platform, harbor.scheme))
        return f"{header}set -- {args}\n{mirror_image_script()}"
    params = "\n".join([
        f"MODE={mode}",
        f"SOURCE={shlex.quote(source)}",
        f"ARCHIVE={shlex.quote(archive or '')}",
        f"TARGET={shlex.quote(target)}",
        f"PLATFORM={shlex.quote(platform)}",
        f"HARBOR_SCHEME={shlex.quote(harbor.scheme)}",
        *relay_params(harbor),
    ])
    return (
        f"{header}{params}\n"
        f"MIRROR_SCRIPT=$(cat <<'__MSA_MIRROR_IMAGE__'\n{mirror_image_script()}\n__MSA_MIRROR_IMAGE__\n)\n"
        f"{relay_ssh_functions()}"
        f"{(SCRIPTS / 'mirror-relay.sh').read_text()}"
    )


def resolve_script(plan: ImagePlan, harbor: Harbor) -> str:
    """The read-only step of a prebuilt service: print the digest Harbor holds for `repo:tag` now
    (skopeo inspect, no write), where pulumi runs or on the relay host."""
    assert plan.resolve is not None
    header = (
        "#!/usr/bin/env bash\n"
        f"# msa digest of the prebuilt {plan.service} (msa:services.{plan.service}): read {plan.target} from Harbor "
        f"(read-only, at every preview and up; push: {plan.resolve})\n"
    )
    return harbor_step_script(header, "resolve", f"docker://{plan.target}", None, plan.target, plan.platform, plan.resolve, harbor)


def unpinned_warnings(plans: dict[str, "ImagePlan"]) -> list[str]:
    """One line per prebuilt service the stack deploys by tag (push: none and no digest configured)."""
    return [
        f"msa:services.{p.service}.digest is not set and msa:harbor.push is none, so {p.target} is deployed by tag (a re-pushed tag "
        f"changes what the nodes run, and checkov's CKV_K8S_43 stays excepted); set it to what "
        f"`skopeo inspect --format '{{{{.Digest}}}}' docker://{p.target}` prints, or use push: direct or relay to read it from Harbor"
        for p in plans.values() if not p.pinned
    ]


def harbor_step_environment(via_relay: bool, harbor: Harbor, secrets: Secrets) -> Optional[dict]:
    """The secrets a Harbor step (mirror copy or digest read) gets by environment, never on its command
    line: the SSH key when it runs on the relay host, Harbor's credentials when Harbor has a user."""
    environment = {}
    if via_relay:
        environment["MSA_SSH_KEY"] = secrets.ssh_private_key
    if harbor.username:
        environment.update(HARBOR_USERNAME=harbor.username, HARBOR_PASSWORD=secrets.harbor_password)
    return {k: v for k, v in environment.items() if v is not None} or None


def resolved_ref(plan: ImagePlan, harbor: Harbor, secrets: Secrets, parent: pulumi.Resource) -> pulumi.Output[str]:
    """`repo@<digest Harbor holds for repo:tag>`, read by resolve_script.

    An invoke, not a Command: it runs at every preview and up (a Command runs once, at create), so a
    tag re-pushed in Harbor shows in the preview as the Deployment's new digest. It only reads (one
    manifest request per service), so running it each time is cheap and changes nothing."""
    read = command.local.run_output(
        command=resolve_script(plan, harbor),
        interpreter=["/bin/bash", "-c"],
        environment=harbor_step_environment(plan.resolve == "relay", harbor, secrets),
        logging=command.local.Logging.STDOUT_AND_STDERR,
        opts=pulumi.InvokeOutputOptions(parent=parent),
    )
    # The password makes the invoke's result secret; stdout is only the digest, which the preview must show.
    return pulumi.Output.unsecret(read.stdout).apply(lambda out: f"{plan.repository}@{digest_from_output(out)}")


class HarborImage(pulumi.ComponentResource):
    """One service image in Harbor. `ref` is what Deployments pull: `repo@sha256:...` when the stack
    pushed the image (a new build changes it, so the Deployment rolls out by itself), else
    `repo:tag@sha256:...` with a configured digest, else `repo@sha256:...` read from Harbor for a
    prebuilt image (push: direct or relay), else `repo:tag` (push: none)."""

    ref: pulumi.Output[str]

    def __init__(self, name: str, plan: ImagePlan, harbor: Harbor, secrets: Secrets, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("msa:images:HarborImage", name, {
            "service": plan.service,
            "context": plan.build_path(plan.context) if plan.context else None,
            "dockerfile": plan.build_path(plan.dockerfile) if plan.dockerfile else None,
            "platform": plan.platform,
            "target": plan.target,
            "push": plan.push,
            "resolve": plan.resolve,
            "resolveScript": resolve_script(plan, harbor) if plan.resolve else None,
        }, opts)
        child = kx.child_options(self, opts)
        if plan.push == "direct":
            image = docker.Image(
                f"{name}-image",
                image_name=plan.target,
                build=docker.DockerBuildArgs(
                    context=plan.build_path(plan.context),
                    dockerfile=plan.build_path(plan.dockerfile),
                    platform=plan.platform,
                    args=plan.build_args or None,
                ),
                registry=docker.RegistryArgs(server=harbor.host, username=harbor.username, password=secrets.harbor_password)
                if harbor.username else None,
                opts=child,
            )
            self.ref = image.repo_digest
        elif plan.push == "relay":
            assert plan.context is not None and plan.dockerfile is not None
            environment = {"MSA_SSH_KEY": secrets.ssh_private_key}
            if harbor.username:
                environment.update(HARBOR_USERNAME=harbor.username, HARBOR_PASSWORD=secrets.harbor_password)
            push = command.local.Command(
                f"{name}-relay-push",
                create=relay_local_script(plan, harbor),
                interpreter=["/bin/bash", "-c"],
                environment=environment,
                # Re-run only when what goes into the image changes.
                triggers=[context_hash(plan.context, plan.dockerfile), plan.target, plan.platform, json.dumps(plan.build_args, sort_keys=True)],
                logging=command.local.Logging.STDOUT_AND_STDERR,
                add_previous_output_in_env=False,
                opts=child,
            )
            self.ref = push.stdout.apply(lambda out: f"{plan.repository}@{digest_from_output(out)}")
        elif plan.resolve:
            self.ref = resolved_ref(plan, harbor, secrets, self)
        else:
            self.ref = pulumi.Output.from_input(plan.prebuilt_ref)
        self.register_outputs({"ref": self.ref})


def docker_config_json(host: str, username: str, password: str) -> str:
    auth = base64.b64encode(f"{username}:{password}".encode()).decode()
    return json.dumps({"auths": {host: {"username": username, "password": password, "auth": auth}}}, sort_keys=True)


def harbor_pull_secret(namespace: str, harbor: Harbor, secrets: Secrets, opts: pulumi.ResourceOptions) -> Optional[k8s.core.v1.Secret]:
    """A dockerconfigjson Secret for pods that pull from Harbor; None without credentials.

    Auto-named and immutable like the config-repo ConfigMap (spring.config_repo_map): a new password
    is a new Secret that exists before the Deployments roll to its name; the old one goes last."""
    if not harbor.username or secrets.harbor_password is None:
        return None
    config = pulumi.Output.secret(secrets.harbor_password).apply(lambda pw: docker_config_json(harbor.host, harbor.username, pw))
    return k8s.core.v1.Secret(
        PULL_SECRET,
        metadata=kx.metadata(PULL_SECRET, namespace, "registry", autonamed=True),
        type="kubernetes.io/dockerconfigjson",
        immutable=True,
        string_data={".dockerconfigjson": pulumi.Output.secret(config)},
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(additional_secret_outputs=["data", "stringData"])),
    )
