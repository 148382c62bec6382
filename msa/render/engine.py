"""The mock engine: run the stack's program under Pulumi's mock runtime and record every
registration (type, name, inputs, resource options) as a real engine would receive it.

No Pulumi CLI, provider plugin, cluster or network is needed. Kubernetes objects without a name get
the name pulumi-kubernetes would give them (`autoname`), made reproducible from their content.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import runpy
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc

from ..config import PROJECT, SECRET_KEYS
from ..config.stackfile import read_stack_config
from ..config.tls_ca import make_ca
from ..kafka.tls_certificate import BrokerCertificate, BrokerCertificateProvider

SECRET_SIG = "4dabf18193072939515e22adb298388d"
SECRET_PLACEHOLDER = "[secret]"
# Stands in for a digest only a real push can know; images.yaml says so.
PLACEHOLDER_DIGEST = "sha256:" + "0" * 64
AUTONAMED = "pulumi.com/autonamed"
KIND_ORDER = ["Namespace", "NetworkPolicy", "ServiceAccount", "Role", "RoleBinding", "ConfigMap", "Secret", "Service", "StatefulSet", "Deployment",
              "PodDisruptionBudget"]
# After everything else: the verification Job checks what the objects above bring up.
LAST_KINDS = ["Job"]



@dataclass
class Recorded:
    type: str
    name: str
    custom: bool
    inputs: dict
    # Resource options the engine would see (filled in by the recording monitor).
    urn: str = ""
    parent: str = ""
    dependencies: list[str] = field(default_factory=list)
    delete_before_replace: bool = False
    # customTimeouts (create/update/delete) as the engine would get them; empty when not set.
    custom_timeouts: dict = field(default_factory=dict)
    # ignoreChanges as the engine would get them (property paths whose drift is ignored).
    ignore_changes: list[str] = field(default_factory=list)
    # retainOnDelete: removing the resource from the program leaves the object in the cluster.
    retain_on_delete: bool = False


@dataclass
class RenderedStack:
    resources: list[Recorded] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # Outputs registered by components (URN -> outputs), in wire format, and the stack's exports.
    outputs: dict[str, dict] = field(default_factory=dict)
    exports: dict[str, Any] = field(default_factory=dict)

    def of_type(self, type_: str) -> list[Recorded]:
        return [r for r in self.resources if r.type == type_]

    def kubernetes_objects(self) -> list[dict]:
        objs = [plain(r.inputs) for r in self.resources if r.custom and r.type.startswith("kubernetes:")]
        return sorted(objs, key=_object_order)


def _object_order(obj: dict) -> tuple:
    kind = obj.get("kind", "")
    if kind in LAST_KINDS:
        rank = len(KIND_ORDER) + 1 + LAST_KINDS.index(kind)
    else:
        rank = KIND_ORDER.index(kind) if kind in KIND_ORDER else len(KIND_ORDER)
    meta = obj.get("metadata", {})
    return (rank, kind, meta.get("namespace", ""), meta.get("name", ""))


def plain(value: Any) -> Any:
    """Wire-format inputs -> plain YAML data: secrets become a placeholder, integral floats ints."""
    if isinstance(value, dict):
        if value.get(SECRET_SIG) is not None and "value" in value:
            return redact(value["value"])
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def unsecret(value: Any) -> Any:
    """Wire-format inputs with the secret wrappers taken off (what a provider receives)."""
    if isinstance(value, dict):
        if value.get(SECRET_SIG) is not None and "value" in value:
            return unsecret(value["value"])
        return {k: unsecret(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unsecret(v) for v in value]
    return value


def redact(value: Any) -> Any:
    """A secret keeps its shape (so the object still validates) but no value survives."""
    if isinstance(value, dict):
        return {k: redact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return SECRET_PLACEHOLDER


# --- stack file -> Pulumi config --------------------------------------------------------------------

def load_stack_config(project_dir: Path, stack: str) -> tuple[dict[str, str], list[str]]:
    """`Pulumi.<stack>.yaml` plus the project's schema defaults, as (config, secret keys), read as the CLI
    reads them. A secret the file does not hold yet (init-stack sets them) is a placeholder as well."""
    config, secret_keys = read_stack_config(project_dir, stack, SECRET_PLACEHOLDER)
    for key in (f"{PROJECT}:{k}" for k in SECRET_KEYS):
        if key not in config:
            config[key] = SECRET_PLACEHOLDER
            secret_keys.append(key)
    # The CA's text is checked before anything renders (a placeholder is no CA): a throwaway CA stands in.
    # Only the CA certificate's text shows in the render (the clients' truststore), never a key.
    if config.get(f"{PROJECT}:kafkaTlsCa") == SECRET_PLACEHOLDER:
        config[f"{PROJECT}:kafkaTlsCa"] = render_only_ca()
    return config, secret_keys


@functools.cache
def render_only_ca() -> str:
    return make_ca("msa render-only CA (the stack's msa:kafkaTlsCa is encrypted)")


# --- the mock engine ---------------------------------------------------------------------------------

def autoname(type_: str, name: str, inputs: dict) -> dict:
    """What pulumi-kubernetes' Check does to an object without metadata.name (metadata/naming.go):
    `<resource name>-<suffix>` and the `pulumi.com/autonamed` annotation. The provider's suffix is
    random; the render uses 8 hex digits of the object's redacted content instead, so a render is
    byte-identical and a content change shows as a new name (as it will be under `pulumi up`)."""
    meta = inputs.get("metadata")
    if not type_.startswith("kubernetes:") or not isinstance(meta, dict) or meta.get("name"):
        return inputs
    suffix = hashlib.sha256(json.dumps(plain(inputs), sort_keys=True).encode()).hexdigest()[:8]
    annotations = {**(meta.get("annotations") or {}), AUTONAMED: "true"}
    return {**inputs, "metadata": {**meta, "name": f"{name}-{suffix}", "annotations": annotations}}


class RecordingMocks(pulumi_mocks.Mocks):
    """Records every registration and answers with the outputs a real engine would add."""

    def __init__(self, result: RenderedStack):
        self.result = result

    def new_resource(self, args):
        inputs = autoname(args.typ, args.name, args.inputs) if args.custom else args.inputs
        self.result.resources.append(Recorded(args.typ, args.name, bool(args.custom), inputs))
        state = dict(inputs)
        if args.typ == "docker:index/image:Image":
            repo = str(args.inputs.get("imageName", "")).rsplit(":", 1)[0]
            state["repoDigest"] = f"{repo}@{PLACEHOLDER_DIGEST}"
        if args.typ == "command:local:Command":
            state["stdout"] = PLACEHOLDER_DIGEST
        if args.typ == f"pulumi-python:{BrokerCertificate._resource_type_name}":
            # What the dynamic provider's create returns under `pulumi up`: a key and a certificate from the CA.
            state.update(BrokerCertificateProvider().create(unsecret(dict(args.inputs))).outs)
        return (f"{args.name}-id" if args.custom else None, state)

    def call(self, args):
        # A prebuilt service's digest, read from Harbor at every preview/up: unknown offline, like a push.
        if args.token == "command:local:run":
            return {"stdout": PLACEHOLDER_DIGEST, "stderr": "", "command": args.args.get("command", "")}
        return {}


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """Adds the resource options (dependencies, delete-before-replace) the mocks API leaves out."""

    def RegisterResource(self, request):
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            # Registrations arrive from several threads: find this one's record by type and name.
            recorded = next(r for r in reversed(self.mocks.result.resources)
                            if r.type == request.type and r.name == request.name and not r.urn)
            recorded.urn = response.urn
            recorded.parent = request.parent
            recorded.dependencies = list(request.dependencies)
            recorded.delete_before_replace = bool(request.deleteBeforeReplace)
            recorded.ignore_changes = list(request.ignoreChanges)
            recorded.retain_on_delete = bool(request.retainOnDelete)
            timeouts = request.customTimeouts
            recorded.custom_timeouts = {k: v for k, v in (("create", timeouts.create), ("update", timeouts.update), ("delete", timeouts.delete)) if v}
        return response

    def RegisterResourceOutputs(self, request):
        self.mocks.result.outputs[request.urn] = rpc.deserialize_properties(request.outputs)
        return super().RegisterResourceOutputs(request)


class _WarningCollector(logging.Handler):
    def __init__(self, result: RenderedStack):
        super().__init__(logging.WARNING)
        self.result = result

    def emit(self, record: logging.LogRecord) -> None:
        self.result.warnings.append(record.getMessage())


def run_program(project_dir: Path, stack: str, config: dict[str, str], secret_keys: list[str],
                mocks: type[RecordingMocks] = RecordingMocks) -> RenderedStack:
    """Run `__main__.py` under the mock runtime; raises pulumi.RunError on invalid configuration.
    `mocks` may be a RecordingMocks subclass that answers differently (the tests use that)."""
    result = RenderedStack()
    logger = logging.getLogger(f"msa.render.{stack}")
    logger.propagate = False
    logger.handlers = [_WarningCollector(result)]
    engine_mocks = mocks(result)
    pulumi.runtime.set_mocks(engine_mocks, project="msa", stack=stack, preview=False, logger=logger, monitor=RecordingMonitor(engine_mocks))
    pulumi.runtime.set_all_config(config, secret_keys)
    if str(project_dir) not in sys.path:
        sys.path.insert(0, str(project_dir))
    program = str(project_dir / "__main__.py")

    def program_run():
        runpy.run_path(program, run_name="__main__")
        # Resolve the exports (the mock stack records none of its own) for the tests to inspect.
        exports = dict(getattr(pulumi.runtime.get_root_resource(), "outputs", None) or {})
        return pulumi.Output.all(**exports).apply(result.exports.update)

    pulumi_mocks.test(program_run)()
    return result
