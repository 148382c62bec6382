"""Which third-party images the stack runs, and where each one comes from (pure: no Pulumi, no I/O
beyond looking at a configured archive).

Every image the cluster pulls should come from Harbor by digest. The stack's own services do
(harbor.py); the third-party ones (cp-kafka, cp-zookeeper, kafka-ui) are, by `msa:harbor.mirror`:

- copy:        copied into `<harbor>/<mirrorProject>/<name>:<tag>` during `pulumi up` (mirror.py runs
               scripts/mirror-image.sh through the push mode of the services), deployed as
               `<harbor>/<mirrorProject>/<name>@<digest read back from Harbor>`;
- proxy-cache: pulled through Harbor's proxy-cache project of their registry,
               `<harbor>/<proxyProject>/<path>@<digest resolved through the proxy>`;
- off:         pulled from their own registry, as configured (by tag unless a digest is configured).

Ground floor beside addressing.py (not in images/, whose components import k8s, which imports config):
the config layer validates with these functions too, so they import nothing of msa at run time.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

# The typed config (msa.config.model.StackConfig / MirrorImage) arrives as a parameter: importing it,
# even for type checking only, would put this module in a circle with the config layer that calls it.
StackConfig = MirrorImage = Any

DOCKER_HUB = "docker.io"
# containers/image and containerd both read a first component with a dot or a port (or `localhost`)
# as a registry host; anything else is a Docker Hub path (`confluentinc/cp-kafka`, `busybox`).
_REGISTRY = re.compile(r"^(?:localhost|[^/]*[.:][^/]*)$")
DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


@dataclass(frozen=True)
class SourceImage:
    """A configured image reference taken apart: `registry/path:tag@digest`."""

    registry: str
    path: str
    tag: Optional[str]
    digest: Optional[str]

    @property
    def name(self) -> str:
        """The repository's last component: its name inside the mirror project."""
        return self.path.rsplit("/", 1)[-1]

    @property
    def pull_ref(self) -> str:
        """What skopeo copies: by digest when one is configured (docker:// refuses tag and digest together)."""
        return f"{self.registry}/{self.path}@{self.digest}" if self.digest else f"{self.registry}/{self.path}:{self.tag or 'latest'}"

    @property
    def target_tag(self) -> str:
        """The tag the copy gets in Harbor (for people browsing Harbor; workloads pull by digest)."""
        return self.tag or ("digest-" + self.digest.split(":")[1][:12] if self.digest else "latest")


def parse_image(ref: str) -> SourceImage:
    rest, _, digest = ref.partition("@")
    first, slash, remainder = rest.partition("/")
    if slash and _REGISTRY.match(first):
        registry, path = first, remainder
    else:
        registry, path = DOCKER_HUB, rest
    tag = None
    if ":" in path.rsplit("/", 1)[-1]:
        path, tag = path.rsplit(":", 1)
    if registry == DOCKER_HUB and "/" not in path:
        path = f"library/{path}"  # Docker Hub's official images live under library/
    return SourceImage(registry, path, tag, digest or None)


@dataclass(frozen=True)
class ThirdPartyImage:
    """One image the workloads run that the stack does not build: the config key that names it."""

    role: str          # kafka | zookeeper | kafka-ui
    key: str           # msa:<key> that configures it
    ref: str


def third_party_images(cfg: StackConfig) -> list[ThirdPartyImage]:
    images = [
        ThirdPartyImage("kafka", "kafka.image", cfg.kafka.image),
        ThirdPartyImage("zookeeper", "kafka.zookeeperImage", cfg.kafka.zookeeper_image),
    ]
    if cfg.kafka.ui.enabled:
        images.append(ThirdPartyImage("kafka-ui", "kafka.ui.image", cfg.kafka.ui.image))
    return images


@dataclass(frozen=True)
class MirrorPlan:
    """How one third-party image reaches the nodes; everything decided before any resource exists."""

    name: str                       # cp-kafka: the repository name in the mirror project
    key: str                        # msa:kafka.image
    source: str                     # as configured
    mode: str                       # copy | proxy-cache | off
    push: str                       # direct | relay | none (copy only)
    platform: str                   # linux/<nodeArch> or "all"
    target: str                     # what is copied to / resolved: host/project/path:tag; the source itself when off
    scheme: str = "https"           # Harbor's
    archive: Optional[Path] = None  # copy from this file/folder instead of the source registry
    digest: Optional[str] = None    # push: none: the digest in Harbor, given in the config

    @property
    def repository(self) -> str:
        return self.target.rsplit(":", 1)[0] if self.mode != "off" else self.source

    @property
    def archive_kind(self) -> Optional[str]:
        return archive_kind(self.archive) if self.archive else None

    def source_transport(self, archive_at: Optional[str] = None) -> str:
        """The skopeo source of the copy: the registry, or the archive (at `archive_at` where it was
        copied to, e.g. on the relay host). An OCI layout names its image by the source tag, as
        `skopeo copy docker://SRC oci:DIR:TAG` writes it."""
        src = parse_image(self.source)
        if self.archive is None:
            return f"docker://{src.pull_ref}"
        path = archive_at or str(self.archive)
        if self.archive_kind == "oci":
            return f"oci:{path}:{src.target_tag}"
        return f"docker-archive:{path}"

    @property
    def runs_script(self) -> bool:
        """A copy (or, with a proxy cache, a digest lookup) runs during `pulumi up`."""
        return (self.mode == "copy" and self.push != "none") or self.mode == "proxy-cache"

    @property
    def fixed_ref(self) -> str:
        """The reference when nothing runs: the source itself (off), or Harbor's copy by the configured digest (push: none)."""
        if self.mode == "off":
            return self.source
        return f"{self.repository}@{self.digest}"

    @property
    def pinned(self) -> bool:
        """Deployed by digest (checkov's CKV_K8S_43 holds without an exception)."""
        return self.mode != "off" or "@sha256:" in self.source

    @property
    def description(self) -> str:
        if self.mode == "off":
            return "pulled from its own registry as configured (msa:harbor.mirror: off)"
        if self.mode == "proxy-cache":
            return "pulled through Harbor's proxy cache by the digest Harbor resolves"
        if self.push == "none":
            return "already in Harbor (msa:harbor.push: none): deployed by the configured digest"
        return "copied into Harbor during pulumi up, deployed by the digest read back from Harbor"


def archive_kind(path: Path) -> str:
    """`oci` for an OCI image layout folder (it holds `oci-layout`), else `docker-archive` (docker save)."""
    return "oci" if (path / "oci-layout").is_file() else "docker-archive"


class MirrorProblem(ValueError):
    """A mirror setting that cannot work; `key` is the msa: key to fix (config turns it into ConfigError)."""

    def __init__(self, key: str, problem: str):
        self.key = key
        super().__init__(problem)


def mirror_target(image: ThirdPartyImage, harbor: Any) -> tuple[str, str]:
    """(mode, target) of one image: where it is copied to or resolved through, or itself when off."""
    src = parse_image(image.ref)
    if harbor.mirror == "off" or src.registry == harbor.host:   # already in Harbor: used as configured
        return "off", image.ref
    if harbor.mirror == "copy":
        return "copy", f"{harbor.host}/{harbor.mirror_project}/{src.name}:{src.target_tag}"
    project = harbor.proxy_projects.get(src.registry)
    if project is None:
        raise MirrorProblem("harbor.proxyProjects", f"has no proxy-cache project for {src.registry} (the registry of msa:{image.key}); "
                                                    f"add `{src.registry}: <project>` after creating that project in Harbor")
    return "proxy-cache", f"{harbor.host}/{project}/{src.path}:{src.target_tag}"


def pulled_repositories(cfg: StackConfig) -> dict[str, Optional[str]]:
    """Role -> the Harbor repository its pods pull by digest, or None where the configured image is used."""
    found = {}
    for image in third_party_images(cfg):
        mode, target = mirror_target(image, cfg.harbor)
        found[image.role] = None if mode == "off" else target.rsplit(":", 1)[0]
    return found


def service_digest_source(svc: Any, harbor: Any) -> Optional[str]:
    """Where the digest a service is deployed by comes from: `push` (the stack builds and pushes it),
    `config` (msa:services.<name>.digest), `resolve` (prebuilt: read from Harbor by its tag at every
    preview and up, through msa:harbor.push direct or relay, as the proxy cache is), or None: by tag
    (prebuilt with push: none, where nothing can reach Harbor)."""
    if svc.context is not None:
        return "push"
    if svc.digest is not None:
        return "config"
    return "resolve" if harbor.push != "none" else None


def mirror_plans(cfg: StackConfig, project_dir: Path) -> dict[str, MirrorPlan]:
    """Role -> MirrorPlan for every third-party image, or MirrorProblem naming the key to fix."""
    harbor = cfg.harbor
    plans: dict[str, MirrorPlan] = {}
    names: dict[str, ThirdPartyImage] = {}
    for image in third_party_images(cfg):
        src = parse_image(image.ref)
        mode, target = mirror_target(image, harbor)
        settings = harbor.mirror_images.get(src.name)
        if mode == "copy":
            other = names.get(src.name)
            if other is not None and parse_image(other.ref) != src:
                raise MirrorProblem(image.key, f"{image.ref} would be copied to {harbor.mirror_project}/{src.name} like {other.ref} "
                                               f"(msa:{other.key}); use images with different names, or the same image")
            names[src.name] = image
        if mode != "off" and len(target.rsplit(":", 1)[0]) > 255:
            raise MirrorProblem(image.key, f"its copy would be named {target.rsplit(':', 1)[0][:60]}..., longer than the 255 characters a registry "
                                           "accepts for a repository; use a shorter image name or msa:harbor.mirrorProject")
        archive, digest = _image_settings(src.name, settings, mode, harbor.push, harbor.mirror_platforms, project_dir)
        if mode == "copy" and harbor.push == "none" and digest is None:
            # Nothing is copied, so nothing can be read back: the team copied it and says which digest.
            raise MirrorProblem(f"harbor.mirrorImages.{src.name}.digest",
                                f"harbor.push is none, so the stack copies nothing and cannot learn the digest of {target}; copy it "
                                f"(skopeo copy --all docker://{src.pull_ref} docker://{target}) and set the digest "
                                f"`skopeo inspect --format '{{{{.Digest}}}}' docker://{target}` prints")
        plans[image.role] = MirrorPlan(
            name=src.name, key=image.key, source=image.ref, mode=mode, push=harbor.push,
            platform="all" if harbor.mirror_platforms == "all" else cfg.cluster.platform,
            target=target, scheme=harbor.scheme, archive=archive, digest=digest,
        )
    unknown = sorted(set(harbor.mirror_images) - {parse_image(i.ref).name for i in third_party_images(cfg)})
    if unknown:
        known = ", ".join(parse_image(i.ref).name for i in third_party_images(cfg))
        raise MirrorProblem(f"harbor.mirrorImages.{unknown[0]}", f"no third-party image of this stack is named {unknown[0]!r}; use one of: {known}")
    return plans


def _image_settings(name: str, settings: Optional[MirrorImage], mode: str, push: str, platforms: str, project_dir: Path) -> tuple[Optional[Path], Optional[str]]:
    """An image's msa:harbor.mirrorImages entry, checked against the mode: (archive, digest)."""
    archive = digest = None
    if settings is None:
        return archive, digest
    where = f"harbor.mirrorImages.{name}"
    if settings.archive is not None:
        if mode != "copy":
            raise MirrorProblem(f"{where}.archive", f"is only read with mirror: copy (mirror is {mode}); remove it or set msa:harbor.mirror: copy")
        if push == "none":
            raise MirrorProblem(f"{where}.archive", "harbor.push is none, so nothing is copied; remove archive or choose push: direct or relay")
        archive = (project_dir / settings.archive).resolve()
        if not os.path.exists(archive):   # not Path.exists: a name too long for the file system is missing, not an OSError
            raise MirrorProblem(f"{where}.archive", f"{settings.archive!r} does not exist (relative to the project folder); "
                                                    "point it at the `docker save` tarball or OCI layout folder of the image")
        if archive_kind(archive) == "docker-archive" and not archive.is_file():
            raise MirrorProblem(f"{where}.archive", f"{settings.archive!r} is a folder without an oci-layout file; give a `docker save` tarball or an OCI layout folder")
        if archive_kind(archive) == "docker-archive" and platforms == "all":
            raise MirrorProblem(f"{where}.archive", "a `docker save` tarball holds one platform, but msa:harbor.mirrorPlatforms is all; "
                                                    "give an OCI layout with the index (skopeo copy --all docker://... oci:DIR:TAG) or set mirrorPlatforms: node")
    if settings.digest is not None:
        if not (mode == "copy" and push == "none"):
            raise MirrorProblem(f"{where}.digest", "is only for mirror: copy with harbor.push: none (the stack reads the digest back "
                                                   "from Harbor after its own copy); remove it")
        digest = settings.digest
    return archive, digest
