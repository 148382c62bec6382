"""The brokers with msa:kafka.authentication: sasl against real Kafka 3.9.1 / ZooKeeper 3.8.4, configured
from the rendered StatefulSet, their users stored by the rendered kafka-scram-users Job's script:

- nobody gets in without credentials or with a wrong password; PLAINTEXT is closed; a client with its
  rendered client.properties produces and consumes transactionally; a new seed re-stored by the Job
  replaces every password;
- a running open cluster (1 broker and 3) with transactional data and committed offsets moves to SCRAM in
  one `pulumi up`: the rendered kafka-auth-* Jobs' script against a real kube-apiserver, the brokers
  restarted as their pods are (integration/kafka_auth_roll.py), under continuous transactional production;
  an interrupted roll resumes; the data and the group's offsets are there after.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import threading
import time
import uuid

import pytest

from integration.kafka_auth import (
    client_config, metadata_error, rendered_kafka, run_scram_users_job, start_auth_cluster, start_brokers,
)
from integration.kafka_auth_roll import Kubelet, KubeApi, PhasedKafkaCluster, engine_path, job_process, run_job
from conftest import by_name
from integration.harness import skip_or_fail, wait_until
from integration.kafka_world import KafkaWorld
from integration.rendered import run_job_script
from integration.kafka_auth import resolved_pod_env
from msa.kafka.auth_roll import BEGIN_JOB, FINISH_JOB, ROLL_JOB
from integration.kafka_clients_auth import user_secret, write_client_config, wrong_password_config

pytestmark = pytest.mark.integration

CLIENT = "store-service"          # kafka: true (transactional) in the dev stack
TOPIC = "orders"


def produce_transactionally(config: dict, values: list[str], abort: list[str] = ()) -> None:
    from confluent_kafka import Producer

    producer = Producer({**config, "transactional.id": f"tx-{uuid.uuid4()}"})
    producer.init_transactions(60)
    producer.begin_transaction()
    for value in values:
        producer.produce(TOPIC, value=value.encode())
    producer.commit_transaction(60)
    if abort:
        producer.begin_transaction()
        for value in abort:
            producer.produce(TOPIC, value=value.encode())
        producer.flush(30)
        producer.abort_transaction(60)


def consume(config: dict, group: str, count: int, timeout: float = 90) -> list[str]:
    """Up to `count` committed records of TOPIC for `group` (read_committed), their offsets committed."""
    import time

    from confluent_kafka import Consumer

    consumer = Consumer({**config, "group.id": group, "auto.offset.reset": "earliest", "enable.auto.commit": False,
                         "isolation.level": "read_committed"})
    consumer.subscribe([TOPIC])
    values, deadline = [], time.monotonic() + timeout
    try:
        while len(values) < count and time.monotonic() < deadline:
            for message in consumer.consume(count - len(values), 1):
                if not message.error():
                    values.append(message.value().decode())
                    consumer.commit(message, asynchronous=False)
    finally:
        consumer.close()
    return values


def create_topic(config: dict, replicas: int) -> None:
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient(config)         # kept until the futures are done (a collected client cancels them)
    for future in admin.create_topics([NewTopic(TOPIC, 1, replicas)]).values():
        future.result(60)


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_only_credentials_get_in_and_clients_work_transactionally(kafka_tools, tmp_path):
    world = KafkaWorld(tmp_path, kafka_tools)
    try:
        rendered = rendered_kafka("dev", 1, "sasl")
        cluster = start_auth_cluster(world, rendered, 1)
        stored = run_scram_users_job(rendered, kafka_tools, cluster.zookeeper.connect, tmp_path / "users")
        assert stored.returncode == 0, stored.stdout + stored.stderr
        start_brokers(cluster, rendered, 1)
        bootstrap = cluster.scram_bootstrap()

        assert metadata_error({"bootstrap.servers": bootstrap}) is not None                       # no credentials
        assert refused_login(kafka_tools, bootstrap, wrong_password_config(tmp_path, CLIENT))
        assert not port_open(cluster.brokers[0].port)                                            # PLAINTEXT is closed

        config = client_config(rendered, CLIENT, bootstrap)
        create_topic(config, 1)
        produce_transactionally(config, ["a", "b"], abort=["never"])
        assert consume(config, "readers", 2) == ["a", "b"]

        # A new seed (msa:kafkaAuthSecret rotated): the Job stores every user's new password over the old.
        rotated = rendered_kafka_with_seed("another-seed-for-the-rotation")
        again = run_scram_users_job(rotated, kafka_tools, cluster.zookeeper.connect, tmp_path / "users-rotated")
        assert again.returncode == 0, again.stdout + again.stderr
        assert refused_login(kafka_tools, bootstrap, write_client_config(tmp_path / "old", user_secret(rendered, CLIENT)))
        assert metadata_error(client_config(rotated, CLIENT, bootstrap)) is None
    finally:
        world.stop(kill=True)


def refused_login(tools, bootstrap: str, properties) -> bool:
    """Whether the Kafka tools, logging in with `properties` (a client.properties), are refused as a wrong login."""
    result = tools.run("kafka-topics", "--bootstrap-server", bootstrap, "--command-config", str(properties), "--list", check=False)
    return result.returncode != 0 and "Authentication failed during authentication due to invalid credentials" in result.stderr + result.stdout


def rendered_kafka_with_seed(seed: str):
    from conftest import run_stack

    def edit(values):
        values.setdefault("msa:kafka", {}).update(brokers=1, zookeeperReplicas=1, authentication="sasl")
    return run_stack("dev", edit, secrets={"msa:kafkaAuthSecret": seed})


class Producing(threading.Thread):
    """Transactions of 3 records each, one after the other, until stopped; `committed` holds what was committed."""

    def __init__(self, config: dict, prefix: str):
        super().__init__(daemon=True)
        self.config, self.prefix = config, prefix
        self.committed: list[str] = []
        self.failures = 0
        self._halt = threading.Event()

    def run(self) -> None:
        from confluent_kafka import KafkaException, Producer

        producer, n = None, 0
        while not self._halt.is_set():
            try:
                if producer is None:
                    producer = Producer({**self.config, "transactional.id": f"{self.prefix}-{uuid.uuid4()}", "log_level": 0})
                    producer.init_transactions(30)
                producer.begin_transaction()
                values = [f"{self.prefix}-{n}-{i}" for i in range(3)]
                for value in values:
                    producer.produce(TOPIC, value=value.encode())
                producer.commit_transaction(30)
                self.committed += values
                n += 1
            except KafkaException:
                self.failures += 1
                producer = None          # a fresh producer fences the old transactional id's leftovers
            time.sleep(0.2)

    def stop(self) -> list[str]:
        self._halt.set()
        self.join(120)
        return self.committed


@pytest.mark.parametrize("brokers", [1, 3])
def test_a_running_open_cluster_moves_to_scram_in_one_up_under_transactional_load(kafka_tools, tmp_path, brokers, monkeypatch):
    """The Jobs of one `pulumi up` (scripts as rendered, against a real kube-apiserver), the StatefulSet's
    update and the brokers' restarts in between; the clients switch after kafka-auth-roll."""
    path = engine_path()
    if not path or missing_binaries_on(path):
        skip_or_fail("etcd/kube-apiserver/kubectl not built (tests/engine/build-engine.sh)")
    monkeypatch.setenv("PATH", path)
    world, api, kubelet = KafkaWorld(tmp_path, kafka_tools), KubeApi(tmp_path / "k8s"), None
    try:
        opened, sasl = rendered_kafka("dev", brokers, "none"), rendered_kafka("dev", brokers, "sasl")
        cluster = start_phased_cluster(world, opened, brokers)
        open_client = {"bootstrap.servers": cluster.bootstrap_servers}
        create_topic(open_client, brokers)
        produce_transactionally(open_client, [f"before-{i}" for i in range(6)], abort=["aborted"])
        assert consume(open_client, "orders-reader", 3) == ["before-0", "before-1", "before-2"]
        load = Producing(open_client, "open")
        load.start()

        api.start()
        api.apply_rendered(sasl)
        sa = api.service_account_dir(tmp_path / "serviceaccount")
        kubelet = Kubelet(api, cluster, opened)
        kubelet.start()
        zk = cluster.zookeeper.connect
        jobs = lambda name: run_job(sasl, name, kafka_tools, api, sa, zk, kubelet)  # noqa: E731

        stored = run_scram_users_job(sasl, kafka_tools, zk, tmp_path / "users")
        assert stored.returncode == 0, stored.stdout + stored.stderr
        if brokers == 1:      # the drain before the StatefulSet logs in already; the open brokers have no SCRAM yet
            admin = write_client_config(tmp_path / "admin", user_secret(sasl, "admin"))
            drained = run_job_script(by_name(sasl, "Job", "kafka-drain"), kafka_tools, {"ZOOKEEPER_CONNECT": zk, "KAFKA_CLIENT_CONFIG": str(admin)})
            assert drained.returncode == 0 and "move to authentication in this up: nothing to drain" in drained.stdout, drained.stderr
        assert "run open: the move to authentication starts" in jobs(BEGIN_JOB) and api.phase() == "scram-added"
        kubelet.rolling_update(sasl)                                            # roll 1, the StatefulSet's own
        assert {phase for _, phase in kubelet.restarts} == {"scram-added"}
        if brokers == 3:
            interrupted_roll(sasl, kafka_tools, api, sa, zk, kubelet)          # killed after one broker: the next run resumes
        jobs(ROLL_JOB)
        assert api.phase() == "inter-broker-scram"
        assert all(b.props["inter.broker.listener.name"] == "SCRAM" for b in cluster.brokers.values())
        # The clients switch (they wait for kafka-auth-roll): their rendered login works, PLAINTEXT still does.
        scram_client = client_config(sasl, CLIENT, cluster.scram_bootstrap())
        assert metadata_error(scram_client) is None and metadata_error({"bootstrap.servers": cluster.bootstrap_servers}) is None
        committed_open = load.stop()
        load = Producing(scram_client, "scram")
        load.start()
        jobs(FINISH_JOB)
        assert api.phase() == "scram-only"
        time.sleep(3)                                                           # a few transactions on the closed cluster
        committed = committed_open + load.stop()
        assert load.committed, f"no transaction committed over SCRAM ({load.failures} failed)"

        # Three rolls, each broker once per phase, highest ordinal first (the interrupted roll resumed, no broker twice).
        order = sorted(range(brokers), reverse=True)
        assert kubelet.restarts == [(b, phase) for phase in ("scram-added", "inter-broker-scram", "scram-only") for b in order]
        # Nothing to do: a second up's Jobs change nothing (no pod restarted).
        restarts = len(kubelet.restarts)
        for name in (BEGIN_JOB, ROLL_JOB, FINISH_JOB):
            jobs(name)
        assert len(kubelet.restarts) == restarts and api.phase() == "scram-only"

        assert metadata_error({"bootstrap.servers": cluster.scram_bootstrap()}) is not None
        assert not any(port_open(b.port) for b in cluster.brokers.values())
        # The group resumes where it committed before; every committed record is there, the aborted one is not.
        assert consume(scram_client, "orders-reader", 3) == ["before-3", "before-4", "before-5"]
        read = consume(scram_client, f"fresh-{uuid.uuid4()}", 6 + len(committed), timeout=120)
        assert read[:6] == [f"before-{i}" for i in range(6)] and set(committed) <= set(read) and "aborted" not in read
    finally:
        if kubelet:
            kubelet.stop()
        api.stop()
        world.stop(kill=True)


def interrupted_roll(sasl, tools, api, sa, zookeeper_connect, kubelet) -> None:
    """kafka-auth-roll killed while its first broker restarts into inter-broker-scram."""
    process = job_process(sasl, ROLL_JOB, tools, api, sa, zookeeper_connect)
    try:
        wait_until(lambda: kubelet.check() or any(p == "inter-broker-scram" for _, p in kubelet.restarts), 300,
                   "kafka-auth-roll's first restart", interval=0.5)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(30)
    assert api.phase() == "inter-broker-scram"


def missing_binaries_on(path: str) -> list[str]:
    return [b for b in ("etcd", "kube-apiserver", "kubectl") if not shutil.which(b, path=path)]


def start_phased_cluster(world: KafkaWorld, rendered, brokers: int) -> PhasedKafkaCluster:
    def one_member(values):
        values.setdefault("msa:kafka", {}).update(brokers=brokers, zookeeperReplicas=1)
    ensemble = world.zookeeper(1, "dev", one_member)
    cluster = PhasedKafkaCluster(world.root / "kafka-phased", world.tools, resolved_pod_env(rendered), ensemble)
    cluster.scram_ports = {}
    world._started.append(cluster)
    return start_brokers(cluster, rendered, brokers)
