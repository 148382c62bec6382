"""Any value in any key: the program either stops with the one-line error, or renders valid objects.

Hypothesis puts an arbitrary YAML value (scalars, lists, mappings, nested) at a key of the dev stack,
picked from every key the config model has (the same list the configuration reference is generated from, so a
new key is covered the day it is added) and runs the real program under the mock runtime. The
contract: a `pulumi.RunError` whose text is one line `msa:<key>: ...` (what render.py prints after
`error: ` with exit 2), or a render whose every object passes `kubernetes-validate --strict`.
Anything else, a traceback of any kind, fails. Bounded to stay a few seconds of the fast suite;
`MSA_PROPERTY_EXAMPLES=2000 venv/bin/python -m pytest tests/config/test_config_property.py` hunts longer.
"""

import contextlib
import copy
import functools
import io
import itertools
import os

import kubernetes_validate
import kubernetes_validate.utils
import pulumi
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import render
from msa import config
from msa.config import docs as config_docs
from msa.errors import ConfigError
from conftest import objects, run_stack, stack_values, to_config

KUBERNETES_VERSION = "1.30.0"
SERVICES = sorted(stack_values("dev")["msa:services"])
KEYS = [key for key, *_ in config_docs.rows()]

# Values a person plausibly writes, and the edges of every form; hypothesis adds its own.
LIKELY = ["", "0", "-1", "1", "3", "1.0", "4.3", "10Gi", "0.5", "512m", "2g", "latest", "kafka", "zookeeper", "config-repo",
          "10.96.0.50", "10.200.0.5", "10.96.0.0/28", "/etc/x", "etc/x", "a b", "http", "none", "relay", "direct",
          "msa.harbor.com/library/x", "root@n1", "n1:22", "n1;reboot", "1e3", "30089", "Fast_SSD", "ghcr.io/x/y:1",
          "user-service", "/x/**", "app", "gateway", "config", "discovery", "clusterIP", "podIP", "arm64"]
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**33), 2**33), st.sampled_from([0, 1, 2, 3, 22, 8080, 30007, 30100, 65536]),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=12), st.sampled_from(LIKELY),
)
# Values of the right shape, so that a fair share of examples gets through to a render.
plausible = st.one_of(
    st.from_regex(r"[1-9][0-9]{0,3}(m|k|M|G|Ki|Mi|Gi)?", fullmatch=True), st.integers(1, 65535), st.integers(30000, 32767),
    st.from_regex(r"[a-z]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True), st.from_regex(r"/[a-z]{1,8}(/[a-z*]{1,4})?", fullmatch=True),
    st.builds("10.96.{}.{}".format, st.integers(0, 255), st.integers(0, 255)), st.from_regex(r"[1-9][0-9]{0,2}[mg]", fullmatch=True),
)
yaml_values = st.recursive(
    scalars | plausible,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10) | st.sampled_from(["host", "path", "service", "enabled"]), inner, max_size=3),
    max_leaves=6,
)


def place(values: dict, key: str, value, service: str) -> None:
    """Set `key` (a configuration-reference key such as services.<name>.routes[].path) to `value` in the stack values."""
    tokens: list = []
    for part in key.removesuffix("[]").replace("<name>", service).split("."):
        tokens += [part[:-2], 0] if part.endswith("[]") else [part]
    tokens[0] = f"msa:{tokens[0]}"
    node = values
    for token, following in zip(tokens[:-1], tokens[1:]):
        if isinstance(token, int):
            while len(node) <= token:
                node.append({"path": "/probe/**", "service": service} if tokens[1] == service else {"host": "n1"})
            child = node[token]
        else:
            child = node.get(token)
        wanted = list if isinstance(following, int) else dict
        if not isinstance(child, wanted):
            child = [] if wanted is list else ({"host": "jump.example"} if token == "bastion" else {})
            node[token] = child
        node = child
    node[tokens[-1]] = value


@pytest.fixture(scope="module")
def validated():
    """kubernetes-validate re-reads its schema files on every call; read each once for this module,
    and remember the dev stack's objects, which test_render already validates."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(kubernetes_validate.utils, "schema_contents", functools.lru_cache(maxsize=None)(kubernetes_validate.utils.schema_contents))
        yield [obj for obj in objects(run_stack("dev"))]


# MSA_PROPERTY_EXAMPLES=2000 for a long hunt; 60 keeps the fast suite fast.
@settings(max_examples=int(os.environ.get("MSA_PROPERTY_EXAMPLES", "60")), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(key=st.sampled_from(KEYS), value=yaml_values, service=st.sampled_from(SERVICES))
def test_any_value_in_any_key_is_one_line_or_a_valid_render(validated, key, value, service):
    if ".routes[]" in key or key.endswith(".routes"):
        service = "apigateway-service"  # only the gateway takes routes; elsewhere that rule would answer first
    values = copy.deepcopy(stack_values("dev"))
    place(values, key, value, service)
    texts, secret_keys = to_config(values)
    try:
        # config.load's checks first: the program would stop there with this very line, before anything else.
        config.validate(texts, lambda k: texts.get(f"msa:{k}"), lambda k: k in secret_keys, render.PROJECT_DIR, "dev")
        result = render.run_program(render.PROJECT_DIR, "dev", texts, secret_keys)
    except (ConfigError, pulumi.RunError) as error:
        message = str(error)
        assert "\n" not in message and message.startswith("msa:") and ": " in message, message
        return
    render.output_files(result, render.PROJECT_DIR)  # the files a render writes can be written
    for obj in objects(result):
        if obj not in validated:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


def test_every_key_is_reachable_by_the_property_test():
    values = copy.deepcopy(stack_values("dev"))
    for key in KEYS:
        place(values, key, "probe", "user-service")
    assert values["msa:cluster"]["nodes"][0]["bastion"]["port"] == "probe"
    assert values["msa:services"]["user-service"]["routes"][0]["stripPrefix"] == "probe"


@pytest.fixture(scope="module")
def stack_project(tmp_path_factory):
    """A project folder whose program, components and config repo are the real ones (symlinked), for
    stack files written by the test; render.main reads and renders it as `python3 render.py prop` would."""
    folder = tmp_path_factory.mktemp("property") / "project"
    folder.mkdir()
    for name in ("__main__.py", "msa", "config-repo", "Pulumi.yaml"):
        (folder / name).symlink_to(render.PROJECT_DIR / name)
    return folder


@settings(max_examples=int(os.environ.get("MSA_PROPERTY_EXAMPLES", "30")), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(key=st.sampled_from(KEYS), value=yaml_values, service=st.sampled_from(SERVICES))
def test_render_exits_2_with_one_line_or_writes_a_valid_render(validated, stack_project, key, value, service):
    """The same contract through render.main: a real stack file, the exit status, stderr, the output folder."""
    if ".routes" in key:
        service = "apigateway-service"
    values = copy.deepcopy(stack_values("dev"))
    place(values, key, value, service)
    (stack_project / "Pulumi.prop.yaml").write_text(yaml.safe_dump({"config": values}, allow_unicode=True))
    out = stack_project.parent / f"out-{next(_runs)}"
    stderr = io.StringIO()
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
        patch.setattr(render, "PROJECT_DIR", stack_project)
        status = render.main(["prop", "--out", str(out)])
    if status == 2:
        (line,) = stderr.getvalue().splitlines()
        assert line.startswith("error: msa:") and "Traceback" not in line, line
        assert not out.exists()
        return
    assert status == 0, stderr.getvalue()
    for obj in yaml.safe_load_all((out / "kubernetes.yaml").read_text()):
        if obj not in validated:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


_runs = itertools.count()
