"""The output folder: which folder a render may replace, and replacing it whole in one rename."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Optional


# A render's output folder holds this file; only such a folder (or an empty one) is ever replaced.
MARKER = ".msa-render"
MARKER_TEXT = "Written by msa's render.py. The next render replaces this whole folder; keep nothing else here.\n"


class OutputFolderError(Exception):
    """--out names a folder the render must not replace; the text says why and what to do."""


def check_output_folder(out_dir: Path, project_dir: Path) -> Path:
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
