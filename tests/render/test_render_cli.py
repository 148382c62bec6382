"""render.py on the command line: it replaces only what it wrote, and reads stack files like the CLI.

Every refusal is the same contract as a configuration mistake: exit 2, one `error: ...` line on
stderr, nothing on stdout, no traceback, and nothing written or removed. These run against a copy
of the project, so a refusal that failed could not touch the real one. They call `render.main` with the
command line's arguments, from the copy's folder and with render.py's project folder set to the copy:
a render.py process spends a second importing before it refuses anything. The one test that runs the
command itself (from outside the venv) covers what lies before `main`.
"""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import render
from msa.config.stackfile import StackFileError, read_stack_config
from conftest import ROOT, STACKS, copy_project


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    copy = tmp_path_factory.mktemp("cli") / "project"
    copy_project(copy)
    return copy


@pytest.fixture
def cli(monkeypatch, capsys):
    """cli(project, *args, env=...): `python render.py ARGS` run in `project` (a copy), in-process."""
    def run(project: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
        monkeypatch.chdir(project)
        monkeypatch.setattr(render, "PROJECT_DIR", project)
        for name, value in (env or {}).items():
            monkeypatch.setenv(name, value)
        capsys.readouterr()
        returncode = render.main(list(args))    # a traceback would fail the test here
        out, err = capsys.readouterr()
        return subprocess.CompletedProcess(["render.py", *args], returncode, out, err)
    return run


def _snapshot(folder: Path) -> dict:
    return {p.relative_to(folder).as_posix(): (p.read_bytes() if p.is_file() and not p.is_symlink() else None)
            for p in sorted(folder.rglob("*")) if "__pycache__" not in p.parts}


def _refused(result: subprocess.CompletedProcess, expected: str) -> None:
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith(expected), line


def _home_with_documents(tmp: Path) -> Path:
    home = tmp / "home"
    (home / "mydocs").mkdir(parents=True)
    (home / "mydocs" / "thesis.txt").write_text("four years of work")
    return home


OUT_REFUSALS = [
    # (case, --out relative to the project copy or built by a callable, expected start of the line)
    ("the project folder", lambda project, tmp: ".", "error: --out .: is the project folder"),
    ("a parent of the project", lambda project, tmp: "..", "error: --out ..: contains the project folder"),
    ("the root folder", lambda project, tmp: "/", "error: --out /: is the root folder"),
    ("a file", lambda project, tmp: str(project / "README.md"), "error: --out "),
    ("someone's documents", lambda project, tmp: str(_home_with_documents(tmp) / "mydocs"), "error: --out "),
    ("the home folder", lambda project, tmp: str(_home_with_documents(tmp)), "error: --out "),
]
OUT_PROBLEMS = {
    "a file": "is a file, not a folder",
    "someone's documents": "is a folder render.py did not write (no .msa-render in it) and it is not empty",
    "the home folder": "is your home folder",
}


@pytest.mark.parametrize("case, out, expected", OUT_REFUSALS, ids=[c[0] for c in OUT_REFUSALS])
def test_render_refuses_to_replace_what_it_did_not_write(cli, project, tmp_path, case, out, expected):
    target = out(project, tmp_path)
    watched = [project, tmp_path]
    before = [_snapshot(folder) for folder in watched]
    result = cli(project, "dev", "--out", target, env={"HOME": str(tmp_path / "home")})
    _refused(result, expected)
    assert OUT_PROBLEMS.get(case, "") in result.stderr
    assert [_snapshot(folder) for folder in watched] == before


def test_render_refuses_a_symbolic_link(cli, project, tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    _refused(cli(project, "dev", "--out", str(tmp_path / "link")), f"error: --out {tmp_path / 'link'}: is a symbolic link")


def test_render_may_replace_an_empty_folder_its_own_and_a_render_from_before_the_marker(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert render.check_output_folder(empty) == empty
    own = tmp_path / "own"
    render.write_outputs({"kubernetes.yaml": ("x\n", 0o644), "notes.txt": ("mine\n", 0o644)}, own)
    assert render.check_output_folder(own) == own  # marked: everything in it is the render's to replace
    old = tmp_path / "old"
    (old / "nodes").mkdir(parents=True)
    (old / "kubernetes.yaml").write_text("x")
    (old / "nodes" / "n1.sh").write_text("x")
    assert render.check_output_folder(old) == old
    (old / "nodes" / "my-notes.txt").write_text("not a render's")
    with pytest.raises(render.OutputFolderError, match="did not write"):
        render.check_output_folder(old)


def test_a_failed_write_keeps_the_previous_render(tmp_path):
    out = tmp_path / "out"
    render.write_outputs({"kubernetes.yaml": ("first\n", 0o644)}, out)
    with pytest.raises(TypeError):
        render.write_outputs({"kubernetes.yaml": ("second\n", 0o644), "nodes/x.sh": (None, 0o755)}, out)
    assert (out / "kubernetes.yaml").read_text() == "first\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


# --- stack files, read like the Pulumi CLI reads them ------------------------------------------

DEV = (STACKS / "Pulumi.dev.yaml").read_text()

STACK_FILE_PROBLEMS = [
    ("duplicate key", DEV.replace("    brokers: 1\n", "    brokers: 1\n    brokers: 3\n"),
     "error: Pulumi.case.yaml:{line}:5: duplicate key 'brokers' (first at line {first}); the Pulumi CLI refuses a key written twice"),
    ("YAML syntax", DEV.replace("    brokers: 1\n", "    brokers: [1\n"), "error: Pulumi.case.yaml:"),
    ("a list", "- config: {}\n", "error: Pulumi.case.yaml: expected a mapping with a `config:` key, got a list"),
    ("config is text", "config: msa\n", "error: Pulumi.case.yaml: config: expected a mapping of `msa:<key>: value`, got text"),
    ("config is a list", "config: [a, b]\n", "error: Pulumi.case.yaml: config: expected a mapping of `msa:<key>: value`, got a list"),
]


@pytest.mark.parametrize("case, text, expected", STACK_FILE_PROBLEMS, ids=[c[0] for c in STACK_FILE_PROBLEMS])
def test_stack_file_problems_are_one_line_naming_the_file(cli, project, tmp_path, case, text, expected):
    (project / "Pulumi.case.yaml").write_text(text)
    if case == "duplicate key":
        lines = text.splitlines()
        first = lines.index("    brokers: 1") + 1
        expected = expected.format(line=first + 1, first=first)
    try:
        result = cli(project, "case", "--out", str(tmp_path / "out"))
    finally:
        (project / "Pulumi.case.yaml").unlink()
    _refused(result, expected)
    assert not (tmp_path / "out").exists()
    if case == "YAML syntax":
        assert result.stderr.split(":")[2].isdigit() and result.stderr.split(":")[3].isdigit()  # line and column


def test_a_key_without_the_msa_namespace_is_refused_on_the_command_line(cli, project, tmp_path):
    (project / "Pulumi.case.yaml").write_text(DEV.replace("  msa:kafka:\n", "  kafka:\n"))
    try:
        result = cli(project, "case", "--out", str(tmp_path / "out"))
    finally:
        (project / "Pulumi.case.yaml").unlink()
    _refused(result, "error: kafka: has no namespace; did you mean msa:kafka?")
    assert not (tmp_path / "out").exists()


def test_project_file_problems_are_blamed_on_pulumi_yaml(cli, tmp_path):
    project = tmp_path / "project"
    copy_project(project)
    (project / "Pulumi.yaml").write_text("name: msa\nconfig: [namespace]\n")
    _refused(cli(project, "dev", "--out", str(tmp_path / "out")), "error: Pulumi.yaml: config: expected a mapping of key declarations, got a list")
    (project / "Pulumi.yaml").unlink()
    _refused(cli(project, "dev", "--out", str(tmp_path / "out")), "error: Pulumi.yaml not found in")
    assert not (tmp_path / "out").exists()


def _read(tmp_path: Path, stack_text: str) -> dict:
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    (tmp_path / "Pulumi.t.yaml").write_text(stack_text)
    config, _ = read_stack_config(tmp_path, "t", "[secret]")
    return config


def test_values_reach_the_program_as_the_cli_passes_them(tmp_path):
    config = _read(tmp_path, "config:\n  msa:namespace:\n  msa:kafka: {brokers: 3, ui: {enabled: false}}\n  msa:spring: {gatewayVersion: 4.2, day: 2024-01-01}\n")
    assert config["msa:namespace"] == ""  # an empty value is empty text, not 'None'
    assert config["msa:kafka"] == '{"brokers": 3, "ui": {"enabled": false}}'
    assert config["msa:spring"] == '{"gatewayVersion": 4.2, "day": "2024-01-01"}'  # no timestamps


def test_a_duplicate_nested_key_is_refused_with_its_line(tmp_path):
    with pytest.raises(StackFileError, match=r"^Pulumi\.t\.yaml:4:5: duplicate key 'host' \(first at line 3\)"):
        _read(tmp_path, "config:\n  msa:harbor:\n    host: a.example\n    host: b.example\n")


def test_render_runs_from_outside_the_venv_by_re_running_itself_in_it(tmp_path):
    """README: `python3 render.py dev` works with the system Python; it re-runs itself with ./venv/bin/python."""
    system_python = Path(sys.base_prefix) / "bin" / "python3"
    if subprocess.run([system_python, "-c", "import pulumi"], capture_output=True).returncode == 0:
        pytest.skip("the system Python has pulumi itself; nothing to re-run")
    # The refusal comes from the program's own checks, so the venv's interpreter ran it (quick: nothing renders).
    (tmp_path / "notes.txt").write_text("mine")
    result = subprocess.run([system_python, str(ROOT / "render.py"), "dev", "--out", str(tmp_path)], cwd=tmp_path,
                            capture_output=True, text=True)
    _refused(result, f"error: --out {tmp_path}: is a folder render.py did not write")
    assert (tmp_path / "notes.txt").read_text() == "mine"
