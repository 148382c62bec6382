"""What a CI runner needs before `pulumi preview/up` of a stack can work, checked in seconds with one
line each (README: "CI and its prerequisites"); the workflows run it first:

    venv/bin/python -m msa.prerequisites STACK

Each check prints `ok: ...` or `missing: ... ; <the fix>`; exit 1 when any is missing, so a runner
without network to the cluster fails here in seconds, not halfway through an update with a provider
timeout. What is checked, from the stack file (no secret is read):
- the runner is self-hosted (GitHub's RUNNER_ENVIRONMENT): a hosted runner has no route to the cluster;
- the Pulumi backend: PULUMI_ACCESS_TOKEN or a self-managed backend URL, and the passphrase when the
  stack file is passphrase-encrypted;
- the kubeconfig has `kubernetes:context` and its API server answers on TCP;
- every node (or its bastion) answers on its SSH port;
- Harbor answers; for a plain-HTTP Harbor that the runner pushes to, Docker lists it as an insecure registry;
- skopeo, where the runner copies the third-party images into Harbor (`mirror: copy`, `push: direct`).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Callable, Mapping, Optional
from urllib.parse import urlsplit

from .config.providers import context_problem, kubeconfig_files
from .config.stackfile import StackFileError, load_document

TIMEOUT = 5.0
Check = tuple[bool, str]


def reachable(host: str, port: int, timeout: float = TIMEOUT) -> Optional[str]:
    """None when a TCP connection opens, else why not (one phrase)."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return None
    except OSError as exc:
        return f"{type(exc).__name__}: {exc.strerror or exc}" if not isinstance(exc, TimeoutError) else f"no answer in {timeout:.0f} s"


def check_runner(environ: Mapping[str, str]) -> Check:
    kind = environ.get("RUNNER_ENVIRONMENT")
    if kind and kind != "self-hosted":
        return False, (f"runner: this job runs on a {kind} runner, which has no route to the private cluster; "
                       "register a self-hosted runner inside the network with the label private-cloud")
    return True, f"runner: {kind or 'not GitHub Actions'}"


def check_backend(stack_file: dict, environ: Mapping[str, str]) -> list[Check]:
    checks = []
    if environ.get("PULUMI_ACCESS_TOKEN") or environ.get("PULUMI_BACKEND_URL"):
        checks.append((True, "pulumi backend: " + ("Pulumi Cloud token" if environ.get("PULUMI_ACCESS_TOKEN") else environ["PULUMI_BACKEND_URL"])))
    else:
        checks.append((False, "pulumi backend: neither PULUMI_ACCESS_TOKEN nor PULUMI_BACKEND_URL is set; set the environment's secret "
                              "PULUMI_ACCESS_TOKEN or the variable PULUMI_BACKEND_URL (s3://..., file://...)"))
    if "encryptionsalt" in stack_file and not (environ.get("PULUMI_CONFIG_PASSPHRASE") or environ.get("PULUMI_CONFIG_PASSPHRASE_FILE")):
        checks.append((False, "pulumi passphrase: the stack is passphrase-encrypted but PULUMI_CONFIG_PASSPHRASE is empty; "
                              "set it as a secret of the stack's GitHub environment"))
    return checks


def check_kubernetes(config: dict, environ: Mapping[str, str], home: Path, connect: Callable = reachable) -> list[Check]:
    context, explicit = config.get("kubernetes:context"), config.get("kubernetes:kubeconfig")
    problem = context_problem(context, explicit, environ, home)
    if problem:
        return [(False, f"kubeconfig: {problem}")]
    server = _server_of(context, explicit, environ, home)
    if server is None:
        return [(True, f"kubeconfig: context {context or '(current)'}")]
    url = urlsplit(server)
    why = connect(url.hostname, url.port or 443)
    if why:
        return [(False, f"kubernetes API {server} (context {context}): {why}; the runner needs a route to the API server")]
    return [(True, f"kubernetes API {server} (context {context})")]


def _server_of(context: Optional[str], explicit: Optional[str], environ: Mapping[str, str], home: Path) -> Optional[str]:
    import yaml

    docs = []
    for path in kubeconfig_files(explicit, environ, home):
        if path.is_file():
            docs.append(yaml.safe_load(path.read_text()) or {})
    context = context or next((d.get("current-context") for d in docs if d.get("current-context")), None)
    cluster = next((c["context"].get("cluster") for d in docs for c in d.get("contexts") or [] if c.get("name") == context), None)
    return next((c["cluster"].get("server") for d in docs for c in d.get("clusters") or [] if c.get("name") == cluster), None)


def check_nodes(config: dict, connect: Callable = reachable) -> list[Check]:
    checks = []
    for node in (config.get("msa:cluster") or {}).get("nodes") or []:
        hop = node.get("bastion") or node
        host, port = hop["host"], int(hop.get("port", 22))
        via = f" (via bastion {host})" if node.get("bastion") else ""
        why = connect(host, port)
        checks.append((why is None, f"ssh {node['host']}{via}: " + (f"{host}:{port} answers" if why is None else
                                    f"{host}:{port}: {why}; the runner needs SSH to every node (msa:cluster.nodes)")))
    return checks


def docker_insecure_registries(run: Callable = subprocess.run) -> Optional[list[str]]:
    """The registries Docker talks plain HTTP to, or None without a Docker daemon."""
    if shutil.which("docker") is None:
        return None
    result = run(["docker", "info", "--format", "{{json .RegistryConfig.IndexConfigs}}"], capture_output=True, text=True, timeout=30)
    if result.returncode != 0:
        return None
    configs = json.loads(result.stdout or "{}") or {}
    return sorted(name for name, c in configs.items() if not c.get("Secure", True))


def check_mirror_tool(config: dict, which: Callable = shutil.which) -> list[Check]:
    """`mirror: copy` (the default) with `push: direct` copies cp-kafka, cp-zookeeper and kafka-ui into
    Harbor from the runner with skopeo (msa/images/scripts/mirror-image.sh)."""
    harbor = config.get("msa:harbor") or {}
    if harbor.get("mirror", "copy") != "copy" or harbor.get("push", "direct") != "direct":
        return []
    if which("skopeo") is None:
        return [(False, "skopeo: not on PATH; the runner copies the third-party images into Harbor (msa:harbor.mirror: copy): "
                        "apt-get install skopeo, or set msa:harbor.push: relay")]
    return [(True, "skopeo: copies the third-party images into Harbor")]


def check_harbor(config: dict, connect: Callable = reachable, insecure: Callable = docker_insecure_registries) -> list[Check]:
    harbor = config.get("msa:harbor") or {}
    host = str(harbor.get("host", ""))
    scheme = harbor.get("scheme", "http")
    name, _, port = host.partition(":")
    address = harbor.get("address") or name
    why = connect(address, int(port or (80 if scheme == "http" else 443)))
    checks = [(why is None, f"harbor {host}: " + ("answers" if why is None else f"{why}; the runner needs {scheme} to Harbor"))]
    built = any(isinstance(s, dict) and s.get("context") for s in (config.get("msa:services") or {}).values())
    if built and harbor.get("push", "direct") == "direct":
        registries = insecure()
        if registries is None:
            checks.append((False, "docker: no Docker daemon answers (`docker info`); the runner builds and pushes the images: install Docker"))
        elif scheme == "http" and host not in registries:
            checks.append((False, f"docker: {host} is not an insecure registry of the runner's Docker, so pushes go to https and fail; "
                                  f"add \"insecure-registries\": [\"{host}\"] to /etc/docker/daemon.json and restart Docker"))
        else:
            checks.append((True, f"docker: pushes to {scheme}://{host}"))
    return checks


def run_checks(project_dir: Path, stack: str, environ: Mapping[str, str] = os.environ, home: Optional[Path] = None) -> list[Check]:
    stack_file = load_document(project_dir / f"Pulumi.{stack}.yaml") or {}
    config = stack_file.get("config") or {}
    home = home or Path.home()
    return [check_runner(environ), *check_backend(stack_file, environ), *check_kubernetes(config, environ, home),
            *check_nodes(config), *check_harbor(config), *check_mirror_tool(config)]


def main(argv: Optional[list[str]] = None, project_dir: Optional[Path] = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    project_dir = project_dir or Path.cwd()
    if len(argv) != 1 or argv[0].startswith("-"):
        print(__doc__.strip())
        return 0 if argv[:1] in (["-h"], ["--help"]) else 2
    try:
        checks = run_checks(project_dir, argv[0])
    except (StackFileError, OSError) as exc:
        print(f"missing: {exc}", file=sys.stderr)
        return 1
    for ok, line in checks:
        print(("ok: " if ok else "missing: ") + line, flush=True)
    return 0 if all(ok for ok, _ in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
