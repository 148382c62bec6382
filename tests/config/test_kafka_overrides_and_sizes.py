"""The configuration knows Kafka and sizes: a broker property Kafka 3.9 does not have, and a size nobody
can mean (`storageSize: 10` is 10 bytes), are refused before anything is registered.

Every case runs through render.main, as `python3 render.py STACK` does with a real stack file: exit 2,
exactly the one line below on stderr, no traceback, no output folder.
"""

import contextlib
import copy
import io
import itertools

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import render
from conftest import stack_values
from msa.config import kafka_names
from msa.config import sizes
from msa.config.sizes import Floor, size_problem

ALL_FLOORS = [v for v in vars(sizes).values() if isinstance(v, Floor)]

_runs = itertools.count()


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """The real program, package and config repo (symlinked), with stack files written by the tests."""
    folder = tmp_path_factory.mktemp("refusals") / "project"
    folder.mkdir()
    for name in ("__main__.py", "msa", "config-repo", "Pulumi.yaml"):
        (folder / name).symlink_to(render.PROJECT_DIR / name)
    return folder


def _render(project, edit) -> tuple[int, str, bool]:
    values = copy.deepcopy(stack_values("dev"))
    edit(values)
    (project / "Pulumi.case.yaml").write_text(yaml.safe_dump({"config": values}, allow_unicode=True))
    out = project.parent / f"out-{next(_runs)}"
    stderr = io.StringIO()
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
        patch.setattr(render, "PROJECT_DIR", project)
        status = render.main(["case", "--out", str(out)])
    return status, stderr.getvalue(), out.exists()


def _refused_with(project, edit, expected: str) -> None:
    status, stderr, wrote = _render(project, edit)
    assert status == 2, stderr
    assert "Traceback" not in stderr
    assert stderr.splitlines() == [f"error: {expected}"]
    assert not wrote


def _kafka(**changes):
    return lambda values: values["msa:kafka"].update(changes)


def _overrides(overrides):
    return _kafka(overrides=overrides)


def _service(name, **changes):
    return lambda values: values["msa:services"][name].update(changes)


OVERRIDE_REFUSALS = [
    ("a misspelt property", _overrides({"log.retention.hour": 72}),
     "msa:kafka.overrides.log.retention.hour: is not a broker property of Kafka 3.9.1; did you mean log.retention.hours?"),
    ("a property of another product", _overrides({"xyzzy.frobnicate": 1}),
     "msa:kafka.overrides.xyzzy.frobnicate: is not a broker property of Kafka 3.9.1; "
     "see the broker configuration of Apache Kafka's documentation for the names"),
    ("a topic-level name on the broker", _overrides({"retention.ms": 1000}),
     "msa:kafka.overrides.retention.ms: is not a broker property of Kafka 3.9.1; did you mean log.retention.ms?"),
    ("a Confluent Server property on cp-kafka", _overrides({"confluent.balancer.enable": True}),
     "msa:kafka.overrides.confluent.balancer.enable: is a Confluent Server property; cp-kafka runs Apache Kafka 3.9.1, "
     "which ignores it: use a cp-server image in msa:kafka.image or remove it"),
    ("a password in plain text", _overrides({"ssl.keystore.password": "changeit"}),
     "msa:kafka.overrides.ssl.keystore.password: is a password (type PASSWORD in Kafka 3.9.1); overrides are plain text in "
     "the stack file and in the rendered objects, so a password does not belong here: remove it"),
    ("text for a whole number", _overrides({"log.retention.hours": "a week"}),
     "msa:kafka.overrides.log.retention.hours: 'a week' is not a whole number (Kafka 3.9.1 reads log.retention.hours as INT); use e.g. 1"),
    ("a switch for a whole number", _overrides({"num.partitions": True}),
     "msa:kafka.overrides.num.partitions: true is not a whole number (Kafka 3.9.1 reads num.partitions as INT); use e.g. 1"),
    ("text for a switch", _overrides({"auto.create.topics.enable": "yes"}),
     "msa:kafka.overrides.auto.create.topics.enable: 'yes' is not true or false (Kafka 3.9.1 reads auto.create.topics.enable as BOOLEAN); use true or false"),
    ("below Kafka's own minimum", _overrides({"log.segment.bytes": 10}),
     "msa:kafka.overrides.log.segment.bytes: 10 is below what Kafka 3.9.1 accepts for log.segment.bytes (at least 14); use at least 14"),
    ("above Kafka's own maximum", _overrides({"log.cleaner.min.cleanable.ratio": 2}),
     "msa:kafka.overrides.log.cleaner.min.cleanable.ratio: 2 is above what Kafka 3.9.1 accepts for log.cleaner.min.cleanable.ratio (at most 1); use at most 1"),
]

SIZE_REFUSALS = [
    ("a broker volume of 10 bytes", _kafka(storageSize=10),
     "msa:kafka.storageSize: 10 is 10 bytes, below the 1Gi a broker volume needs (it must hold at least one log segment, "
     "log.segment.bytes: 1 GiB by default); did you mean 10Gi?"),
    ("a broker volume in kilobytes", _kafka(storageSize="20k"),
     "msa:kafka.storageSize: 20k is 20000 bytes, below the 1Gi a broker volume needs (it must hold at least one log segment, "
     "log.segment.bytes: 1 GiB by default); did you mean 20Gi?"),
    ("a broker volume smaller than one segment", _kafka(storageSize="512Mi"),
     "msa:kafka.storageSize: 512Mi is below the 1Gi a broker volume needs (it must hold at least one log segment, "
     "log.segment.bytes: 1 GiB by default); use at least 1Gi"),
    ("a ZooKeeper volume of 2 bytes", _kafka(zookeeperStorageSize=2),
     "msa:kafka.zookeeperStorageSize: 2 is 2 bytes, below the 256Mi a ZooKeeper volume needs (ZooKeeper preallocates its "
     "transaction log in 64 MiB blocks and keeps snapshots beside it); did you mean 2Gi?"),
    ("a broker heap in kilobytes", _kafka(heap="512k"),
     "msa:kafka.heap: 512k is 524288 bytes, below the 128m a broker heap needs (the broker's request buffers and caches live in it); "
     "did you mean 512m?"),
    ("a ZooKeeper heap too small to run", _kafka(zookeeperHeap="16m"),
     "msa:kafka.zookeeperHeap: 16m is below the 32m a ZooKeeper heap needs (the whole data tree and the sessions live in it); use at least 32m"),
    ("a memory request in bytes", _kafka(resources={"memory": 512}),
     "msa:kafka.resources.memory: 512 is 512 bytes, below the 16Mi a memory request needs (every container here runs a JVM; "
     "0 means no request); did you mean 512Mi?"),
    ("a memory limit in bytes", _service("user-service", resources={"memoryLimit": "768"}),
     "msa:services.user-service.resources.memoryLimit: 768 is 768 bytes, below the 64Mi a memory limit needs (a JVM does not start "
     "in less); did you mean 768Mi?"),
    ("a memory limit in thousandths of a byte", _kafka(zookeeperResources={"memoryLimit": "768m"}),
     "msa:kafka.zookeeperResources.memoryLimit: 768m is 0.768 bytes, below the 64Mi a memory limit needs (a JVM does not start "
     "in less); did you mean 768Mi?"),
    ("CPUs without the m", _service("store-service", resources={"cpu": 250, "cpuLimit": 500}),
     "msa:services.store-service.resources.cpu: 250 is 250 CPUs, more than a CPU request or limit can mean here (at most 64); "
     "did you mean 250m?"),
    ("less than Kubernetes' smallest CPU unit", _service("user-service", resources={"cpu": "0.0001"}),
     "msa:services.user-service.resources.cpu: 0.0001 is below the 1m a CPU request or limit needs (1m is the smallest CPU unit "
     "Kubernetes schedules; 0 means no request); use at least 1m"),
    ("a service heap in kilobytes", _service("user-service", javaOpts="-Xmx256k"),
     "msa:services.user-service.javaOpts: -Xmx256k is 262144 bytes, below the 64m a Spring Boot heap needs (Spring Boot with its "
     "Eureka and config clients does not start in less); did you mean -Xmx256m?"),
]


@pytest.mark.parametrize("edit, expected", [(e, x) for _, e, x in OVERRIDE_REFUSALS], ids=[c[0] for c in OVERRIDE_REFUSALS])
def test_an_override_kafka_would_not_take_is_refused_with_one_line(project, edit, expected):
    _refused_with(project, edit, expected)


@pytest.mark.parametrize("edit, expected", [(e, x) for _, e, x in SIZE_REFUSALS], ids=[c[0] for c in SIZE_REFUSALS])
def test_a_size_that_cannot_be_meant_is_refused_with_the_likely_fix(project, edit, expected):
    _refused_with(project, edit, expected)


ACCEPTED = [
    ("Kafka properties of every kind", _overrides({
        "log.retention.hours": 72, "num.partitions": "6", "auto.create.topics.enable": False,
        "log.cleaner.min.cleanable.ratio": "0.3", "compression.type": "zstd", "log.segment.bytes": 268435456})),
    ("a per-listener setting and the authorizer's", _overrides({"listener.name.plaintext.ssl.client.auth": "none", "super.users": "User:admin"})),
    ("Confluent Server properties on cp-server", _kafka(image="confluentinc/cp-server:7.9.1", overrides={"confluent.balancer.enable": True})),
    ("the floors themselves", _kafka(storageSize="1Gi", zookeeperStorageSize="256Mi", heap="128m", zookeeperHeap="32m")),
    ("no memory request, the smallest CPU", _service("user-service", resources={"memory": 0, "cpu": "1m"})),
    ("a service heap at the floor", _service("user-service", javaOpts="-Xmx64m")),
]


@pytest.mark.parametrize("edit", [e for _, e in ACCEPTED], ids=[c[0] for c in ACCEPTED])
def test_what_kafka_and_the_floors_allow_renders(project, edit):
    status, stderr, wrote = _render(project, edit)
    assert status == 0 and wrote, stderr
    assert [line for line in stderr.splitlines() if not line.startswith("warning: ")] == []


def test_every_broker_property_of_the_list_is_accepted_by_name():
    """No name of Kafka's own list is refused for its name (the drift test keeps the list the jars' one)."""
    refused = [name for name in kafka_names.properties()
               if (kafka_names.override_problem(name, "x", False) or "").startswith("is not a broker property")]
    assert refused == []
    assert len(kafka_names.properties()) > 300 and kafka_names.kafka_version().startswith("3.9.")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(floor=st.sampled_from(ALL_FLOORS), number=st.integers(0, 10**7), suffix=st.sampled_from(["", "k", "Ki", "m", "Mi", "Gi", "g"]))
def test_a_size_past_its_floor_is_one_line_and_its_fix_passes(floor, number, suffix):
    """Any size of any size key is accepted or refused with one line that names the floor; the fix,
    when it offers one, is the same number in the key's own unit, and that passes."""
    text = f"{number}{suffix}"
    try:
        problem = size_problem(text, floor)
    except ValueError:
        return  # not the key's grammar at all (a JVM size in Gi): its form refuses it first
    if problem is None:
        return
    assert "\n" not in problem and (floor.least in problem or floor.most in problem)
    if "did you mean" in problem:
        fix = problem.rsplit("did you mean ", 1)[1].rstrip("?")
        assert fix == f"{number}{floor.unit}" and size_problem(fix, floor) is None
