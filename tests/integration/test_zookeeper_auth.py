"""ZooKeeper without an ACL bypass, on real servers (issue 17): only the super user reconfigures, a wrong
password is refused, and a cluster deployed open (skipACL, brokers without login) moves to brokers that
log in with SASL and own Kafka's znodes, with its topics and data kept.

Everything runs what the stack renders: the members' start script and env, the zookeeper-shrink and
zookeeper-acl-migration Jobs' scripts, the brokers' env (zookeeper_auth.zookeeper_client_env per phase);
the Secrets' files are those the stack renders for the test seed (integration/zookeeper_auth.py).
"""

import subprocess

import pytest

from conftest import by_name, run_stack
from integration.harness import wait_until
from integration.kafka_cluster import KafkaCluster
from integration.rendered import rendered_pod_env, rendered_workload, run_job_script
from integration.zookeeper_ensemble import ZooKeeperEnsemble
from integration.zookeeper_auth import client_auth_files, ensemble_ids, kazoo, super_password
from msa.kafka.zookeeper_auth import CLIENT_AUTH_DIR, client_jaas, zookeeper_client_env

pytestmark = pytest.mark.integration


def _size(members: int, brokers: int = 1, authentication: str = "none"):
    def edit(values):
        values["msa:kafka"].update(zookeeperReplicas=members, brokers=brokers, authentication=authentication)
    return edit


def _shell(tools, connect: str, commands: str, **env) -> str:
    """zookeeper-shell with `commands` on stdin (as zk_super feeds it); its whole output."""
    result = subprocess.run(["zookeeper-shell", connect], input=commands, env=tools.env(**env), capture_output=True, text=True, timeout=120)
    return result.stdout + result.stderr


def test_only_the_super_user_may_change_the_ensemble(kafka_tools, tmp_path):
    ensemble = ZooKeeperEnsemble(tmp_path / "zk", kafka_tools, rendered_workload("prod", "zookeeper", _size(3)))
    try:
        ensemble.start(3)
        for member in ensemble.members.values():
            assert "skipacl" not in (member.data / "zoo.cfg").read_text().lower()
        connect = ensemble.connect
        # Anonymous, and with a wrong super password: refused, the ensemble stays as it is.
        assert "Insufficient permission" in _shell(kafka_tools, connect, "reconfig -remove 3\n")
        assert "Insufficient permission" in _shell(kafka_tools, connect, "addauth digest super:wrong-password\nreconfig -remove 3\n")
        assert ensemble_ids(connect) == [1, 2, 3]

        # The rendered shrink Job (as super) records the size; nobody else may change that record.
        job = by_name(run_stack("prod", _size(3)), "Job", "zookeeper-shrink")
        done = run_job_script(job, kafka_tools, {"ZK_ENSEMBLE_CONNECT": connect, "ZK_AUTH_DIR": str(ensemble.auth_dir)}, timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "Insufficient permission" in _shell(kafka_tools, connect, "set /msa-zookeeper-size members=1\n")

        # The Job with a wrong password fails in one line and removes nobody.
        wrong = tmp_path / "wrong-auth"
        wrong.mkdir()
        (wrong / "super-password").write_text("not-the-password")
        shrink = by_name(run_stack("prod", _size(1)), "Job", "zookeeper-shrink")
        failed = run_job_script(shrink, kafka_tools, {"ZK_ENSEMBLE_CONNECT": connect, "ZK_AUTH_DIR": str(wrong)}, timeout=300)
        assert failed.returncode == 1 and failed.stderr.strip().startswith("zookeeper-shrink: could not record the target size")
        assert ensemble_ids(connect) == [1, 2, 3]
        # The real password shrinks it; it is never printed.
        done = run_job_script(shrink, kafka_tools, {"ZK_ENSEMBLE_CONNECT": connect, "ZK_AUTH_DIR": str(ensemble.auth_dir)}, timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr
        assert ensemble_ids(connect) == [1]
        assert super_password() not in done.stdout + done.stderr
    finally:
        ensemble.stop()


def test_a_wrong_kafka_password_is_refused(kafka_tools, tmp_path):
    ensemble = ZooKeeperEnsemble(tmp_path / "zk", kafka_tools, rendered_workload("prod", "zookeeper", _size(1)))
    try:
        ensemble.start(1)
        wrong = tmp_path / "wrong-jaas.conf"
        wrong.write_text(client_jaas("not-the-password"))
        out = _shell(kafka_tools, ensemble.connect, "ls /\n", KAFKA_OPTS=f"-Djava.security.auth.login.config={wrong}")
        assert "AuthFailed" in out or "SASL authentication failed" in out, out
        right = client_auth_files(tmp_path / "login") / "client-jaas.conf"
        out = _shell(kafka_tools, ensemble.connect, "ls /\n", KAFKA_OPTS=f"-Djava.security.auth.login.config={right}")
        assert "zookeeper" in out and "AuthFailed" not in out, out
    finally:
        ensemble.stop()


def _produce(cluster: KafkaCluster, topic: str, count: int) -> None:
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": cluster.bootstrap_servers, "acks": "all", "enable.idempotence": True})
    for i in range(count):
        producer.produce(topic, key=str(i).encode(), value=f"{topic}-{i}".encode())
    assert producer.flush(60) == 0


def _consume(cluster: KafkaCluster, topic: str, count: int) -> list:
    from confluent_kafka import Consumer

    consumer = Consumer({"bootstrap.servers": cluster.bootstrap_servers, "group.id": f"check-{topic}", "auto.offset.reset": "earliest"})
    consumer.subscribe([topic])
    values = []
    try:
        wait_until(lambda: _poll_into(consumer, values) >= count, 90, f"{count} records of {topic}")
    finally:
        consumer.close()
    return sorted(values, key=lambda v: int(v.rsplit("-", 1)[1]))


def _poll_into(consumer, values: list) -> int:
    for message in consumer.consume(num_messages=500, timeout=1):
        if not message.error():
            values.append(message.value().decode())
    return len(values)


def _create_topic(cluster: KafkaCluster, topic: str) -> None:
    from confluent_kafka.admin import NewTopic

    admin = cluster.admin()    # kept alive until the futures are done
    for future in admin.create_topics([NewTopic(topic, 3, 1)]).values():
        future.result(60)


def _anonymous_writes_refused(connect: str, topic: str) -> None:
    from kazoo.exceptions import NoAuthError

    client = kazoo(connect)
    try:
        assert client.get(f"/brokers/topics/{topic}")[0]      # readable, as Kafka's ACLs want
        for attempt in (lambda: client.set(f"/brokers/topics/{topic}", b"{}"),
                        lambda: client.delete(f"/config/topics/{topic}"),
                        lambda: client.create(f"/admin/delete_topics/{topic}"),
                        lambda: client.create("/brokers/ids/7", b"{}"),
                        lambda: client.set("/controller", b"{}")):
            with pytest.raises(NoAuthError):
                attempt()
        acls = client.get_acls(f"/brokers/topics/{topic}")[0]
        assert {(a.id.scheme, a.id.id) for a in acls} == {("sasl", "kafka"), ("world", "anyone")}
    finally:
        client.stop()
        client.close()


def test_an_open_cluster_moves_to_authenticated_zookeeper_with_its_data(kafka_tools, tmp_path):
    """The ensemble as the stack ran it before (ACLs bypassed, brokers without login), rolled member by
    member to the stack's ZooKeeper, then Kafka's order: brokers log in, brokers set ACLs, the migration
    Job secures the znodes created before. The records written first are all there at the end."""
    ensemble = ZooKeeperEnsemble(tmp_path / "zk", kafka_tools, rendered_workload("prod", "zookeeper", _size(1)))
    ensemble.pod_env["ZOOKEEPER_SKIP_ACL"] = "yes"    # the zoo.cfg the stack wrote before issue 17
    open_env = rendered_pod_env("prod", "kafka", _size(1))
    secure_env = rendered_pod_env("prod", "kafka", _size(1, authentication="sasl"))
    # The stack renders the secure phase's login for an authenticated cluster.
    assert zookeeper_client_env("secure").items() <= secure_env.items()
    cluster = None
    try:
        ensemble.start(1)
        assert "skipACL=yes" in (ensemble.members[0].data / "zoo.cfg").read_text()
        cluster = KafkaCluster(tmp_path / "kafka", kafka_tools, open_env, ensemble).start(1)
        cluster.wait_ready(0)
        _create_topic(cluster, "before")
        _produce(cluster, "before", 200)

        # The ZooKeeper roll (one member at a time; here the one member): no bypass any more.
        del ensemble.pod_env["ZOOKEEPER_SKIP_ACL"]
        ensemble.members[0].server.stop()
        ensemble.start_member(0)
        ensemble.wait_ready([0])
        assert "skipacl" not in (ensemble.members[0].data / "zoo.cfg").read_text().lower()
        cluster.wait_ready(0)

        for phase in ("login", "secure"):
            cluster.roll({**open_env, **zookeeper_client_env(phase)})
        assert cluster.brokers[0].props["zookeeper.set.acl"] == "true"
        assert CLIENT_AUTH_DIR not in cluster.brokers[0].server.env["KAFKA_OPTS"]   # the test's copy of the Secret

        job = by_name(run_stack("prod", _size(1, authentication="sasl")), "Job", "zookeeper-acl-migration")
        login = client_auth_files(tmp_path / "job-login")
        done = run_job_script(job, kafka_tools, {"ZOOKEEPER_CONNECT": ensemble.connect, "ZK_LOGIN_DIR": str(login)}, timeout=600)
        assert done.returncode == 0, done.stdout + done.stderr

        _anonymous_writes_refused(ensemble.connect, "before")
        assert _consume(cluster, "before", 200) == [f"before-{i}" for i in range(200)]
        # The brokers still own their metadata: a new topic, new records, a restart.
        _create_topic(cluster, "after")
        _produce(cluster, "after", 10)
        cluster.roll({**open_env, **zookeeper_client_env("secure")})
        assert _consume(cluster, "after", 10) == [f"after-{i}" for i in range(10)]
        _anonymous_writes_refused(ensemble.connect, "after")
    finally:
        if cluster:
            cluster.stop()
        ensemble.stop()
