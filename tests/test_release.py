"""The release: license, changelog, version, and every command's --help and --version with a bare
python3 (no venv, no site-packages: what a fresh clone has)."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT
from msa import __version__

COMMANDS = ["render.py", "verify.py", "init_stack.py", "tasks.py"]
BARE_PYTHON = [str(Path(sys.base_prefix) / "bin" / "python3"), "-S"]  # -S: not even the system's site-packages


def test_the_license_is_the_apache_2_0_text():
    text = (ROOT / "LICENSE").read_text()
    assert text.lstrip().startswith("Apache License\n                           Version 2.0, January 2004")
    assert "END OF TERMS AND CONDITIONS" in text and len(text) > 11000


def test_the_changelog_names_this_release_first_with_an_upgrade_note():
    text = (ROOT / "CHANGELOG.md").read_text()
    releases = re.findall(r"^## (\d+\.\d+\.\d+) - \d{4}-\d{2}-\d{2}$", text, re.M)
    assert releases[0] == __version__ and len(releases) == len(set(releases))
    this = text.split(f"## {__version__} - ", 1)[1].split("\n## ", 1)[0]
    assert "### Upgrade note" in this and "ClusterIP" in this


def test_a_bare_python_has_no_pulumi():
    assert subprocess.run([*BARE_PYTHON, "-c", "import pulumi"], capture_output=True).returncode != 0


@pytest.mark.parametrize("command", COMMANDS)
def test_help_and_version_work_outside_the_venv(command, tmp_path):
    helped = subprocess.run([*BARE_PYTHON, str(ROOT / command), "--help"], cwd=tmp_path, capture_output=True, text=True)
    assert helped.returncode == 0 and "Traceback" not in helped.stderr, helped.stderr
    assert "usage" in helped.stdout.lower() or "python3 tasks.py" in helped.stdout
    version = subprocess.run([*BARE_PYTHON, str(ROOT / command), "--version"], cwd=tmp_path, capture_output=True, text=True)
    assert version.stdout.strip() == f"{command} (msa) {__version__}", version.stderr
