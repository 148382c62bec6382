"""A stack of the project run by the real Pulumi engine (Automation API) against a `ControlPlane`.

    stack = EngineStack.create(tmp_path, "dev", control_plane)      # copy of the project, file backend, secrets set
    stack.up()                                                       # -> Run: summary, events, output
    stack.preview().changes                                          # {urn-ish name: op} of what would change
    stack.edit(lambda c: c["msa:kafka"].update(brokers=3))           # edit Pulumi.dev.yaml of the copy
    stack.cli("import", "--file", ...)                               # the real `pulumi` command, same backend/env

How it runs: an inline program `runpy`s the copy's `__main__.py` (the CLI connects to the SDK's language
runtime with --client: no pulumi-language-python binary is needed), LocalWorkspace(work_dir=<copy>) reads
the copy's real Pulumi.<stack>.yaml, the state lives in a file backend in a temp folder, secrets go through
the passphrase provider (`set_config(..., secret=True)`: real ciphertext in the stack file). The
pulumi-kubernetes provider is the plugin build-engine.sh built, installed once into a PULUMI_HOME in the
engine cache; the storage guard (a dynamic resource) runs through `pulumi-resource-pulumi-python`, the
two-line shim the CLI distribution ships, written into a temp bin folder.

Test setup that has no target here: node setup over SSH is off (`msa:cluster.nodes` empty) and nothing is
built (neither stack has a build `context`), so no pulumi-docker / pulumi-command resource is registered.
"""

from __future__ import annotations

import copy
import fcntl
import functools
import gzip
import os
import re
import runpy
import shutil
import signal
import subprocess
import sys
import threading
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import pulumi
import yaml
from pulumi import automation as auto

from conftest import not_copied

from .cluster import ControlPlane

REPO = Path(__file__).resolve().parents[2]
PASSPHRASE = "engine-test-passphrase"
# Canary secrets: after any run, none of them may appear in plain text in the state or the stack file.
CANARIES = {
    "msa:harborPassword": "Canary-Harbor-7f3a9c1e",
    "msa:kafkaUiPassword": "Canary-KafkaUi-5e81b2d4",
    "msa:kafkaAuthSecret": "Canary-KafkaAuth-3b6f0a97",
    # Read only with msa:kafka.tls: true (test_engine_tls.py sets a real CA); set everywhere like the others.
    "msa:kafkaTlsCa": "Canary-KafkaTlsCa-9c4e21d7",
}


def derived_canaries() -> dict[str, str]:
    """What the seed canary becomes in the cluster (msa:kafka.authentication: sasl): every Kafka user's
    derived password and the JAAS line's marker. None of them may be in plain text in the state or output."""
    from msa.kafka.credentials import derived_password

    from msa.kafka.zookeeper_auth import super_digest

    users = ("admin", "broker", "kafka-ui", "store-service", "controller", "super", "kafka")   # Kafka's, then ZooKeeper's
    found = {f"password of {u}": derived_password(CANARIES["msa:kafkaAuthSecret"], u) for u in users}
    digest = super_digest(found["password of super"]).split(":", 1)[1]
    return {**found, "ZooKeeper's super digest": digest, "a JAAS line": "ScramLoginModule required",
            "a ZooKeeper JAAS file": "DigestLoginModule required", "a KRaft controller JAAS line": "PlainLoginModule required"}


NOT_COPIED = ("venv", ".venv", ".git", "rendered", "__pycache__", "*cache*", ".hypothesis", ".ci", "target", "tests", "benchmarks")


def engine_cache() -> Path:
    return Path(os.environ.get("MSA_ENGINE_CACHE") or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "msa-engine")


def pulumi_home() -> Path:
    """A PULUMI_HOME in the engine cache with the kubernetes plugin installed from the local build (once;
    a lock keeps parallel test processes from installing it twice). The install runs in that home, not in
    the test's working folder: it needs no project, and the project folder holds the team's stacks
    (conftest's guard fails a test that runs pulumi there)."""
    home = engine_cache() / "pulumi-home"
    home.mkdir(parents=True, exist_ok=True)
    version, binary = os.environ["MSA_K8S_PLUGIN_VERSION"], os.environ["MSA_K8S_PROVIDER_BIN"]
    plugin = home / "plugins" / f"resource-kubernetes-v{version}" / "pulumi-resource-kubernetes"
    with open(home / ".install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not plugin.exists() or plugin.stat().st_size != Path(binary).stat().st_size:
            subprocess.run(["pulumi", "plugin", "install", "resource", "kubernetes", version, "--file", binary],
                           check=True, capture_output=True, cwd=home, env={**os.environ, "PULUMI_HOME": str(home)})
    return home


def dynamic_provider_shim(bin_dir: Path) -> Path:
    """pulumi-resource-pulumi-python, as the CLI distribution ships it, and a pulumi-language-python stand-in
    (language_host.py), both running this interpreter (the venv's)."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    shim = bin_dir / "pulumi-resource-pulumi-python"
    shim.write_text(f"#!/bin/sh\nexec {sys.executable} -u -m pulumi.dynamic \"$@\"\n")
    shim.chmod(0o755)
    # `pulumi import` (a CLI command, not the Automation API's inline run) loads the language plugin.
    language = bin_dir / "pulumi-language-python"
    language.write_text(f"#!/bin/sh\nexec {sys.executable} -u {Path(__file__).with_name('language_host.py')} \"$@\"\n")
    language.chmod(0o755)
    return bin_dir


REPLACE_OPS = {"replace", "create-replacement", "delete-replaced", "discard-replaced", "import-replacement"}


@dataclass
class Run:
    """What one engine operation did: the summary counts by op, the resource steps, and the text output."""

    kind: str
    changes: dict[str, int]                         # op -> count ({"same": 45} for a no-op)
    steps: list[dict] = field(default_factory=list)  # one per resource step: urn, type, name, op, diffs, keys
    output: str = ""
    events: list = field(default_factory=list)

    def changed(self) -> dict[str, str]:
        """{"<Type>/<name>": op} of every resource with a step that is not `same` (the stack left out), e.g.
        {"Deployment/user-service": "update", "Job/kafka-drain": "replace"}. A replacement's steps
        (create-replacement, replace, delete-replaced) count as one "replace"."""
        ops: dict[str, set] = {}
        for s in self.steps:
            if s["type"] != "pulumi:pulumi:Stack":
                ops.setdefault(f"{s['type'].rsplit(':', 1)[-1]}/{s['name']}", set()).add(s["op"])
        result = {}
        for key, seen in ops.items():
            seen -= {"same", "read"}
            if seen & REPLACE_OPS:
                result[key] = "replace"
            elif seen:
                (result[key],) = seen
        return result

    def step(self, name: str, type_suffix: str = "") -> dict:
        """The step of one resource (of a replacement: the `replace` step, which carries the diff)."""
        found = [s for s in self.steps if s["name"] == name and s["type"].endswith(type_suffix)]
        if len(found) > 1:
            found = [s for s in found if s["op"] == "replace"]
        (step,) = found
        return step


# The longest a single engine operation may take in these tests (the slowest, an `up` that rolls brokers and
# runs day-2 Jobs, takes about 2 minutes on 2 busy cores).
OPERATION_TIMEOUT = 480


def _processes_under(root: int) -> list[int]:
    """Every live process descended from `root` (from /proc: each process's parent)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = [], [root]
    while frontier:
        children = [pid for pid, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found


def _exe_name(pid: int) -> str:
    try:
        return Path(os.readlink(f"/proc/{pid}/exe")).name
    except OSError:
        return ""


def _cwd(pid: int) -> Optional[Path]:
    try:
        return Path(os.readlink(f"/proc/{pid}/cwd"))
    except OSError:
        return None


def _provider_waits(lines: list[str]) -> str:
    """From a Go goroutine dump in the CLI's output: each goroutine in the provider's own code, as its header
    ("goroutine 316 [select, 9 minutes]:") and its pulumi-kubernetes function names, innermost first."""
    text = "\n".join(lines)
    blocks = re.split(r"\n(?=\s*goroutine \d+ )", text)
    waits = []
    for block in blocks:
        rows = [row.strip() for row in block.splitlines()]
        if rows and rows[0].startswith("goroutine ") and any("pulumi-kubernetes/provider" in r for r in rows):
            calls = [r[:r.rfind("(")].rsplit("/", 1)[-1] for r in rows[1:]
                     if r.startswith("github.com/pulumi/pulumi-kubernetes/provider/v4/")]
            waits.append(rows[0] + " " + " <- ".join(dict.fromkeys(calls)))
    return "\n".join(waits) or "(no dump in the output)"


def _before_dump(lines: list[str]) -> list[str]:
    dump = next((i for i, line in enumerate(lines) if "SIGQUIT" in line or line.strip().startswith("goroutine ")), len(lines))
    return lines[:dump]


def _signal(pids: list[int], sig: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


@functools.cache
def _pulumi_command() -> auto.PulumiCommand:
    """The CLI on PATH, its version checked once per test process."""
    return auto.PulumiCommand()


def _summary(events: list) -> dict[str, int]:
    """The operation's change counts by op ({"same": 45, "update": 1}), from its summary event."""
    (summary,) = [e.summary_event for e in events if e.summary_event is not None]
    return {str(op): count for op, count in (summary.resource_changes or {}).items()}


def _steps(events: list) -> list[dict]:
    steps = []
    for event in events:
        pre = event.resource_pre_event
        if pre is None:
            continue
        meta = pre.metadata
        steps.append({"urn": meta.urn, "type": meta.type, "name": meta.urn.rsplit("::", 1)[-1], "op": str(meta.op.value),
                      "diffs": list(meta.diffs or []), "keys": list(meta.keys or []),
                      "detailed": {k: str(v.diff_kind.value) for k, v in (meta.detailed_diff or {}).items()}})
    return steps


class EngineStack:
    """One stack of a copy of the project, in its own backend, against one control plane."""

    def __init__(self, root: Path, name: str, control_plane: ControlPlane, edit: Optional[Callable[[dict], None]] = None):
        self.root = root
        self.name = name
        self.control_plane = control_plane
        self.project = root / "project"
        self.state = root / "state"
        self.state.mkdir(parents=True, exist_ok=True)
        shutil.copytree(REPO, self.project, ignore=lambda folder, names: {
            *shutil.ignore_patterns(*NOT_COPIED)(folder, names), *not_copied(folder, names)})
        # The fixture stacks (tests/stacks), never the team's committed ones.
        shutil.copy(REPO / "tests" / "stacks" / f"Pulumi.{name}.yaml", self.project / f"Pulumi.{name}.yaml")
        self.edit(_engine_test_setup)
        if edit:
            self.edit(edit)
        bin_dir = dynamic_provider_shim(root / "bin")
        self.home = pulumi_home()
        self.env = {
            **control_plane.env,
            "PATH": f"{bin_dir}:{os.environ['PATH']}",
            "PULUMI_HOME": str(self.home),
            "PULUMI_BACKEND_URL": f"file://{self.state}",
            "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
            "PULUMI_SKIP_UPDATE_CHECK": "1",
            "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
        }
        # pulumi.ResourceTransform functions registered before the program runs (e.g. skipAwait on one Job).
        self.transforms: list = []
        # A new stack in a new backend (create, not create-or-select: no failing `stack select` first), and one
        # `pulumi version` check for the whole test process (each CLI call costs ~0.5 CPU-s).
        self.stack = auto.create_stack(
            stack_name=name, project_name="msa", program=self._program,
            opts=auto.LocalWorkspaceOptions(work_dir=str(self.project), pulumi_home=str(self.home), env_vars=self.env,
                                            secrets_provider="passphrase", pulumi_command=_pulumi_command()),
        )
        # up/refresh read the stack's outputs twice and its last history entry after the operation (three more
        # CLI calls each); the runs here take the change counts from the operation's own summary event instead.
        self.stack.outputs = lambda: {}
        self.stack.info = lambda show_secrets=True: types.SimpleNamespace(resource_changes=None)   # up() asserts one
        # One `pulumi config set-all` (each CLI call costs ~0.6 CPU-s; the engine tests make ~25 stacks).
        self.stack.set_all_config({key: auto.ConfigValue(value, secret=True) for key, value in CANARIES.items()})

    # --- the program ----------------------------------------------------------------------------------

    def _program(self) -> None:
        """The copy's __main__.py, as `pulumi up` would run it: its own folder first on sys.path and its
        own `msa` package (not the one the test process imported from the repository)."""
        for module in [m for m in sys.modules if m == "msa" or m.startswith("msa.")]:
            del sys.modules[module]
        sys.path.insert(0, str(self.project))
        # The program runs in this process, not under the CLI: give it the environment `pulumi up` would
        # (it checks that KUBECONFIG has the stack's context).
        os.environ.update(self.control_plane.env)
        for transform in self.transforms:
            pulumi.runtime.register_resource_transform(transform)
        try:
            runpy.run_path(str(self.project / "__main__.py"), run_name="__main__")
        finally:
            sys.path.remove(str(self.project))

    # --- operations -----------------------------------------------------------------------------------
    # Each one is bounded (`timeout` seconds): an operation that hangs fails its test with the provider's
    # goroutines instead of holding the whole CI run (see `_bounded`).

    def up(self, timeout: float = OPERATION_TIMEOUT, **kwargs) -> Run:
        events, lines = [], []
        self._bounded("up", timeout, lines,
                      lambda: self.stack.up(on_event=events.append, on_output=lines.append, color="never", **kwargs))
        return Run("up", _summary(events), _steps(events), "\n".join(lines), events)

    def preview(self, timeout: float = OPERATION_TIMEOUT, **kwargs) -> Run:
        events, lines = [], []
        result = self._bounded("preview", timeout, lines, lambda: self.stack.preview(
            on_event=events.append, on_output=lines.append, color="never", diff=True, **kwargs))
        return Run("preview", dict(result.change_summary), _steps(events), "\n".join(lines), events)

    def refresh(self, timeout: float = OPERATION_TIMEOUT, **kwargs) -> Run:
        events, lines = [], []
        self._bounded("refresh", timeout, lines,
                      lambda: self.stack.refresh(on_event=events.append, on_output=lines.append, color="never", **kwargs))
        return Run("refresh", _summary(events), _steps(events), "\n".join(lines), events)

    def _bounded(self, kind: str, timeout: float, lines: list[str], operation: Callable):
        """Run `operation` (an Automation API call, which has no timeout of its own) for at most `timeout`
        seconds. Past it: SIGQUIT to the CLI's provider plugins (a Go process prints every goroutine's stack
        on it, and the CLI passes a plugin's stderr on into the output), then SIGKILL to the CLI and all it
        started; the test fails with where the provider was waiting."""
        outcome: dict = {}

        def run() -> None:
            try:
                outcome["result"] = operation()
            except BaseException as error:        # re-raised in the test's thread
                outcome["error"] = error

        worker = threading.Thread(target=run, name=f"pulumi-{kind}", daemon=True)
        worker.start()
        worker.join(timeout)
        if worker.is_alive():
            cli = [pid for pid in _processes_under(os.getpid()) if _exe_name(pid) == "pulumi" and _cwd(pid) == self.project]
            plugins = [pid for c in cli for pid in _processes_under(c) if _exe_name(pid).startswith("pulumi-resource-")]
            _signal(plugins, signal.SIGQUIT)
            worker.join(30)
            _signal([pid for c in cli for pid in [c, *_processes_under(c)]], signal.SIGKILL)
            worker.join(30)
            raise AssertionError(
                f"pulumi {kind} of stack {self.name} ran past its {timeout:.0f} s and was killed; where the provider "
                f"was waiting (its SIGQUIT dump):\n{_provider_waits(lines)}\nthe output's last lines before it:\n"
                + "\n".join(_before_dump(lines)[-40:]))
        if "error" in outcome:
            raise outcome["error"]
        return outcome["result"]

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """The real `pulumi` command in the project copy, with this stack's backend, home and secrets."""
        proc = subprocess.run(["pulumi", *args, "--stack", self.name, "--non-interactive", "--color", "never"],
                              cwd=self.project, env={**os.environ, **self.env}, text=True, capture_output=True, timeout=1200)
        if check and proc.returncode != 0:
            raise AssertionError(f"pulumi {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
        return proc

    def render(self) -> Path:
        """render.py of the copy (its stack file as it is now) into a temp folder: what the program declares."""
        out = self.root / "rendered"
        subprocess.run([sys.executable, "render.py", self.name, "--out", str(out)], cwd=self.project, check=True,
                       capture_output=True, text=True, timeout=300)
        return out

    def rendered_objects(self) -> list[dict]:
        return [o for o in yaml.safe_load_all((self.render() / "kubernetes.yaml").read_text()) if o]

    def state_text(self) -> str:
        """Every file the backend stores (the stack's checkpoint, its backups and history), as text: what a
        reader of the state bucket sees. (The Automation API's export_stack() decrypts: `--show-secrets`.)"""
        files = sorted(p for p in self.state.rglob("*") if p.is_file())
        assert any(p.name == f"{self.name}.json" for p in files), files
        texts = []
        for path in files:
            data = path.read_bytes()
            texts.append((gzip.decompress(data) if path.suffix == ".gz" else data).decode(errors="replace"))
        return "\n".join(texts)

    def resources(self) -> list[dict]:
        return self.stack.export_stack().deployment["resources"]

    # --- configuration --------------------------------------------------------------------------------

    @property
    def stack_file(self) -> Path:
        return self.project / f"Pulumi.{self.name}.yaml"

    def config(self) -> dict:
        return yaml.safe_load(self.stack_file.read_text())["config"]

    def edit(self, change: Callable[[dict], None]) -> None:
        """Edit the copy's Pulumi.<stack>.yaml `config:` as a user edits the file (secure values kept)."""
        document = yaml.safe_load(self.stack_file.read_text())
        values = copy.deepcopy(document["config"])
        change(values)
        document["config"] = values
        self.stack_file.write_text(yaml.safe_dump(document, sort_keys=False))


def set_kafka(**values) -> Callable[[dict], None]:
    """An edit (EngineStack.edit / engine_stack(name, edit)) that sets keys of msa:kafka."""
    return lambda config: config["msa:kafka"].update(values)


def _engine_test_setup(config: dict) -> None:
    """What the engine tests cannot have: nodes to set up over SSH (no node setup when the list is empty),
    a Harbor to copy the third-party images into (`mirror: off`) or to read the prebuilt services'
    digests from (`push: none`: by tag); all three need pulumi-command, not built here."""
    config["msa:cluster"]["nodes"] = []
    config["msa:harbor"]["mirror"] = "off"
    config["msa:harbor"]["push"] = "none"
