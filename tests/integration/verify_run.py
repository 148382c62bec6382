"""Runs the verification checker the way the Job runs it, for the integration tests."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from msa.verify.job import CHECKER_PACKAGE
from msa.verify.spec import checker_files


@dataclass
class Run:
    code: int
    out: str
    err: str

    def line(self, check: str, subject: str) -> str:
        (found,) = [ln for ln in self.out.splitlines() if ln[6:].startswith(f"{check:<8} {subject} ") or ln[6:] == f"{check:<8} {subject}"]
        return found

    def status(self, check: str, subject: str) -> str:
        return self.line(check, subject)[:4]


def install_checker(folder: Path) -> Path:
    """The checker laid out as the Job's volume holds it (job.py): the package's modules in
    `folder`/checker, run from `folder` with `python3 -m checker`. Returns `folder`."""
    package = folder / CHECKER_PACKAGE
    package.mkdir(parents=True, exist_ok=True)
    for name, text in checker_files().items():
        (package / name).write_text(text)
    return folder


def checker_command() -> list[str]:
    """The Job's command (`python3 -m checker`), to run in the folder install_checker filled."""
    return [sys.executable, "-m", CHECKER_PACKAGE]


def run_checker(spec: dict, tmp_path: Path, only: str, env=None, extra=()) -> Run:
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(json.dumps(spec))
    (tmp_path / "termination-log").write_text("")     # the kubelet's /dev/termination-log
    folder = install_checker(tmp_path / "mount")
    done = subprocess.run([*checker_command(), "--spec", str(spec_file), "--only", only,
                           "--termination-log", str(tmp_path / "termination-log"), *extra],
                          cwd=folder, capture_output=True, text=True, env=env, timeout=600)
    print(done.stdout)      # the table, shown with the test's output
    return Run(done.returncode, done.stdout, done.stderr)
