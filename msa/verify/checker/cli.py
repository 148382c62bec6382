"""Running the checks: the command line, the retries while the system settles, the table, the
termination log that `pulumi up` prints when the Job fails."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Callable, Optional

from .kafka import kafka_checks
from .pods import KubeApi, pod_checks
from .results import FAIL, SKIP, Result, failed, skipped
from .spring import config_checks, eureka_checks, gateway_checks
from .web import HTTP_TIMEOUT, request_timeout, set_request_timeout

GROUPS = ("eureka", "gateway", "config", "kafka", "pods")
RETRY_INTERVAL = 5.0


# --- seen from outside the cluster ------------------------------------------------------------------

def from_outside(spec: dict, node: str) -> tuple[dict, dict[str, str]]:
    """The spec as a laptop sees it: NodePort URLs on `node`, and why the other checks cannot run."""
    spec = json.loads(json.dumps(spec))
    skips: dict[str, str] = {
        "kafka": "brokers listen and advertise only inside the cluster (kafka-N.kafka-headless...); the verify Job runs this check",
        "pods": "needs the Kubernetes API with the verify Job's ServiceAccount; the verify Job runs this check",
    }

    def outside(entry: dict, url_key: str, port_key: str) -> bool:
        port = entry.get(port_key)
        if port:
            entry[url_key] = f"http://{node}:{port}"
        else:
            entry.pop(url_key, None)
        return bool(port)

    if not outside(spec["discovery"], "url", "nodePort"):
        skips["eureka"] = f"{spec['discovery']['name']} has no nodePort (msa:services.{spec['discovery']['name']}.nodePort)"
    if not outside(spec["config"], "url", "nodePort"):
        skips["config"] = f"{spec['config']['name']} has no nodePort (msa:services.{spec['config']['name']}.nodePort)"
    gateway = spec.get("gateway")
    if gateway:
        if not outside(gateway, "url", "nodePort"):
            skips["gateway"] = f"{gateway['name']} has no nodePort (msa:services.{gateway['name']}.nodePort)"
        for route in gateway["routes"]:
            outside(route, "targetUrl", "targetNodePort")
    return spec, skips


# --- running it -------------------------------------------------------------------------------------

def run_group(group: str, spec: dict, kube: Optional[KubeApi]) -> list[Result]:
    try:
        if group == "eureka":
            return eureka_checks(spec)
        if group == "gateway":
            return gateway_checks(spec)
        if group == "config":
            return config_checks(spec)
        if group == "kafka":
            return kafka_checks(spec)
        return pod_checks(spec, kube)
    except Exception as error:  # a checker bug must still give a line, not a traceback without context
        return [failed(group, "-", f"check crashed: {type(error).__name__}: {error}")]


def verify(spec: dict, groups: list[str], skips: dict[str, str], settle: float, kube: Optional[KubeApi],
           log=None, runner: Callable[[str, dict, Optional[KubeApi]], list[Result]] = run_group,
           sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic, out=None) -> list[Result]:
    """Every group once, then the failing groups again until they pass or `settle` seconds have passed.
    With `out`, each group's lines are printed once, as soon as they are final (passing, or failing with
    no time left to retry); `log` says which group runs now and shows a failure that will be retried
    at once, so a silent port is visible immediately without repeating its line in the table."""
    log = log or sys.stderr
    deadline = clock() + settle
    results: dict[str, list[Result]] = {}
    pending = []
    for group in groups:
        if group in skips:
            results[group] = [skipped(group, "-", skips[group])]
            _show(results[group], out)
        else:
            pending.append(group)
    shown: set[str] = set()
    while pending:
        for group in pending:
            if out is not None:
                print(f"msa-verify: checking {group} (each request up to {request_timeout():.0f} s)", file=log, flush=True)
            results[group] = runner(group, spec, kube)
            failing = [r for r in results[group] if r.status == FAIL]
            if not failing or clock() + RETRY_INTERVAL > deadline:
                _show(results[group], out)      # final: passing, or no time left to check it again
                shown.add(group)
            elif out is not None:
                # Shown at once (a silent port is not 70 s of nothing), but as progress: the table on
                # `out` gets each check's line once, when it is final.
                for r in failing:
                    print(f"msa-verify: not yet: {r.line()}", file=log, flush=True)
        pending = [g for g in pending if g not in shown]
        if not pending:
            break
        print(f"msa-verify: {', '.join(pending)} not passing yet; retrying for up to {deadline - clock():.0f} s", file=log, flush=True)
        sleep(RETRY_INTERVAL)
    return [r for g in groups for r in results.get(g, [])]


def _show(results: list[Result], out) -> None:
    if out is not None:
        for r in results:
            print(r.line(), file=out, flush=True)


def report(results: list[Result], header: Optional[str], out=None, lines: bool = True) -> str:
    """The table (header and lines; `lines=False` when they were shown as they ran) and the count."""
    out = out or sys.stdout
    failures = [r for r in results if r.status == FAIL]
    if header is not None:
        print(header, file=out)
    for r in results if lines else ():
        print(r.line(), file=out)
    counted = f"{len(results)} checks, {len(failures)} failed, {sum(r.status == SKIP for r in results)} skipped"
    print(("verification FAILED: " if failures else "verification passed: ") + counted, file=out, flush=True)
    return "\n".join(r.line() for r in failures)


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Verify a running msa system against its rendered spec.")
    parser.add_argument("--spec", required=True, help="the JSON spec the stack rendered")
    parser.add_argument("--settle", type=float, help="seconds to keep repeating failing checks (default: the spec's)")
    parser.add_argument("--outside", metavar="NODE", help="run from outside the cluster, against NodePorts on NODE")
    parser.add_argument("--only", help=f"comma-separated subset of: {','.join(GROUPS)}")
    parser.add_argument("--kube-api", help="Kubernetes API base URL (default: the in-cluster one)")
    parser.add_argument("--termination-log", default="/dev/termination-log", help="where failing lines go for `pulumi up` (if it exists)")
    parser.add_argument("--timeout", type=float, default=HTTP_TIMEOUT, help=f"seconds one HTTP request may take (default {HTTP_TIMEOUT:.0f})")
    args = parser.parse_args(argv)
    try:
        with open(args.spec) as f:
            spec = json.load(f)
    except (OSError, ValueError) as error:
        print(f"error: cannot read the spec {args.spec}: {error}", file=sys.stderr)
        return 2
    groups = list(GROUPS)
    if args.only:
        groups = [g.strip() for g in args.only.split(",") if g.strip()]
        unknown = [g for g in groups if g not in GROUPS]
        if unknown:
            print(f"error: unknown check(s) {', '.join(unknown)}; choose from {', '.join(GROUPS)}", file=sys.stderr)
            return 2
    skips: dict[str, str] = {}
    kube = None
    if args.outside:
        spec, skips = from_outside(spec, args.outside)
        if args.kube_api:
            kube = KubeApi.in_cluster(args.kube_api)
            skips.pop("pods", None)
    else:
        kube = KubeApi.in_cluster(args.kube_api)
    settle = spec.get("settleSeconds", 0) if args.settle is None else args.settle
    where = f"from outside via {args.outside}" if args.outside else "in the cluster"
    inputs = os.environ.get("MSA_VERIFY_INPUTS", spec.get("inputs", ""))
    header = f"msa verification of namespace {spec['namespace']} {where}" + (f" (inputs {inputs[:19]})" if inputs else "")
    set_request_timeout(args.timeout)
    print(header, flush=True)
    results = verify(spec, groups, skips, settle, kube, out=sys.stdout)
    failing = report(results, None, lines=False)
    if failing and os.path.exists(args.termination_log):
        try:
            with open(args.termination_log, "w") as f:
                f.write(failing[:4000] + "\n")
        except OSError:
            pass
    return 1 if failing else 0

