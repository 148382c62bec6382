"""What every command-line entry point (render.py, verify.py, init_stack.py, tasks.py) shares, using
nothing but the standard library: `--help` and `--version` must work with a bare `python3` on a fresh
clone, before ./venv exists.

The order in each script: build the parser and parse the arguments (argparse answers --help and
--version and exits), then `run_in_project_venv` (re-run with ./venv's Python when the pinned packages
are not importable), then import what needs them.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from pathlib import Path

from . import __version__


def version_text(prog: str) -> str:
    return f"{prog} (msa) {__version__}"


def add_version(parser: argparse.ArgumentParser, prog: str) -> None:
    parser.add_argument("--version", action="version", version=version_text(prog), help="print the msa release and exit")


def run_in_project_venv(script: Path, project_dir: Path, needs: str = "pulumi", create_with: str = "python3 tasks.py render") -> None:
    """`python3 <script> ...` works outside the venv as well: without the pinned packages at hand,
    re-run this very command with ./venv's Python (the virtualenv Pulumi.yaml names)."""
    if importlib.util.find_spec(needs) is not None:
        return
    venv = project_dir / "venv"
    venv_python = venv / "bin" / "python"
    if venv_python.exists() and Path(sys.prefix).resolve() != venv.resolve():
        os.execv(str(venv_python), [str(venv_python), str(script.resolve()), *sys.argv[1:]])
    print(f"error: {script.name} needs the pinned packages in ./venv; create it with: {create_with}", file=sys.stderr)
    sys.exit(2)
