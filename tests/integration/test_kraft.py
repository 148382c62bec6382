"""KRaft with real Kafka 3.9.1 configured from what a `mode: kraft` stack renders (kraft_cluster.py):
dev's one combined pod runs transactions with the stack's single-broker settings (and would not with
Kafka's defaults), prod's brokers with three dedicated controllers pass the verification checker, and a
broker-count change runs through the rendered drain/rebalance Jobs without ZooKeeper."""

from __future__ import annotations

import json

import pytest

from conftest import by_name, open_kafka_then, run_stack
from integration.rendered import run_job_script
from integration.kraft_cluster import KraftCluster, kraft_stack
from integration.test_verify import REPLICATION_ENV
from integration.verify_run import run_checker

pytestmark = pytest.mark.integration


def kraft_spec(stack: str, cluster: KraftCluster, edit=None, settle_seconds: int = 180) -> dict:
    def values(v):
        v["msa:kafka"]["mode"] = "kraft"
        v["msa:verify"] = {"kafkaTimeoutSeconds": 20, "settleSeconds": settle_seconds}
        if edit:
            edit(v)
    spec = json.loads(by_name(run_stack(stack, open_kafka_then(values)), "ConfigMap", "verify")["data"]["spec.json"])
    spec["kafka"]["bootstrap"] = cluster.bootstrap_servers
    return spec


@pytest.fixture
def kraft(kafka_tools, tmp_path):
    started = []

    def start(stack="dev", brokers=1, controllers=0, edit=None, env_edit=None):
        brokers_sts, controllers_sts = kraft_stack(stack, edit)
        cluster = KraftCluster(tmp_path / f"kraft{len(started)}", kafka_tools, brokers_sts, controllers_sts)
        if env_edit:
            env_edit(cluster.specs["kafka"][1])
        started.append(cluster)
        return cluster.start(brokers, controllers)
    yield start
    for cluster in started:
        cluster.stop(kill=True)


def test_dev_is_one_combined_pod_that_commits_a_transaction_read_committed_reads(kraft, kafka_tools, tmp_path):
    cluster = kraft("dev", brokers=1)
    assert cluster.nodes["kafka-0"].env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    run = run_checker(kraft_spec("dev", cluster), tmp_path, "kafka", env=kafka_tools.env())
    assert run.code == 0, run.out + run.err
    assert "1 live, replication settings as rendered (RF 1, min ISR 1)" in run.line("kafka", "brokers")
    assert run.status("kafka", "transaction") == "PASS"      # committed, and a read_committed consumer read it
    assert run.line("kafka", "quorum").startswith("PASS") and "leader 0, voters [0]" in run.line("kafka", "quorum")
    assert run.status("kafka", "internal topics") == "PASS"


def test_one_combined_pod_at_kafkas_defaults_cannot_run_a_transaction(kraft, kafka_tools, tmp_path):
    def kafka_defaults(env):
        for name in REPLICATION_ENV:
            env.pop(name)
    cluster = kraft("dev", brokers=1, env_edit=kafka_defaults)
    run = run_checker(kraft_spec("dev", cluster, settle_seconds=15), tmp_path, "kafka", env=kafka_tools.env())
    assert run.code == 1
    assert "broker 0 runs transaction.state.log.replication.factor=3, expected 1" in run.line("kafka", "brokers")
    transaction = run.line("kafka", "transaction")
    assert transaction.startswith("FAIL") and "InitProducerId" in transaction


def test_three_brokers_with_three_dedicated_controllers_pass_the_checker(kraft, kafka_tools, tmp_path):
    cluster = kraft("prod", brokers=3, controllers=3)
    assert cluster.nodes["kafka-controller-1"].env["KAFKA_NODE_ID"] == "101"
    assert cluster.nodes["kafka-1"].env["KAFKA_PROCESS_ROLES"] == "broker"
    run = run_checker(kraft_spec("prod", cluster), tmp_path, "kafka", env=kafka_tools.env())
    assert run.code == 0, run.out + run.err
    assert "3 live, replication settings as rendered (RF 3, min ISR 2)" in run.line("kafka", "brokers")
    assert "voters [100, 101, 102]" in run.line("kafka", "quorum")
    # A roll of the controllers: one down, the others still have a leader and stay ready; it is ready again
    # only once it is back in the quorum (the next pod of a roll waits for that).
    cluster.nodes["kafka-controller-2"].server.stop()
    assert not cluster.ready("kafka-controller-2")
    assert cluster.ready("kafka-controller-0") and cluster.ready("kafka-controller-1")
    cluster.start_node("kafka-controller-2")
    cluster.wait_ready("kafka-controller-2")
    assert "voters [100, 101, 102]" in run_checker(kraft_spec("prod", cluster), tmp_path, "kafka", env=kafka_tools.env()).line("kafka", "quorum")


def test_brokers_1_to_3_to_1_through_the_rendered_jobs(kraft, kafka_tools, tmp_path):
    def combined(brokers):
        def edit(v):
            v["msa:kafka"].update(brokers=brokers, combined=True, controllers=1)
        return edit

    def job(name, brokers, cluster):
        rendered = by_name(run_stack("dev", open_kafka_then(lambda v: (v["msa:kafka"].update(mode="kraft"), combined(brokers)(v)))), "Job", name)
        done = run_job_script(rendered, kafka_tools,
                              {"BOOTSTRAP_SERVERS": cluster.bootstrap_servers, "FIRST_BROKER_HOST": "localhost"})
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    cluster = kraft("dev", brokers=1, edit=combined(1))
    kafka_tools.run("kafka-topics", "--bootstrap-server", cluster.bootstrap_servers, "--create", "--topic", "orders", "--partitions", "3")
    job("kafka-drain", 3, cluster)
    cluster.add_brokers(3)
    out = job("kafka-rebalance", 3, cluster)
    assert "registered brokers: 0,1,2" in out
    described = kafka_tools.run("kafka-topics", "--bootstrap-server", cluster.bootstrap_servers, "--describe", "--topic", "orders").stdout
    assert described.count("ReplicationFactor: 3") == 1, described
    # 3 -> 1: the drain moves every replica to broker 0 first, then the pods go.
    out = job("kafka-drain", 1, cluster)
    cluster.remove_broker(2)
    cluster.remove_broker(1)
    job("kafka-rebalance", 1, cluster)
    described = kafka_tools.run("kafka-topics", "--bootstrap-server", cluster.bootstrap_servers, "--describe", "--topic", "orders").stdout
    assert "ReplicationFactor: 1" in described and "Replicas: 1" not in described and "Replicas: 2" not in described, described
