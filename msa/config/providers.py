"""The keys of the provider namespaces a stack file may use besides `msa:`, checked like `msa:` keys.

A misspelt provider key is ignored by its provider: `kubernetes:contxt: private-cloud` leaves the
provider on the kubeconfig's current context, which is how a stack deploys to the wrong cluster. So
every key of `kubernetes:`, `docker:`, `command:` and `pulumi:` must be one that namespace has.

The lists are the providers' configuration schemas at the pinned versions (requirements.txt):
- kubernetes (pulumi-kubernetes 4.34.2: the provider's arguments, pulumi_kubernetes/provider.py, plus the
  config-only `strictMode`);
- docker (pulumi-docker 5.2.0: pulumi_docker/config/vars.py);
- command (pulumi-command 1.2.1: no provider configuration at all);
- pulumi (the engine's own options: disable-default-providers, autonaming, and Pulumi Cloud's tags/template).
tests/config/test_providers.py compares the first two with the installed SDKs, so a version bump that
adds a key fails until it is listed here.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Mapping, Optional

from ..errors import ConfigError
from .problems import did_you_mean

PROVIDER_KEYS: dict[str, tuple[str, ...]] = {
    "kubernetes": (
        "alwaysRender", "cluster", "clusterIdentifier", "context", "deleteUnreachable", "enableConfigMapMutable",
        "enablePatchForce", "enableSecretMutable", "enableServerSideApply", "helmReleaseSettings", "kubeClientSettings",
        "kubeconfig", "namespace", "renderYamlToDirectory", "skipUpdateUnreachable", "strictMode",
        "suppressDeprecationWarnings", "suppressHelmHookWarnings", "upsertExistingObjects",
    ),
    "docker": ("caMaterial", "certMaterial", "certPath", "context", "disableDockerDaemonCheck", "host", "keyMaterial", "registryAuth", "sshOpts"),
    "command": (),
    "pulumi": ("autonaming", "disable-default-providers", "tags", "template"),
}


def check_provider_keys(keys: Iterable[str]) -> None:
    """Every `<provider>:<key>` must be a key of that provider; one line with the closest one if not."""
    for full in sorted(keys):
        namespace, _, key = full.partition(":")
        known = PROVIDER_KEYS.get(namespace)
        if known is None or key in known:
            continue
        listing = ", ".join(f"{namespace}:{k}" for k in known) if known else "none (the provider takes no configuration)"
        raise ConfigError(key, f"is not a key of the {namespace} provider; {did_you_mean(key, known)}its keys are {listing}", namespace=namespace)


def kubeconfig_files(explicit: Optional[str], environ: Mapping[str, str], home: Path) -> list[Path]:
    """Where the provider reads the kubeconfig: kubernetes:kubeconfig (a path), else $KUBECONFIG (a list
    joined by ':' as kubectl merges it), else ~/.kube/config."""
    if explicit:
        return [Path(explicit).expanduser()]
    if environ.get("KUBECONFIG"):
        return [Path(p).expanduser() for p in environ["KUBECONFIG"].split(os.pathsep) if p]
    return [home / ".kube" / "config"]


def context_problem(context: Optional[str], explicit_kubeconfig: Optional[str], environ: Mapping[str, str], home: Path) -> Optional[str]:
    """Why kubernetes:context cannot be used on this machine, or None. Only at `pulumi preview/up`:
    the offline render needs no kubeconfig."""
    if not context:
        return None
    import yaml

    if explicit_kubeconfig and explicit_kubeconfig.lstrip().startswith(("apiVersion", "{", "clusters", "kind")):
        files, docs = ["kubernetes:kubeconfig"], [_load(explicit_kubeconfig)]
    else:
        paths = kubeconfig_files(explicit_kubeconfig, environ, home)
        existing = [p for p in paths if p.is_file()]
        if not existing:
            where = "kubernetes:kubeconfig" if explicit_kubeconfig else ("$KUBECONFIG" if environ.get("KUBECONFIG") else "~/.kube/config")
            return f"no kubeconfig at {', '.join(map(str, paths))} ({where}); point KUBECONFIG at the file that has context {context!r}"
        files, docs = [str(p) for p in existing], []
        for path in existing:
            try:
                docs.append(_load(path.read_text()))
            except (OSError, yaml.YAMLError) as exc:
                return f"cannot read the kubeconfig {path}: {str(exc).splitlines()[0]}"
    names = [c.get("name") for d in docs for c in (d.get("contexts") or []) if isinstance(c, dict)]
    if context in names:
        return None
    return (f"context {context!r} is not in the kubeconfig {', '.join(files)}; {did_you_mean(context, names)}"
            f"its contexts are {', '.join(names) or 'none'} (kubectl config get-contexts)")


def _load(text: str) -> dict:
    import yaml

    doc = yaml.safe_load(text)
    return doc if isinstance(doc, dict) else {}


def check_context(config: Mapping[str, Optional[str]], environ: Mapping[str, str] = os.environ, home: Optional[Path] = None) -> None:
    problem = context_problem(config.get("context"), config.get("kubeconfig"), environ, home or Path.home())
    if problem:
        raise ConfigError("context", problem, namespace="kubernetes")
