#!/usr/bin/env python3
"""Offline render: run the stack's program under Pulumi's mock runtime and write what it would apply.

    python render.py STACK [--out DIR]        # DIR defaults to rendered/STACK

Reads Pulumi.STACK.yaml (and the defaults in Pulumi.yaml). `secure:` values become the placeholder
"[secret]" and are never decrypted; so do the secrets a fresh clone has not set yet (render only: under
`pulumi up` a missing secret stops the program with the command that sets it). The very same `__main__.py` that `pulumi up` runs registers its
resources with a mock engine; this script only records them and writes:

    DIR/kubernetes.yaml     every Kubernetes object, multi-document YAML, stable order
    DIR/nodes/<host>.sh     the exact script each node runs (containerd trusts Harbor)
    DIR/images.yaml         per image: context, platform, target reference, push mode
    DIR/images/*.sh         in relay mode: the local build/copy script and the relay host's push script
    DIR/import.json         `pulumi import --file` document adopting every (named) Kubernetes object

Exit 0 on success; exit 2 with `error: msa:<key>: ...` on invalid configuration, writing nothing.
No Pulumi CLI, provider plugin, cluster or network is needed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import runpy
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

PROJECT_DIR = Path(__file__).resolve().parent
VENV = PROJECT_DIR / "venv"


def _run_in_project_venv() -> None:
    """`python render.py dev` works outside the venv as well: without the pinned packages at hand,
    re-run this very command with ./venv's Python (the virtualenv Pulumi.yaml names)."""
    try:
        import pulumi  # noqa: F401
    except ImportError:
        pass
    else:
        return
    venv_python = VENV / "bin" / "python"
    if venv_python.exists() and Path(sys.prefix).resolve() != VENV.resolve():
        os.execv(str(venv_python), [str(venv_python), str(Path(__file__).resolve()), *sys.argv[1:]])
    print("error: render.py needs the pinned packages in ./venv; create it with: python3 tasks.py render", file=sys.stderr)
    sys.exit(2)


if __name__ == "__main__":
    _run_in_project_venv()

import pulumi  # noqa: E402
import yaml  # noqa: E402
from pulumi.runtime import mocks as pulumi_mocks  # noqa: E402
from pulumi.runtime import rpc  # noqa: E402

from msa.adoption import Registration, import_document  # noqa: E402
from msa.config.stackfile import StackFileError, read_stack_config  # noqa: E402
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
    from msa.config import PROJECT, SECRET_KEYS

    for key in (f"{PROJECT}:{k}" for k in SECRET_KEYS):
        if key not in config:
            config[key] = SECRET_PLACEHOLDER
            secret_keys.append(key)
    return config, secret_keys


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
        return (f"{args.name}-id" if args.custom else None, state)

    def call(self, args):
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


# --- output files -------------------------------------------------------------------------------------

def _dump_all(docs: list) -> str:
    return yaml.safe_dump_all(docs, sort_keys=True, default_flow_style=False, width=1000)


def _relative(path: Optional[str], project_dir: Path) -> Optional[str]:
    if not path:
        return path
    p = Path(path)
    return p.relative_to(project_dir).as_posix() if p.is_relative_to(project_dir) else path


def output_files(result: RenderedStack, project_dir: Path) -> dict[str, tuple[str, int]]:
    """Relative path -> (content, mode) of everything the render writes."""
    files: dict[str, tuple[str, int]] = {"kubernetes.yaml": (_dump_all(result.kubernetes_objects()), 0o644)}

    for node in result.of_type("msa:nodes:NodeRegistrySetup"):
        files[f"nodes/{node.inputs['host']}.sh"] = (node.inputs["script"], 0o755)

    relay_scripts = {r.name: r.inputs["create"] for r in result.of_type("command:local:Command")}
    images = []
    for image in sorted(result.of_type("msa:images:HarborImage"), key=lambda r: r.inputs["service"]):
        entry = {
            "service": image.inputs["service"],
            "context": _relative(image.inputs.get("context"), project_dir),
            "dockerfile": _relative(image.inputs.get("dockerfile"), project_dir),
            "platform": image.inputs["platform"],
            "target": image.inputs["target"],
            "push": image.inputs["push"],
            "deployedAs": "repository@digest of the pushed image" if image.inputs["push"] != "none" else "the tag above",
        }
        if not image.inputs.get("context"):
            entry["why"] = (f"not built: msa:services.{image.inputs['service']} has no context, so the stack pulls this tag from "
                            "Harbor as it is; msa:harbor.push applies only to services with a context (set one to build and push)")
        script = relay_scripts.get(f"{image.name}-relay-push")
        if script is not None:
            entry["relayScript"] = f"images/{image.inputs['service']}.relay.sh"
            files[entry["relayScript"]] = (script, 0o755)
        images.append(entry)
    if any(i.get("relayScript") for i in images):
        from msa.images.harbor import relay_push_script

        files["images/relay-push.sh"] = (relay_push_script(), 0o755)
    files["images.yaml"] = (yaml.safe_dump({"images": images}, sort_keys=False, width=1000), 0o644)
    files["import.json"] = (json.dumps(import_document(registrations(result)), indent=2) + "\n", 0o644)
    return files


def registrations(result: RenderedStack) -> list[Registration]:
    """The program's registrations as the import document needs them."""
    return [
        Registration(r.type, r.name, r.urn, r.parent, r.custom,
                     plain(r.inputs.get("metadata")) if r.custom and r.type.startswith("kubernetes:") else None)
        for r in result.resources
    ]


# A render's output folder holds this file; only such a folder (or an empty one) is ever replaced.
MARKER = ".msa-render"
MARKER_TEXT = "Written by msa's render.py. The next render replaces this whole folder; keep nothing else here.\n"


class OutputFolderError(Exception):
    """--out names a folder the render must not replace; the text says why and what to do."""


def check_output_folder(out_dir: Path, project_dir: Path = PROJECT_DIR) -> Path:
    """The absolute folder the render may replace, or OutputFolderError. Checked before anything runs,
    so a refusal writes nothing: the render replaces only a folder it wrote itself (it holds MARKER)
    or an empty one, and never the project, a folder above it, the home folder or /."""
    target = Path(os.path.abspath(out_dir))
    if target.is_symlink():
        raise OutputFolderError("is a symbolic link; give the folder itself")
    real = target.resolve()
    project = project_dir.resolve()
    if real == Path(real.anchor):
        raise OutputFolderError("is the root folder; choose a folder of its own, e.g. rendered/dev")
    if real == Path.home().resolve():
        raise OutputFolderError("is your home folder; choose a folder of its own, e.g. ~/msa-rendered")
    if real == project:
        raise OutputFolderError("is the project folder; choose a folder of its own, e.g. rendered/dev")
    if project.is_relative_to(real):
        raise OutputFolderError(f"contains the project folder {project}; choose a folder of its own, e.g. rendered/dev")
    if real.exists() and not real.is_dir():
        raise OutputFolderError("is a file, not a folder; choose a folder (it is created if missing)")
    if real.is_dir() and not (real / MARKER).is_file() and not _only_render_output(real):
        raise OutputFolderError(f"is a folder render.py did not write (no {MARKER} in it) and it is not empty; choose a new or empty folder")
    for parent in real.parents:
        if parent.exists() and not parent.is_dir():
            raise OutputFolderError(f"cannot be created: {parent} is a file")
    return real


# What a render writes; a folder holding nothing else is a render from before MARKER existed.
RENDER_OUTPUT = ("kubernetes.yaml", "images.yaml", "import.json", "nodes/*.sh", "images/*.sh")


def _only_render_output(folder: Path) -> bool:
    for path in folder.rglob("*"):
        if path.is_symlink() or (path.is_file() and not any(path.relative_to(folder).match(p) for p in RENDER_OUTPUT)):
            return False
        if path.is_dir() and path.relative_to(folder).as_posix() not in ("nodes", "images"):
            return False
    return True


def write_outputs(files: dict[str, tuple[str, int]], out_dir: Path) -> None:
    """Write into a fresh sibling folder, then swap it in: a reader never sees half a render, and a
    failed write leaves the previous render as it was."""
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    previous: Optional[Path] = None
    try:
        for rel, (content, mode) in sorted({**files, MARKER: (MARKER_TEXT, 0o644)}.items()):
            path = staging / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)
            path.chmod(mode)
        staging.chmod(0o755)
        if out_dir.exists():
            previous = staging.with_name(staging.name + ".previous")
            out_dir.rename(previous)
        try:
            staging.rename(out_dir)
        except OSError:
            if previous is not None:
                previous.rename(out_dir)
                previous = None
            raise
    finally:
        if staging.exists():
            shutil.rmtree(staging)
        if previous is not None and previous.exists():
            shutil.rmtree(previous)


def render(stack: str, out_dir: Path, project_dir: Path = PROJECT_DIR) -> RenderedStack:
    out_dir = check_output_folder(out_dir, project_dir)
    config, secret_keys = load_stack_config(project_dir, stack)
    result = run_program(project_dir, stack, config, secret_keys)
    write_outputs(output_files(result, project_dir), out_dir)
    return result


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Render a stack offline (no Pulumi CLI, no cluster).")
    parser.add_argument("stack", help="stack name: reads Pulumi.<stack>.yaml")
    parser.add_argument("--out", type=Path, help="output folder (default: rendered/<stack>); only a folder render.py wrote, or an empty one, is replaced")
    args = parser.parse_args(argv)
    out_dir = args.out or PROJECT_DIR / "rendered" / args.stack
    try:
        result = render(args.stack, out_dir, PROJECT_DIR)
    except OutputFolderError as exc:
        print(f"error: --out {args.out or out_dir}: {exc}", file=sys.stderr)
        return 2
    except (StackFileError, pulumi.RunError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: cannot write {out_dir}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    count = len(result.kubernetes_objects())
    print(f"rendered {args.stack}: {count} Kubernetes objects -> {os.path.relpath(out_dir)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
