#!/usr/bin/env python3
"""Verify a running stack from outside the cluster, against its NodePorts:

    python verify.py STACK [--node HOST] [--only eureka,gateway,config] [--settle SECONDS]

Builds the very spec the verification Job gets (msa/verify/spec.py) from Pulumi.STACK.yaml and
runs the same checker (msa/verify/checker/) with `--outside`: Eureka, the gateway routes and
the config server through their NodePorts on HOST (default: the first of msa:cluster.nodes). Kafka
and the pods are checked only by the Job inside the cluster; the table says so.
Exit 0: every reachable check passed; 1: a check failed; 2: bad configuration or usage.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Optional

from msa.cli import add_version, run_in_project_venv

PROJECT_DIR = Path(__file__).resolve().parent


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="verify.py", description="Verify a running stack from outside the cluster (NodePorts).")
    parser.add_argument("stack", help="stack name: reads Pulumi.<stack>.yaml")
    parser.add_argument("--node", help="a node's address (default: the first of msa:cluster.nodes)")
    parser.add_argument("--only", help="comma-separated subset of the checks: eureka,gateway,config")
    parser.add_argument("--settle", type=float, default=0, help="seconds to keep repeating failing checks (default 0)")
    parser.add_argument("--timeout", type=float, default=5, help="seconds one HTTP request of a check may take before it fails (default 5)")
    add_version(parser, "verify.py")
    return parser


if __name__ == "__main__":
    build_parser().parse_args()  # --help and --version answer with a bare python3, before any venv
    run_in_project_venv(Path(__file__), PROJECT_DIR, create_with="python3 tasks.py verify STACK")

from msa import config  # noqa: E402
from msa.config import plan  # noqa: E402
from msa.errors import ConfigError  # noqa: E402
from msa.images.harbor import image_plan  # noqa: E402
from msa.k8s import PART_OF  # noqa: E402
from msa.verify.checker.cli import main as checker_main  # noqa: E402
from msa.verify.spec import spec_json, verification_spec  # noqa: E402
from render import StackFileError, load_stack_config  # noqa: E402


def stack_spec(stack: str, project_dir: Path = PROJECT_DIR) -> tuple[dict, config.StackConfig]:
    """The verification spec of STACK, exactly as the program renders it for the Job."""
    values, _ = load_stack_config(project_dir, stack)
    raw = {key.split(":", 1)[1]: text for key, text in values.items() if key.startswith(config.PROJECT + ":")}
    cfg = config.parse_stack_config(raw, project_dir)
    names = plan.kafka_names(cfg)
    addresses = plan.address_plan(cfg, names)
    repos = {name: image_plan(name, svc, cfg.harbor, cfg.cluster.platform, project_dir).repository for name, svc in cfg.services.items()}
    return verification_spec(cfg, addresses, names, plan.config_repo_files(cfg, project_dir), repos, PART_OF), cfg


def main(argv: Optional[list[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        spec, cfg = stack_spec(args.stack)
    except (StackFileError, ConfigError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    node = args.node or (cfg.cluster.nodes[0].host if cfg.cluster.nodes else None)
    if not node:
        print("error: no node address: msa:cluster.nodes is empty; pass --node <a node's address>", file=sys.stderr)
        return 2
    with tempfile.NamedTemporaryFile("w", suffix=".json", prefix="msa-verify-") as spec_file:
        spec_file.write(spec_json(spec))
        spec_file.flush()
        forwarded = ["--spec", spec_file.name, "--outside", node, "--settle", str(args.settle), "--timeout", str(args.timeout)]
        return checker_main(forwarded + (["--only", args.only] if args.only else []))


if __name__ == "__main__":
    sys.exit(main())
