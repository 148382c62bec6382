"""The ZooKeeper -> KRaft migration with real Kafka 3.9.1 / ZooKeeper 3.8.4, step by step as the stack
takes it (msa/kafka/migration.py): topics, committed and aborted transactions and a group's committed
offsets survive: one broker's migration step after step, and three brokers' interrupted between and within
steps, which converges when the steps run again. Each step's gate is the migration Job's script (kafka-migration.sh)."""

from __future__ import annotations

import pytest

from integration.kraft_migration import KraftQuorum, add_kraft_tools, roll_brokers, run_gate, zookeeper_json
from integration.migration_data import History, transaction_still_works, write_history
from msa.config import Kafka
from msa.kafka import migration
from msa.kafka.kraft import controller_env, kraft_broker_env
from msa.names import CONTROLLER_ID_BASE, KafkaNames

pytestmark = pytest.mark.integration

NAMES = KafkaNames("msa", "cluster.local")


def kraft_config(brokers: int, controllers: int) -> Kafka:
    """The KRaft side of the stack after the migration: dedicated controllers (a migration needs them)."""
    return Kafka(mode="kraft", brokers=brokers, combined=False, controllers=controllers)


def voters(count: int) -> str:
    return NAMES.quorum_voters(count, combined=False)


def with_cluster_id(env: dict, cluster_id: str) -> dict:
    return {**env, "CLUSTER_ID": cluster_id}


class Migration:
    """One stack's migration: the ZooKeeper cluster, its quorum-to-be and the env of each step."""

    def __init__(self, world, brokers: int, controllers: int):
        add_kraft_tools(world.tools)
        self.tools = world.tools
        self.brokers = brokers
        self.cluster = world.start(brokers=brokers, zookeepers=1, stack="prod")
        self.zk = self.cluster.zookeeper.connect
        self.zookeeper_env = dict(self.cluster.pod_env)
        # The operator's one-liner: zookeeper-shell <zookeeper> get /cluster/id
        self.cluster_id = zookeeper_json(self.tools, self.zk, "/cluster/id")["id"]
        self.quorum = KraftQuorum(world.root / "quorum", self.tools, self.zk, [CONTROLLER_ID_BASE + i for i in range(controllers)])
        self.kraft = kraft_config(brokers, controllers)
        world._started.insert(0, self.quorum)   # stopped after the brokers, before ZooKeeper
        self.controllers = controllers

    def gate(self, step: str, timeout: int = 300, passes: bool = True) -> str:
        result = run_gate(self.tools, step, self.zk, timeout, BOOTSTRAP_SERVERS=self.cluster.bootstrap_servers,
                          TARGET_BROKERS=str(self.brokers), CLUSTER_ID=self.cluster_id)
        assert (result.returncode == 0) == passes, result.stdout + result.stderr
        return result.stdout + result.stderr

    def migrate(self, only=None) -> None:
        self.gate("cluster-id")
        self.quorum.roll(self.migrating_controller_env())
        roll_brokers(self.cluster, self.quorum,
                     migration.migrating_broker_env(self.zookeeper_env, voters(self.controllers)), only=only)

    def brokers_to_kraft(self, only=None) -> None:
        roll_brokers(self.cluster, self.quorum, with_cluster_id(kraft_broker_env(self.kraft, NAMES), self.cluster_id), only=only)

    def migrating_controller_env(self) -> dict:
        return migration.migrating_controller_env(self.controller_env(), self.zk)

    def controller_env(self) -> dict:
        return with_cluster_id(controller_env(self.kraft, NAMES), self.cluster_id)

    def finalize(self) -> None:
        self.gate("kraft")
        self.quorum.roll(self.controller_env())
        self.cluster.zookeeper.stop()


def test_one_broker_migration_keeps_topics_transactions_and_offsets(kafka_world):
    """dev's shape, step after step. Three brokers and three controllers take the same steps, each one
    interrupted and run again, in the next test."""
    run = Migration(kafka_world, brokers=1, controllers=1)
    write_history(run.cluster.bootstrap_servers, 1)
    before = History.read(run.cluster.bootstrap_servers)
    before.assert_complete()

    run.migrate()
    run.gate("migrated")
    assert "Completed migration of metadata from ZooKeeper to KRaft" in run.quorum.logs()
    assert History.read(run.cluster.bootstrap_servers) == before

    run.brokers_to_kraft()
    run.gate("kraft")
    assert zookeeper_json(run.tools, run.zk, "/migration")["kraft_metadata_offset"] > 0
    run.finalize()

    after = History.read(run.cluster.bootstrap_servers)
    assert after == before
    assert transaction_still_works(run.cluster.bootstrap_servers) == {f"after-{p}": 1 for p in range(3)}


def test_interrupted_migration_converges_when_the_steps_run_again(kafka_world):
    """prod's shape (3 brokers, 3 controllers). Each step stopped after its first pod (a cancelled `pulumi up`,
    a node lost), the active controller killed in the hybrid phase; the gates refuse to go on, and running
    the steps again converges, with every topic, transaction and offset kept, as an uninterrupted run keeps them."""
    run = Migration(kafka_world, brokers=3, controllers=3)
    write_history(run.cluster.bootstrap_servers, 3)
    before = History.read(run.cluster.bootstrap_servers)

    run.migrate(only=[2])
    assert "timed out after 30s waiting for the controllers to copy the metadata" in run.gate("migrated", timeout=30, passes=False)
    run.migrate()                                   # the step again: everything rolls, nothing migrates twice
    run.gate("migrated")
    assert run.quorum.logs().count("Completed migration of metadata from ZooKeeper to KRaft") == 1
    assert History.read(run.cluster.bootstrap_servers) == before

    run.brokers_to_kraft(only=[2])                  # hybrid: broker 2 in KRaft, 0 and 1 still in ZooKeeper mode
    leader = run.quorum.leader()
    run.quorum.stop_one(leader, kill=True)
    assert "brokers still in ZooKeeper mode: 0,1" in run.gate("kraft", timeout=20, passes=False)
    run.quorum.roll(run.migrating_controller_env())
    assert History.read(run.cluster.bootstrap_servers) == before
    run.brokers_to_kraft()
    assert zookeeper_json(run.tools, run.zk, "/migration")["kraft_metadata_offset"] > 0
    run.finalize()
    run.quorum.roll(run.controller_env())   # finalize again: a plain controller roll
    assert History.read(run.cluster.bootstrap_servers) == before
    assert transaction_still_works(run.cluster.bootstrap_servers) == {f"after-{p}": 1 for p in range(3)}


def test_cluster_id_gate_refuses_another_cluster(kafka_world):
    run = Migration(kafka_world, brokers=1, controllers=1)
    run.cluster_id = "AAAAAAAAAAAAAAAAAAAAAA"
    output = run.gate("cluster-id", passes=False)
    assert "msa:kafka.clusterId is AAAAAAAAAAAAAAAAAAAAAA but the cluster in ZooKeeper is" in output
