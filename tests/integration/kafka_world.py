"""The pytest fixtures that start real ZooKeeper ensembles and Kafka clusters (imported by
tests/integration/conftest.py):

- `kafka_jars` (session): the jar folder; fails under MSA_REQUIRE_INTEGRATION=1 when it is missing.
- `kafka_tools` (session): a `ToolBox`.
- `kafka_world`: a factory `world.start(brokers=3, zookeepers=1, stack="prod")` -> `KafkaCluster`;
  every server it started is stopped at the end of the test.
- `kafka_session_world` (session): the same, shared by the tests that only read from a cluster.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from integration.jvm_tools import ToolBox, require_jars
from integration.kafka_cluster import KafkaCluster
from integration.rendered import rendered_pod_env, rendered_workload
from integration.zookeeper_ensemble import ZooKeeperEnsemble


@pytest.fixture(scope="session")
def kafka_jars() -> Path:
    return require_jars()


@pytest.fixture(scope="session")
def kafka_tools(kafka_jars, tmp_path_factory) -> ToolBox:
    return ToolBox(tmp_path_factory.mktemp("kafka-tools"), kafka_jars)


class KafkaWorld:
    """Starts ensembles and clusters for one test and stops every one of them afterwards."""

    def __init__(self, root: Path, tools: ToolBox):
        self.root = root
        self.tools = tools
        self._started: list = []

    def zookeeper(self, size: int = 1, stack: str = "dev", edit=None) -> ZooKeeperEnsemble:
        ensemble = ZooKeeperEnsemble(self.root / f"zk{len(self._started)}", self.tools, rendered_workload(stack, "zookeeper", edit))
        self._started.append(ensemble)
        return ensemble.start(size)

    def start(self, brokers: int, zookeepers: int = 1, stack: str = "prod", edit=None, env_edit=None) -> KafkaCluster:
        """A cluster of `brokers` configured as `stack` renders it (with `edit` applied to its config).
        `env_edit(env)` changes the rendered broker env in place: a fault no valid config renders."""
        def set_count(values):
            values.setdefault("msa:kafka", {})
            values["msa:kafka"]["brokers"] = brokers
            values["msa:kafka"]["zookeeperReplicas"] = zookeepers
            if edit:
                edit(values)
        ensemble = self.zookeeper(zookeepers, stack, set_count)
        env = rendered_pod_env(stack, "kafka", set_count)
        if env_edit:
            env_edit(env)
        cluster = KafkaCluster(self.root / f"kafka{len(self._started)}", self.tools, env, ensemble)
        self._started.append(cluster)
        return cluster.start(brokers)

    def stop(self, kill: bool = False) -> None:
        """Stop everything started. `kill`: SIGKILL at once, for a teardown that throws the data away (a
        controlled shutdown costs each broker a second and some CPU, and a KRaft broker without its quorum
        waits out the whole bound)."""
        for thing in reversed(self._started):   # brokers before their ZooKeeper
            thing.stop(kill=kill)


@pytest.fixture
def kafka_world(kafka_tools, tmp_path):
    world = KafkaWorld(tmp_path, kafka_tools)
    try:
        yield world
    finally:
        world.stop(kill=True)


@pytest.fixture(scope="session")
def kafka_session_world(kafka_tools, tmp_path_factory):
    """A `KafkaWorld` shared by a whole session, for tests that only read from a cluster."""
    world = KafkaWorld(tmp_path_factory.mktemp("kafka-session"), kafka_tools)
    try:
        yield world
    finally:
        world.stop(kill=True)
