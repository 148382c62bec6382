"""The verification Job: the last thing `pulumi up` does, and the proof that the system works.

pulumi-kubernetes awaits a Job until its `Complete` condition, and fails the update on `Failed`
(BackoffLimitExceeded / DeadlineExceeded) with the pod's termination message, where the checker
writes its failing lines. So a broken system fails `pulumi up` with the line that says why.

- Registered last: it waits for every workload, the node setup and the config-repo ConfigMap.
- Runs again exactly when something that can change the result changes: the pod template carries
  `MSA_VERIFY_INPUTS` (spec.inputs_digest), and pulumi-kubernetes replaces a Job whose
  template changed (a fixed name makes that delete-first). With nothing changed, nothing runs.
- `pulumi.com/replaceUnready`: a Job that failed last time runs again on the next `pulumi up` even
  with no change (the fix may have been outside the stack: an image pushed by hand, a node repaired).
- No `ttlSecondsAfterFinished`: a Job the TTL controller deleted reappears as drift on every
  `pulumi refresh` and would re-run there; the finished Job keeps the last table (`kubectl logs job/verify`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional, Sequence

import pulumi
import pulumi_kubernetes as k8s

from .. import k8s as kx
from ..config import StackConfig, Verify
from ..kafka.client_auth import ClientSecret
from ..kafka.cluster import cp_checkov_skips
from ..names import VERIFY_JOB as NAME
from .spec import checker_files, checker_source, inputs_digest, spec_json

COMPONENT = "verification"          # NetworkPolicies admit the Job to Kafka and the Spring pods by it
MOUNT = "/opt/msa-verify"
# The checker package sits in MOUNT/checker (run from MOUNT as `python3 -m checker`), its spec beside it.
CHECKER_PACKAGE = "checker"
INPUTS_ENV = "MSA_VERIFY_INPUTS"
# cp-kafka runs as appuser; its tools need nothing else (logs to stderr, JVM scratch in /tmp).
CP_USER = 1000


def active_deadline_seconds(verify: Verify) -> int:
    """The Job's own limit: the settle window, one more full Kafka round (a client may block twice,
    for the producer and the consumer, plus the tool JVMs), and an image pull."""
    return verify.settle_seconds + 3 * verify.kafka_timeout_seconds + 180


def await_timeout(verify: Verify) -> str:
    # Longer than the Job's deadline, so the Job's own failure (with its lines) reaches `pulumi up` first.
    return f"{(active_deadline_seconds(verify) + 120 + 59) // 60}m"


@dataclass(frozen=True)
class VerificationArgs:
    namespace: str
    verify: Verify
    spec: dict
    image: kx.PodImage                  # cp-kafka as the brokers pull it: Python 3 and the Kafka tools
    inputs: pulumi.Input[str]           # spec.inputs_digest
    waits_for: Sequence[pulumi.Resource]
    # msa:kafka.authentication: sasl: the admin user's Secret, its client.properties mounted for the tools.
    admin_secret: Optional[ClientSecret] = None


class Verification(pulumi.ComponentResource):
    """ConfigMap (checker + spec), a ServiceAccount allowed to list pods, and the Job."""

    def __init__(self, name: str, args: VerificationArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("msa:verify:Verification", name, {"image": args.image.ref}, opts)
        child = kx.child_options(self, opts)
        ns = args.namespace
        # Auto-named and immutable like every ConfigMap of the stack (spring.config_repo_map): a new
        # spec is a new ConfigMap created before the Job that mounts it, the old one deleted last.
        self.config_map = k8s.core.v1.ConfigMap(
            NAME,
            metadata=kx.metadata(NAME, ns, COMPONENT, autonamed=True),
            data={**checker_files(), "spec.json": spec_json(args.spec)},
            immutable=True,
            opts=child,
        )
        # Only this pod gets a token (the rest of the stack switches automount off): the nodes check
        # lists the namespace's pods and nothing more.
        self.service_account = k8s.core.v1.ServiceAccount(
            NAME, metadata=kx.metadata(NAME, ns, COMPONENT), automount_service_account_token=False, opts=child,
        )
        self.role = k8s.rbac.v1.Role(
            NAME,
            metadata=kx.metadata(NAME, ns, COMPONENT),
            rules=[k8s.rbac.v1.PolicyRuleArgs(api_groups=[""], resources=["pods"], verbs=["get", "list"])],
            opts=child,
        )
        self.role_binding = k8s.rbac.v1.RoleBinding(
            NAME,
            metadata=kx.metadata(NAME, ns, COMPONENT),
            role_ref=k8s.rbac.v1.RoleRefArgs(api_group="rbac.authorization.k8s.io", kind="Role", name=NAME),
            subjects=[k8s.rbac.v1.SubjectArgs(kind="ServiceAccount", name=NAME, namespace=ns)],
            opts=kx.waiting_for(child, [self.role, self.service_account]),
        )
        deadline = active_deadline_seconds(args.verify)
        timeout = await_timeout(args.verify)
        self.job = k8s.batch.v1.Job(
            NAME,
            metadata=kx.metadata(NAME, ns, COMPONENT, annotations={"pulumi.com/replaceUnready": "true", **cp_checkov_skips(
                args.image, "the cp-kafka image", extra={"CKV_K8S_38": "the checker lists the stack's pods through the API with its own read-only ServiceAccount"})}),
            spec=k8s.batch.v1.JobSpecArgs(
                # One pod: the checker repeats failing checks itself within the settle window; a
                # second pod would only repeat the whole wait.
                backoff_limit=0,
                active_deadline_seconds=deadline,
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(labels=kx.labels(NAME, COMPONENT)),
                    spec=self._pod_spec(args),
                ),
            ),
            opts=pulumi.ResourceOptions.merge(
                kx.waiting_for(child, [*args.waits_for, self.config_map, self.role_binding,
                                       *([args.admin_secret.secret] if args.admin_secret else [])]),
                pulumi.ResourceOptions(custom_timeouts=kx.job_timeouts(timeout)),
            ),
        )
        self.register_outputs({"inputs": args.inputs})

    def _pod_spec(self, args: VerificationArgs) -> k8s.core.v1.PodSpecArgs:
        return kx.pod_spec(
            restart_policy="Never",
            service_account_name=NAME,
            automount_service_account_token=True,
            image_pull_secrets=args.image.pull_secrets,
            security_context=k8s.core.v1.PodSecurityContextArgs(
                # fsGroup: the admin client.properties (mode 0440) is readable by the pod's group.
                run_as_user=CP_USER, run_as_group=CP_USER, fs_group=CP_USER, run_as_non_root=True,
                seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
            ),
            containers=[self._container(args)],
            volumes=[
                k8s.core.v1.VolumeArgs(name="checker", config_map=k8s.core.v1.ConfigMapVolumeSourceArgs(
                    name=self.config_map.metadata.name, items=_volume_items())),
                k8s.core.v1.VolumeArgs(name="tmp", empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(size_limit="64Mi")),
                *([args.admin_secret.config_volume()] if args.admin_secret else []),
            ],
        )

    @staticmethod
    def _container(args: VerificationArgs) -> k8s.core.v1.ContainerArgs:
        return k8s.core.v1.ContainerArgs(
            name=NAME,
            image=args.image.ref,
            image_pull_policy=kx.PULL_POLICY,
            command=["python3", "-m", CHECKER_PACKAGE, "--spec", f"{MOUNT}/spec.json"],
            working_dir=MOUNT,
            env=[
                k8s.core.v1.EnvVarArgs(name=INPUTS_ENV, value=args.inputs),
                # kafka-run-class creates $LOG_DIR; the root filesystem is read-only.
                k8s.core.v1.EnvVarArgs(name="LOG_DIR", value="/tmp/kafka-logs"),
                k8s.core.v1.EnvVarArgs(name="KAFKA_HEAP_OPTS", value="-Xms64m -Xmx256m"),
            ],
            # The failing lines end up in `pulumi up`'s error; the log tail if the checker itself crashed.
            termination_message_policy="FallbackToLogsOnError",
            resources=k8s.core.v1.ResourceRequirementsArgs(
                requests={"cpu": "100m", "memory": "384Mi"}, limits={"cpu": "1", "memory": "512Mi"},
            ),
            security_context=k8s.core.v1.SecurityContextArgs(
                allow_privilege_escalation=False, read_only_root_filesystem=True,
                capabilities=k8s.core.v1.CapabilitiesArgs(drop=["ALL"]),
            ),
            volume_mounts=[
                k8s.core.v1.VolumeMountArgs(name="checker", mount_path=MOUNT, read_only=True),
                k8s.core.v1.VolumeMountArgs(name="tmp", mount_path="/tmp"),
                *([args.admin_secret.config_mount()] if args.admin_secret else []),
            ],
        )


def _volume_items() -> list[k8s.core.v1.KeyToPathArgs]:
    """The ConfigMap's keys as files: the checker's modules in the package folder, the spec beside it."""
    return [k8s.core.v1.KeyToPathArgs(key=name, path=f"{CHECKER_PACKAGE}/{name}") for name in checker_files()] + [
        k8s.core.v1.KeyToPathArgs(key="spec.json", path="spec.json")]


def verification_inputs(spec: dict, cfg: StackConfig, config_repo: Mapping[str, str],
                        images: Mapping[str, pulumi.Input[str]]) -> pulumi.Output[str]:
    """The inputs digest, once every image reference (a digest only a push knows) is known."""
    # The validated config holds no secret (they live in config.Secrets), so hashing it leaks none.
    config_json = cfg.model_dump_json(by_alias=True)
    return pulumi.Output.all(**images).apply(
        lambda refs: inputs_digest(spec, checker_source(), config_json, config_repo, refs))
