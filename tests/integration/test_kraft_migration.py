"""The ZooKeeper -> KRaft migration with real Kafka 3.9.1 / ZooKeeper 3.8.4, step by step as the stack
takes it (msa/kafka/migration.py): topics, committed and aborted transactions and a group's committed
offsets survive, for 1 and 3 brokers, and a migration interrupted between and within steps converges
when the steps run again. Each step's gate is the migration Job's script (kafka-migration.sh)."""

from __future__ import annotations

import pytest

from integration.kraft_migration import KraftQuorum, add_kraft_tools, roll_brokers, run_gate, zookeeper_json
from integration.migration_data import History, transaction_still_works, write_history
from msa.kafka import migration

pytestmark = pytest.mark.integration

CONTROLLER_BASE = 1000


def voters(count: int) -> str:
    return ",".join(f"{CONTROLLER_BASE + i}@kafka-controller-{i}.kafka-controller-headless.msa.svc.cluster.local:9093" for i in range(count))


def controller_env(count: int, cluster_id: str) -> dict[str, str]:
    return {
        "KAFKA_PROCESS_ROLES": "controller",
        "KAFKA_LISTENERS": f"{migration.CONTROLLER_LISTENER}://0.0.0.0:9093",
        "KAFKA_CONTROLLER_LISTENER_NAMES": migration.CONTROLLER_LISTENER,
        "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": "CONTROLLER:PLAINTEXT",
        "KAFKA_CONTROLLER_QUORUM_VOTERS": voters(count),
        "KAFKA_LOG_DIRS": "/var/lib/kafka/data/logs",
        "CLUSTER_ID": cluster_id,
    }


def kraft_broker_env(zookeeper_env: dict, count: int, cluster_id: str) -> dict[str, str]:
    return {
        **migration.kraft_broker_without_zookeeper(zookeeper_env),
        "KAFKA_PROCESS_ROLES": "broker",
        "KAFKA_CONTROLLER_QUORUM_VOTERS": voters(count),
        "KAFKA_CONTROLLER_LISTENER_NAMES": migration.CONTROLLER_LISTENER,
        "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": migration.PROTOCOL_MAP,
        "CLUSTER_ID": cluster_id,
    }


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
        self.quorum = KraftQuorum(world.root / "quorum", self.tools, self.zk, [CONTROLLER_BASE + i for i in range(controllers)])
        world._started.insert(0, self.quorum)   # stopped after the brokers, before ZooKeeper
        self.controllers = controllers

    def gate(self, step: str, timeout: int = 300, passes: bool = True) -> str:
        result = run_gate(self.tools, step, self.zk, timeout, BOOTSTRAP_SERVERS=self.cluster.bootstrap_servers,
                          TARGET_BROKERS=str(self.brokers), CLUSTER_ID=self.cluster_id)
        assert (result.returncode == 0) == passes, result.stdout + result.stderr
        return result.stdout + result.stderr

    def migrate(self, only=None) -> None:
        self.gate("cluster-id")
        self.quorum.roll(migration.migrating_controller_env(controller_env(self.controllers, self.cluster_id), self.zk))
        roll_brokers(self.cluster, self.quorum,
                     migration.migrating_broker_env(self.zookeeper_env, voters(self.controllers)), only=only)

    def brokers_to_kraft(self, only=None) -> None:
        roll_brokers(self.cluster, self.quorum, kraft_broker_env(self.zookeeper_env, self.controllers, self.cluster_id), only=only)

    def finalize(self) -> None:
        self.gate("kraft")
        self.quorum.roll(controller_env(self.controllers, self.cluster_id))
        self.cluster.zookeeper.stop()


@pytest.mark.parametrize("brokers,controllers", [(1, 1), (3, 3)])
def test_migration_keeps_topics_transactions_and_offsets(kafka_world, brokers, controllers):
    run = Migration(kafka_world, brokers, controllers)
    write_history(run.cluster.bootstrap_servers, min(3, brokers))
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
    """Each step stopped after its first pod (a cancelled `pulumi up`, a node lost), the active controller
    killed in the hybrid phase; the gates refuse to go on, and running the steps again converges."""
    run = Migration(kafka_world, brokers=3, controllers=3)
    write_history(run.cluster.bootstrap_servers, 3)
    before = History.read(run.cluster.bootstrap_servers)

    run.migrate(only=[2])
    assert "timed out after 30s waiting for the controllers to copy the metadata" in run.gate("migrated", timeout=30, passes=False)
    run.migrate()                                   # the step again: everything rolls, nothing migrates twice
    run.gate("migrated")
    assert run.quorum.logs().count("Completed migration of metadata from ZooKeeper to KRaft") == 1

    run.brokers_to_kraft(only=[2])                  # hybrid: broker 2 in KRaft, 0 and 1 still in ZooKeeper mode
    leader = run.quorum.leader()
    run.quorum.stop_one(leader, kill=True)
    assert "brokers still in ZooKeeper mode: 0,1" in run.gate("kraft", timeout=20, passes=False)
    run.quorum.roll(migration.migrating_controller_env(controller_env(3, run.cluster_id), run.zk))
    assert History.read(run.cluster.bootstrap_servers) == before
    run.brokers_to_kraft()
    run.finalize()
    run.quorum.roll(controller_env(3, run.cluster_id))   # finalize again: a plain controller roll
    assert History.read(run.cluster.bootstrap_servers) == before
    assert transaction_still_works(run.cluster.bootstrap_servers) == {f"after-{p}": 1 for p in range(3)}


def test_cluster_id_gate_refuses_another_cluster(kafka_world):
    run = Migration(kafka_world, brokers=1, controllers=1)
    run.cluster_id = "AAAAAAAAAAAAAAAAAAAAAA"
    output = run.gate("cluster-id", passes=False)
    assert "msa:kafka.clusterId is AAAAAAAAAAAAAAAAAAAAAA but the cluster in ZooKeeper is" in output
