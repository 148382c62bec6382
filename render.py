#!/usr/bin/env python3
"""Offline render: run the stack's program under Pulumi's mock runtime and write what it would apply.

    python render.py STACK [--out DIR]        # DIR defaults to rendered/STACK

Reads Pulumi.STACK.yaml (and the defaults in Pulumi.yaml). `secure:` values become the placeholder
"[secret]" and are never decrypted; so do the secrets a fresh clone has not set yet (render only: under
`pulumi up` a missing secret stops the program with the command that sets it). The very same `__main__.py` that `pulumi up` runs registers its
resources with a mock engine; this script only records them and writes:

    DIR/kubernetes.yaml     every Kubernetes object, multi-document YAML, by kind in an order one
                            `kubectl apply -f` pass accepts (docs/render.md lists it)
    DIR/outputs.yaml        the stack outputs `pulumi stack output` shows after an up
    DIR/nodes/<host>.sh     the exact script each node runs (containerd trusts Harbor)
    DIR/images.yaml         per image: context, platform, target reference, push mode; the mirror plan
    DIR/images/*.sh         relay build scripts; mirror-<workload>.sh: each third-party image's copy into Harbor
    DIR/import.json         `pulumi import --file` document adopting every (named) Kubernetes object

Exit 0 on success; exit 2 with `error: msa:<key>: ...` on invalid configuration, writing nothing.
No Pulumi CLI, provider plugin, cluster or network is needed.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Optional

from msa.cli import add_version, run_in_project_venv

PROJECT_DIR = Path(__file__).resolve().parent


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="render.py", description="Render a stack offline (no Pulumi CLI, no cluster).")
    parser.add_argument("stack", help="stack name: reads Pulumi.<stack>.yaml")
    parser.add_argument("--out", type=Path, help="output folder (default: rendered/<stack>); only a folder render.py wrote, or an empty one, is replaced")
    add_version(parser, "render.py")
    return parser


if __name__ == "__main__":
    build_parser().parse_args()  # --help and --version answer with a bare python3, before any venv
    run_in_project_venv(Path(__file__), PROJECT_DIR)

import pulumi  # noqa: E402

# The render's API, used by the tests, benchmarks and verify.py as `render.<name>`.
from msa.config.stackfile import StackFileError  # noqa: E402,F401
from msa.render.engine import (  # noqa: E402,F401
    AUTONAMED, PLACEHOLDER_DIGEST, SECRET_PLACEHOLDER, SECRET_SIG, Recorded, RecordingMocks, RecordingMonitor, RenderedStack,
    autoname, load_stack_config, plain, redact, run_program,
)
from msa.render.folder import MARKER, OutputFolderError, write_outputs  # noqa: E402,F401
from msa.render.folder import check_output_folder as _check_output_folder  # noqa: E402
from msa.render.output import output_files, registrations  # noqa: E402,F401


def check_output_folder(out_dir: Path, project_dir: Path = PROJECT_DIR) -> Path:
    """msa.render.folder.check_output_folder, for this project by default."""
    return _check_output_folder(out_dir, project_dir)


def render(stack: str, out_dir: Path, project_dir: Path = PROJECT_DIR) -> RenderedStack:
    out_dir = check_output_folder(out_dir, project_dir)
    config, secret_keys = load_stack_config(project_dir, stack)
    result = run_program(project_dir, stack, config, secret_keys)
    write_outputs(output_files(result, project_dir), out_dir)
    return result


def main(argv: Optional[list[str]] = None) -> int:
    args = build_parser().parse_args(argv)
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
