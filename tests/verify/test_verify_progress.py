"""verify against a silent port: each check shows as it runs, bounded by --timeout, and an unreachable
config server is one line, not one per client (issue 20: 70 s of nothing, then the same error per client)."""

import copy
import json
import socket
import subprocess
import sys
import time

import pytest

from msa.verify.checker import cli
from test_verify_checker import SPEC


@pytest.fixture
def silent_port():
    """A loopback port that accepts connections and never answers."""
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen(50)
        yield listening.getsockname()[1]


def _spec_at(port: int) -> dict:
    spec = copy.deepcopy(SPEC)
    clients = [{"name": n, "sources": ["application.yml"]} for n in ("a-service", "b-service", "c-service", "d-service")]
    spec["config"].update(url=f"http://127.0.0.1:{port}", clients=clients)
    spec["discovery"]["url"] = f"http://127.0.0.1:{port}"
    return spec


def test_each_check_prints_as_it_runs_within_the_timeout_and_the_config_error_once(tmp_path, silent_port):
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(json.dumps(_spec_at(silent_port)))
    started = time.monotonic()
    run = subprocess.Popen([sys.executable, "-m", "msa.verify.checker", "--spec", str(spec_file), "--only", "eureka,config",
                            "--timeout", "1", "--termination-log", str(tmp_path / "none")],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cli.__file__.rsplit("/msa/", 1)[0])
    first = run.stdout.readline(), run.stdout.readline()
    first_seen = time.monotonic() - started
    rest, err = run.communicate(timeout=60)
    elapsed = time.monotonic() - started
    assert first[0].startswith("msa verification of namespace msa")
    assert first[1].startswith("FAIL  eureka   discovery-service") and "not reachable (timed out)" in first[1]
    assert first_seen < elapsed  # the eureka line came before the config check had run
    config_lines = [line for line in rest.splitlines() if line.startswith("FAIL  config")]
    assert config_lines == [f"FAIL  config   config-service               http://127.0.0.1:{silent_port} not reachable (timed out) "
                            "(asked for a-service); the files of 3 more client(s) are not checked"]
    assert rest.rstrip().endswith("verification FAILED: 2 checks, 2 failed, 0 skipped")
    assert "msa-verify: checking eureka (each request up to 1 s)" in err and "msa-verify: checking config" in err
    assert elapsed < 10  # two requests of at most 1 s each, plus the interpreter


def test_verify_py_passes_its_timeout_to_the_checker(monkeypatch):
    import verify

    seen = {}
    monkeypatch.setattr(verify, "checker_main", lambda argv: seen.setdefault("argv", argv) and 0)
    monkeypatch.setattr(verify, "stack_spec", lambda stack: (SPEC, type("C", (), {"cluster": type("K", (), {"nodes": []})()})()))
    assert verify.main(["dev", "--node", "127.0.0.1", "--timeout", "2"]) == 0
    argv = seen["argv"]
    assert argv[argv.index("--timeout") + 1] == "2.0"


def test_a_check_that_passes_on_retry_has_one_line_in_the_table_and_its_first_failure_as_progress():
    import io

    from msa.verify.checker.results import failed, passed

    answers = iter([[failed("eureka", "user-service", "not registered yet")], [passed("eureka", "user-service", "UP at 10.0.0.1:80")]])
    now = [0.0]
    out, log = io.StringIO(), io.StringIO()
    results = cli.verify({}, ["eureka"], {}, settle=60, kube=None, log=log, out=out,
                         runner=lambda group, spec, kube: next(answers),
                         sleep=lambda seconds: now.__setitem__(0, now[0] + seconds), clock=lambda: now[0])
    assert [r.status for r in results] == ["PASS"]
    assert [line for line in out.getvalue().splitlines() if "user-service" in line] == [results[0].line()]
    assert "msa-verify: not yet: FAIL  eureka   user-service" in log.getvalue()
