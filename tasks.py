#!/usr/bin/env python3
"""The commands a newcomer needs, with nothing but Python 3.11 installed:

    python3 tasks.py render [STACK]   # create ./venv if needed, render STACK (default dev) to rendered/STACK
    python3 tasks.py test [ARGS]      # create ./venv if needed, run the test suite (pytest ARGS)
    python3 tasks.py docs             # regenerate docs/configuration.md's table from msa/config/model.py
    python3 tasks.py kafka-properties # regenerate msa/config/kafka-broker-properties.json from the Kafka jars
                                      # (tests/jvm/kafka/target/lib, built by Maven; needs java)
    python3 tasks.py init-stack STACK # once per stack, with the pulumi CLI: create it, set its secrets
                                      # (init_stack.py --help: secrets provider, SSH key)
    python3 tasks.py init-stack STACK --from dev --service-cidr CIDR --context NAME
                                      # a new stack file for your cluster first (README: "Make it yours")
    python3 tasks.py stacks [--lines] # the committed stacks (JSON list; --lines: one a line), as CI sees them
    python3 tasks.py verify STACK [--node HOST] [--only eureka,gateway,config]
                                      # check a running STACK from here, through its NodePorts

./venv is the same virtualenv Pulumi.yaml names, so `pulumi up` uses exactly these packages.
`python3 tasks.py --version` prints the msa release (CHANGELOG.md).
"""

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / "venv"
PYTHON = VENV / "bin" / "python"
STAMP = VENV / ".requirements.sha256"


def requirements_hash() -> str:
    digest = hashlib.sha256()
    for name in ("requirements.txt", "requirements-dev.txt"):
        digest.update((ROOT / name).read_bytes())
    return digest.hexdigest()


def ensure_venv() -> None:
    """(Re)install only when the pinned requirements changed since the last install."""
    wanted = requirements_hash()
    if PYTHON.exists() and STAMP.exists() and STAMP.read_text() == wanted:
        return
    if not PYTHON.exists():
        print(f"creating {VENV.relative_to(ROOT)}/", flush=True)
        try:
            venv.EnvBuilder(with_pip=True).create(VENV)
        except subprocess.CalledProcessError:
            # Debian/Ubuntu ship the venv module's pip bootstrap separately.
            sys.exit("error: python3 cannot create a virtualenv with pip here; install python3-venv (apt-get install python3-venv) and retry")
    print("installing requirements-dev.txt (pinned)", flush=True)
    subprocess.run([str(PYTHON), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    "-r", str(ROOT / "requirements-dev.txt")], check=True)
    STAMP.write_text(wanted)


def main(argv: list) -> int:
    if argv[:1] in (["-h"], ["--help"], ["help"]):
        print(__doc__.strip())
        return 0
    if argv[:1] == ["stacks"]:
        # The workflows' matrix (JSON) or a shell loop's list (--lines), before any venv exists.
        import json

        from msa.stacks import committed_stacks
        stacks = committed_stacks(ROOT)
        print("\n".join(stacks) if argv[1:] == ["--lines"] else json.dumps(stacks))
        return 0
    if argv[:1] == ["--version"]:
        from msa.cli import version_text  # the standard library only: no venv needed
        print(version_text("tasks.py"))
        return 0
    if not argv or argv[0] not in ("render", "test", "docs", "kafka-properties", "init-stack", "verify") or (argv[0] == "verify" and len(argv) < 2):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    ensure_venv()
    os.chdir(ROOT)
    if argv[0] == "render":
        return subprocess.call([str(PYTHON), "render.py", *(argv[1:] or ["dev"])])
    if argv[0] == "docs":
        return subprocess.call([str(PYTHON), "-m", "msa.config.docs", "--write"])
    if argv[0] == "kafka-properties":
        return subprocess.call([str(PYTHON), "-m", "msa.config.kafka_names", "--write"])
    if argv[0] == "init-stack":
        return subprocess.call([str(PYTHON), "init_stack.py", *argv[1:]])
    if argv[0] == "verify":
        return subprocess.call([str(PYTHON), "verify.py", *argv[1:]])
    return subprocess.call([str(PYTHON), "-m", "pytest", *argv[1:]])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
