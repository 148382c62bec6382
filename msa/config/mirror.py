"""The per-image settings of msa:harbor.mirrorImages (the mirror plan itself: msa/mirror_plan.py)."""

from __future__ import annotations

from typing import Optional

from .fields import StrictModel
from .forms import Folder, ImageDigest


class MirrorImage(StrictModel):
    archive: Optional[Folder] = None
    """Copy from this `docker save` tarball or OCI layout folder (relative to the project) instead of the source registry."""
    digest: Optional[ImageDigest] = None
    """`push: none`: the digest of the image already in `<host>/<mirrorProject>/<name>` (the stack copies nothing)."""
