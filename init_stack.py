#!/usr/bin/env python3
"""Create a stack for the committed Pulumi.STACK.yaml and set its secrets (docs/ci-and-secrets.md: "Create a stack").

    python3 tasks.py init-stack STACK [--secrets-provider passphrase|default|<KMS URL>] [--ssh-key FILE]
    python3 tasks.py init-stack STACK --from TEMPLATE [--service-cidr CIDR] [--context NAME] ...

With --from it first writes Pulumi.STACK.yaml from Pulumi.TEMPLATE.yaml for another cluster (without the
template's secrets, encryption lines and clusterIP pins; msa/config/template.py). Then it drives the real
`pulumi` CLI, in this order:
  1. `pulumi whoami`: a backend must be logged in (else: the login commands, exit 2).
  2. `pulumi stack select STACK`, or `pulumi stack init STACK --secrets-provider ...` when it does not
     exist yet. `passphrase` reads PULUMI_CONFIG_PASSPHRASE(_FILE) or prompts; `default` is Pulumi
     Cloud's own key when logged in there (a passphrase on a self-managed backend); a KMS URL such as
     awskms://alias/msa-dev?region=eu-central-1 encrypts with that key.
  3. `pulumi config set --secret --stack STACK msa:harborPassword` and `... msa:sshPrivateKey`, each
     value on stdin (never on a command line: shell history and `ps` would keep it). The password comes
     from MSA_HARBOR_PASSWORD (MSA_KAFKA_UI_PASSWORD) or a prompt, the key from --ssh-key (default ~/.ssh/id_ed25519).
     msa:kafkaAuthSecret (the seed of every Kafka/ZooKeeper password) is generated, once: a stack that
     has it keeps it (a new seed would change every password of a running cluster).
  4. With --host-keys: `ssh-keyscan` of every node, bastion and relay host without a host key; each
     key's fingerprint is shown to compare with the host's console (confirm, or --yes), then
     `pulumi config set --path ... hostKey` and `pulumi config rm --path msa:cluster.skipHostKeyCheck`.
  5. Checks that every `secure:` value in the file is ciphertext, and lists the lines to commit.
"""

from __future__ import annotations

import argparse
import base64
import getpass
import hashlib
import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Optional

from msa.cli import add_version, run_in_project_venv

PROJECT_DIR = Path(__file__).resolve().parent


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="init_stack.py", description="Create a stack and set its secrets with the pulumi CLI.")
    parser.add_argument("stack", help="stack name: uses Pulumi.<stack>.yaml")
    parser.add_argument("--from", dest="template", metavar="TEMPLATE",
                        help="write Pulumi.<stack>.yaml first, from Pulumi.<TEMPLATE>.yaml: without its secrets, encryption lines and clusterIP pins")
    parser.add_argument("--service-cidr", metavar="CIDR", help="with --from: your cluster's --service-cluster-ip-range (msa:cluster.serviceCidr)")
    parser.add_argument("--context", metavar="NAME", help="with --from: your kubeconfig context (kubernetes:context)")
    parser.add_argument("--secrets-provider", default="passphrase",
                        help="passphrase (default), default (Pulumi Cloud's key), or a KMS URL (awskms://, gcpkms://, azurekeyvault://, hashivault://)")
    parser.add_argument("--ssh-key", type=Path, default=Path.home() / ".ssh" / "id_ed25519",
                        help="private key the nodes (and relay host) accept (default ~/.ssh/id_ed25519)")
    parser.add_argument("--host-keys", action="store_true",
                        help="also record the SSH host key of every node, bastion and relay host (ssh-keyscan, fingerprints confirmed)")
    parser.add_argument("--yes", action="store_true", help="with --host-keys: store the scanned keys without asking (trusted network only)")
    add_version(parser, "init_stack.py")
    return parser


if __name__ == "__main__":
    build_parser().parse_args()  # --help and --version answer with a bare python3, before any venv
    run_in_project_venv(Path(__file__), PROJECT_DIR, needs="yaml", create_with="python3 tasks.py init-stack STACK")

from msa.config.stackfile import StackFileError, load_document, stack_file_problems  # noqa: E402
from msa.config.template import TemplateError, stack_from_template  # noqa: E402
LOGIN_HINT = (
    "log in to a state backend first, one of:\n"
    "  pulumi login                                   # Pulumi Cloud\n"
    "  pulumi login s3://<bucket>/msa                 # a self-managed bucket (also gs://, azblob://)\n"
    "  pulumi login file://~/.pulumi-state            # a folder (one person only)"
)
# Lines the CLI adds to Pulumi.STACK.yaml, by secrets provider; all of them are committed.
PROVIDER_LINES = {
    "encryptionsalt": "passphrase: the salt the passphrase is stretched with (not secret)",
    "secretsprovider": "KMS: which key encrypts the stack's data key",
    "encryptedkey": "KMS: the stack's data key, encrypted by that KMS key",
}


class InitError(Exception):
    pass


def run_pulumi(args: list[str], project_dir: Path, stdin: Optional[str] = None, quiet: bool = False) -> int:
    """Run the CLI. Secrets only ever travel in `stdin`; without it the CLI keeps the terminal (it may
    prompt for the passphrase). `quiet` calls are probes whose exit status is the answer."""
    captured = quiet or stdin is not None
    result = subprocess.run(["pulumi", *args], cwd=project_dir, input=stdin, text=True,
                            stdin=subprocess.DEVNULL if quiet else None,
                            capture_output=captured)
    if not quiet and result.returncode != 0:
        detail = (result.stderr or "").strip().splitlines()[-1:] if captured else []
        raise InitError(f"`pulumi {' '.join(args)}` failed (exit {result.returncode}){': ' + detail[0] if detail else ''}")
    return result.returncode


def needed_secrets(stack_file: dict) -> list[str]:
    """The secrets this stack's configuration uses (the same rules as msa.config)."""
    config = stack_file.get("config") or {}
    harbor, cluster = config.get("msa:harbor") or {}, config.get("msa:cluster") or {}
    needed = []
    if harbor.get("username"):
        needed.append("harborPassword")
    if cluster.get("nodes") or harbor.get("push") == "relay":
        needed.append("sshPrivateKey")
    ui = (config.get("msa:kafka") or {}).get("ui") or {}
    if ui.get("enabled", True) and ui.get("login", True):
        needed.append("kafkaUiPassword")
    needed.append("kafkaAuthSecret")
    return needed


def generated_secrets(stack_file: dict) -> list[str]:
    """Secrets init-stack makes up itself, when the stack has none yet (never replaced: every Kafka and
    ZooKeeper password derives from the seed)."""
    return [] if "msa:kafkaAuthSecret" in (stack_file.get("config") or {}) else ["kafkaAuthSecret"]


def secret_value(key: str, ssh_key: Path) -> str:
    if key == "sshPrivateKey":
        if not ssh_key.is_file():
            raise InitError(f"no SSH private key at {ssh_key}; pass the key the nodes accept with --ssh-key FILE")
        return ssh_key.read_text()
    if key == "kafkaAuthSecret":
        return secrets.token_urlsafe(32)
    what, variable = {"kafkaUiPassword": ("kafka-ui password", "MSA_KAFKA_UI_PASSWORD")}.get(key, ("Harbor password", "MSA_HARBOR_PASSWORD"))
    password = os.environ.get(variable)
    if password is None:
        password = getpass.getpass(f"{what} (msa:{key}): ")
        if getpass.getpass("again: ") != password:
            raise InitError("the two passwords differ")
    if not password:
        raise InitError(f"the {what} is empty")
    return password


def unchecked_hosts(stack_file: dict) -> list[tuple[str, str, int]]:
    """(config path, host, port) of every SSH host the stack connects to that has no host key yet."""
    config = stack_file.get("config") or {}
    cluster, harbor = config.get("msa:cluster") or {}, config.get("msa:harbor") or {}
    hosts = []
    for i, node in enumerate(cluster.get("nodes") or []):
        if not node.get("hostKey"):
            hosts.append((f"msa:cluster.nodes[{i}].hostKey", node["host"], int(node.get("port", 22))))
        bastion = node.get("bastion") or {}
        if bastion and not bastion.get("hostKey"):
            hosts.append((f"msa:cluster.nodes[{i}].bastion.hostKey", bastion["host"], int(bastion.get("port", 22))))
    if harbor.get("push") == "relay" and harbor.get("relayHost") and not harbor.get("relayHostKey"):
        hosts.append(("msa:harbor.relayHostKey", harbor["relayHost"], int(harbor.get("relayPort", 22))))
    return hosts


def fingerprint(key_line: str) -> str:
    """What `ssh-keygen -lf` prints for a public key: SHA256:<base64 of the blob's sha256, unpadded>."""
    blob = base64.b64decode(key_line.split()[1])
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def scan_host_key(host: str, port: int) -> str:
    """`<type> <base64>` of the host's ed25519 key, as ssh-keyscan reports it."""
    if shutil.which("ssh-keyscan") is None:
        raise InitError("ssh-keyscan is not on PATH (package openssh-client); or set the hostKey lines by hand")
    result = subprocess.run(["ssh-keyscan", "-t", "ed25519", "-p", str(port), host], capture_output=True, text=True, timeout=60)
    lines = [line.split(None, 1)[1] for line in result.stdout.splitlines() if line.strip() and not line.startswith("#")]
    if not lines:
        raise InitError(f"ssh-keyscan got no ed25519 key from {host}:{port}; is sshd reachable there?")
    return lines[0].strip()


def record_host_keys(stack: str, stack_file: dict, project_dir: Path, assume_yes: bool) -> list[str]:
    """Scan, confirm and store every missing host key; then drop the first-contact opt-out."""
    stored = []
    for path, host, port in unchecked_hosts(stack_file):
        key = scan_host_key(host, port)
        print(f"{host}:{port} presents {key.split()[0]} {fingerprint(key)}\n"
              f"  compare on its console: ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub")
        if not assume_yes and input("  the same? [y/N] ").strip().lower() not in ("y", "yes"):
            raise InitError(f"host key of {host} not confirmed; nothing stored for it (the ones before it are)")
        run_pulumi(["config", "set", "--path", "--stack", stack, path, key], project_dir)
        stored.append(path)
    if ((stack_file.get("config") or {}).get("msa:cluster") or {}).get("skipHostKeyCheck") is not None:
        run_pulumi(["config", "rm", "--path", "--stack", stack, "msa:cluster.skipHostKeyCheck"], project_dir)
        stored.append("msa:cluster.skipHostKeyCheck (removed)")
    return stored


def init_stack(stack: str, secrets_provider: str, ssh_key: Path, project_dir: Path = PROJECT_DIR,
               host_keys: bool = False, assume_yes: bool = False) -> list[str]:
    """Create/select the stack and set its secrets; returns the report lines."""
    stack_path = project_dir / f"Pulumi.{stack}.yaml"
    if not stack_path.is_file():
        raise InitError(f"{stack_path.name} not found; copy Pulumi.dev.yaml to it and edit it first")
    if shutil.which("pulumi") is None:
        raise InitError("the pulumi CLI is not on PATH; install it: https://www.pulumi.com/docs/install/")
    if run_pulumi(["whoami"], project_dir, quiet=True) != 0:
        raise InitError(LOGIN_HINT)
    before = load_document(stack_path) or {}
    if run_pulumi(["stack", "select", stack], project_dir, quiet=True) != 0:
        init = ["stack", "init", stack]
        if secrets_provider != "default":
            init += ["--secrets-provider", secrets_provider]
        run_pulumi(init, project_dir)
    for key in needed_secrets(before):
        if key == "kafkaAuthSecret" and key not in generated_secrets(before):
            continue
        run_pulumi(["config", "set", "--secret", "--stack", stack, f"msa:{key}"], project_dir, stdin=secret_value(key, ssh_key))
    keys_stored = record_host_keys(stack, before, project_dir, assume_yes) if host_keys else []

    after = load_document(stack_path) or {}
    problems = stack_file_problems(after)
    if problems:
        raise InitError(f"{stack_path.name}: {problems[0]}")
    report = [f"stack {stack} is ready; commit these lines of {stack_path.name} (none of them is a secret in plain text):"]
    for line, meaning in PROVIDER_LINES.items():
        if line in after:
            report.append(f"  {line}: ... ({meaning})")
    for key in needed_secrets(before):
        report.append(f"  msa:{key}: secure: ... (ciphertext)")
    for path in keys_stored:
        report.append(f"  {path}")
    if not host_keys and unchecked_hosts(after):
        report.append("hosts without a host key: run again with --host-keys (docs/ci-and-secrets.md: \"Node host keys\")")
    report.append(f"then: git add {stack_path.name} && git commit -m 'Create stack {stack}'")
    report.append(f"check it: pulumi preview --diff --stack {stack}")
    return report


def main(argv: Optional[list[str]] = None, project_dir: Path = PROJECT_DIR) -> int:
    args = build_parser().parse_args(argv)
    if (args.service_cidr or args.context) and not args.template:
        print("error: --service-cidr and --context only apply with --from TEMPLATE (a new stack file); edit an existing one directly", file=sys.stderr)
        return 2
    try:
        if args.template:
            written = stack_from_template(project_dir, args.template, args.stack, args.service_cidr, args.context)
            print(written)
        report = init_stack(args.stack, args.secrets_provider, args.ssh_key, project_dir, args.host_keys, args.yes)
    except (InitError, StackFileError, TemplateError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print("\n".join(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
