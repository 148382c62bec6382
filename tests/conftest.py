"""Helpers to run the real program (__main__.py) under Pulumi's mock runtime with an edited stack config."""

import atexit
import copy
import functools
import os
import pickle
import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Callable, Optional

import pulumi
import pytest
import yaml
from hypothesis import settings

# Property tests assert behaviour, not speed (speed lives in benchmarks/): a per-example deadline only
# makes them flaky on a loaded 2-core CI machine.
settings.register_profile("msa", deadline=None)
settings.load_profile("msa")

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import render  # noqa: E402
from msa.config.stackfile import config_text  # noqa: E402

TEST_PASSWORD = "hunter2-harbor-Pa55"
TEST_UI_PASSWORD = "kafka-ui-Pa55-w0rd"
TEST_AUTH_SECRET = "kafka-auth-seed-Canary-9d2e"
TEST_SSH_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\ntest-key-material-QmFzZTY0\n-----END OPENSSH PRIVATE KEY-----"


# What a copy of the project for a command-line test leaves out: environments, outputs, caches and
# build trees (tests/jvm/**/target holds Spring Boot jars after .ci/run).
NOT_COPIED = ("venv", ".venv", ".git", "rendered", "__pycache__", "*cache*", ".hypothesis", ".ci", "target")


# The stacks the tests assert on (tests/stacks/README.md). The project's own Pulumi.<stack>.yaml files
# are the deploying team's: no test reads them for values.
STACKS = ROOT / "tests" / "stacks"
FIXTURE_STACKS = ("dev", "prod")


# --- the team's stack files stay out of the tests ------------------------------------------------------
# A team that points Pulumi.dev.yaml at its own cluster (docs/make-it-yours.md) keeps a green suite only
# if no test reads the project's Pulumi.<stack>.yaml files. An audit hook sees every file this process
# opens and every process it starts: a read of one of those files, or render.py / tasks.py / __main__.py /
# pulumi started in the project folder itself, fails the test that did it, unless the test is marked
# `committed_stacks` (the committed files are what it checks).
TEAM_STACK_FILE = re.compile(r"Pulumi\.[^./]+\.yaml")
PROJECT_ENTRY_POINTS = ("render.py", "tasks.py", "__main__.py", "pulumi")
_team_stack_uses: list[str] = []


def _is_team_stack(path) -> bool:
    try:
        path = Path(os.fsdecode(path))
    except TypeError:           # a file descriptor
        return False
    return TEAM_STACK_FILE.fullmatch(path.name) is not None and path.parent.resolve() == ROOT


def _audit(event: str, args: tuple) -> None:
    if event == "open":
        if _is_team_stack(args[0]):
            _team_stack_uses.append(f"read {args[0]}")
    elif event == "subprocess.Popen":
        _executable, argv, cwd, _env = args
        argv = [os.fsdecode(a) for a in ([argv] if isinstance(argv, (str, bytes, os.PathLike)) else argv)]
        folder = Path(os.fsdecode(cwd)) if cwd is not None else Path.cwd()
        names = [Path(a).name for a in argv]
        runs_project = any(n in PROJECT_ENTRY_POINTS for n in names) and names[1:2] != ["version"]  # `pulumi version`: no stack
        if runs_project and folder.resolve() == ROOT:
            _team_stack_uses.append(f"ran {' '.join(argv)} in the project folder")


sys.addaudithook(_audit)


@pytest.fixture(autouse=True)
def _team_stacks_unread(request):
    _team_stack_uses.clear()
    yield
    uses = list(dict.fromkeys(_team_stack_uses))
    _team_stack_uses.clear()
    if uses and request.node.get_closest_marker("committed_stacks") is None:
        pytest.fail(f"{request.node.nodeid} used the team's stack files ({'; '.join(uses[:3])}): assert on the fixture "
                    "stacks (tests/stacks, conftest.run_stack / copy_project / fixture_project), or mark it "
                    "committed_stacks if the committed files are its subject", pytrace=False)


def not_copied(folder: str, names: list[str]) -> set[str]:
    """shutil.copytree's `ignore` for a copy of the project: NOT_COPIED, and the team's stack files (a copy
    gets the fixture stacks; copying the team's would read them)."""
    ignored = set(shutil.ignore_patterns(*NOT_COPIED)(folder, names))
    if Path(folder).resolve() == ROOT:
        ignored |= {name for name in names if TEAM_STACK_FILE.fullmatch(name)}
    return ignored


def install_fixture_stacks(project: Path) -> None:
    """Make the stack files of `project` exactly the fixture stacks (a team's own ones are removed)."""
    for own in project.glob("Pulumi.*.yaml"):
        own.unlink()
    for stack in FIXTURE_STACKS:
        shutil.copy(STACKS / f"Pulumi.{stack}.yaml", project / f"Pulumi.{stack}.yaml")


def copy_project(dest: Path) -> Path:
    """A copy of the project to run render.py and friends in, so a test can never touch the real one;
    its stack files are the fixture stacks."""
    shutil.copytree(ROOT, dest, ignore=not_copied)
    install_fixture_stacks(dest)
    return dest


@functools.cache
def fixture_project() -> Path:
    """One read-only copy of the project per test process, for tests that read stack files by name
    (render.py STACK, load_stack_config): the team's stack files never leak into an assertion."""
    folder = Path(tempfile.mkdtemp(prefix="msa-fixture-project-"))
    atexit.register(shutil.rmtree, folder, True)
    return copy_project(folder / "project")


def stack_values(stack: str) -> dict:
    return yaml.safe_load((STACKS / f"Pulumi.{stack}.yaml").read_text())["config"]


def to_config(values: dict, secrets: Optional[dict] = None) -> tuple[dict, list]:
    """Stack-file values -> (Pulumi config texts, secret keys), as `pulumi up` would see them after
    `python3 tasks.py init-stack`: the test secrets set (a `None` in `secrets` leaves one unset)."""
    secrets = {"msa:harborPassword": TEST_PASSWORD, "msa:sshPrivateKey": TEST_SSH_KEY, "msa:kafkaUiPassword": TEST_UI_PASSWORD,
               "msa:kafkaAuthSecret": TEST_AUTH_SECRET,
               **(secrets or {})}
    config, secret_keys = {"msa:namespace": "msa", "msa:configRepo": "config-repo"}, []
    for key, value in values.items():
        if not (isinstance(value, dict) and set(value) == {"secure"}):
            config[key] = config_text(value)
    for key, value in secrets.items():
        if value is not None:
            config[key] = value
            secret_keys.append(key)
    return config, secret_keys


def edited_values(stack: str, edit: Optional[Callable[[dict], None]] = None) -> dict:
    """A fixture stack's config values with `edit` applied (to a copy)."""
    values = copy.deepcopy(stack_values(stack))
    if edit:
        edit(values)
    return values


def render_values(stack: str, values: dict, secrets: Optional[dict] = None,
                  mocks: type[render.RecordingMocks] = render.RecordingMocks) -> render.RenderedStack:
    config, secret_keys = to_config(values, secrets)
    return render.run_program(ROOT, stack, config, secret_keys, mocks=mocks)


def run_stack(stack: str = "dev", edit: Optional[Callable[[dict], None]] = None, secrets: Optional[dict] = None,
              mocks: type[render.RecordingMocks] = render.RecordingMocks) -> render.RenderedStack:
    return render_values(stack, edited_values(stack, edit), secrets, mocks)


def config_error(edit: Callable[[dict], None], stack: str = "dev", secrets: Optional[dict] = None,
                 mocks: type[render.RecordingMocks] = render.RecordingMocks) -> str:
    """The one-line error the program stops with; fails the test if it does not stop."""
    with pytest.raises(pulumi.RunError) as caught:
        run_stack(stack, edit, secrets, mocks)
    message = str(caught.value)
    assert "\n" not in message, message
    return message


def objects(result: render.RenderedStack, kind: Optional[str] = None) -> list[dict]:
    return [o for o in result.kubernetes_objects() if kind is None or o["kind"] == kind]


def by_name(result: render.RenderedStack, kind: str, name: str) -> dict:
    """The object called `name`; an auto-named one (ConfigMaps, Secrets) by the name the program gave it."""
    def called(meta: dict) -> bool:
        autonamed = (meta.get("annotations") or {}).get(render.AUTONAMED) == "true"
        return meta["name"] == name or (autonamed and meta["labels"]["app.kubernetes.io/name"] == name)

    (found,) = [o for o in objects(result, kind) if called(o["metadata"])]
    return found


def env_of(workload: dict) -> dict:
    (container,) = workload["spec"]["template"]["spec"]["containers"]
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


# pulumi.dynamic's serialize_provider (SDK 3.272) wraps pickle._Pickler._batch_setitems in a sorting wrapper
# on every call and never unwraps it: a `pulumi up` makes a handful of dynamic resources, but a test worker
# runs the program hundreds of times, so the wrappers nest until pickling a provider hits the recursion
# limit (and every dict pickled is sorted once per wrapper meanwhile). Each test starts from the originals.
_PICKLER_ORIGINALS = {name: getattr(pickle._Pickler, name) for name in ("_batch_setitems", "save_dict")}


@pytest.fixture(autouse=True)
def _unwrapped_pickler():
    yield
    for name, original in _PICKLER_ORIGINALS.items():
        setattr(pickle._Pickler, name, original)


@pytest.fixture(scope="session", autouse=True)
def _scratch_in_the_test_folder(tmp_path_factory):
    """Every process a test starts (a Job's script, a node script, a tool) makes its `mktemp` folders under this
    run's pytest folder, not in the machine's /tmp: a script a test interrupts on purpose (a Job killed halfway)
    never reaches its cleanup trap, and pytest prunes its own old runs."""
    scratch = tmp_path_factory.mktemp("scratch")
    previous = os.environ.get("TMPDIR")
    os.environ["TMPDIR"] = str(scratch)
    yield
    if previous is None:
        os.environ.pop("TMPDIR", None)
    else:
        os.environ["TMPDIR"] = previous


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_auto_num_workers(config):
    """`-n auto` (pytest.ini): one worker per core for the fast tests, two per core (memory allowing) when the
    tests against real servers run too (scheduling.worker_count); PYTEST_XDIST_AUTO_NUM_WORKERS still wins."""
    from scheduling import worker_count
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None     # xdist's own hook reads it (and warns when it is not a number)
    memory_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    servers = "not integration" not in (config.getoption("markexpr") or "")
    return worker_count(len(os.sched_getaffinity(0)), memory_gib, servers)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """`--dist loadfile` with the longest files first (scheduling.py): a slow file no longer comes last."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    from scheduling import file_seconds, longest_first
    return longest_first(LoadFileScheduling(config, log), file_seconds())


@pytest.fixture(scope="session")
def dev() -> render.RenderedStack:
    return run_stack("dev")


@pytest.fixture(scope="session")
def prod() -> render.RenderedStack:
    return run_stack("prod")


def open_kafka(values: dict) -> None:
    """An edit for run_stack: Kafka without authentication (the stacks say sasl): what an open cluster renders."""
    values.setdefault("msa:kafka", {})["authentication"] = "none"


def open_kafka_then(edit: Optional[Callable[[dict], None]] = None) -> Callable[[dict], None]:
    """`open_kafka`, then `edit` (which may say authentication: sasl again): the real-server harness's
    clusters run open unless a test asks for authentication (tests/integration/*auth*)."""
    def values(v: dict) -> None:
        open_kafka(v)
        if edit:
            edit(v)
    return values


@pytest.fixture(scope="session")
def dev_open() -> render.RenderedStack:
    return run_stack("dev", open_kafka)


@pytest.fixture(scope="session")
def prod_open() -> render.RenderedStack:
    return run_stack("prod", open_kafka)
