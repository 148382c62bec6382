"""ZooKeeper ensemble changes on real servers, through the scripts the pods and the zookeeper-shrink Job run.

1 (the old standalone server, as the stack rendered it before) -> 1 reconfig-capable member on the
same data -> 3 -> 5 -> 3 -> 1, then a restart: after every step each znode written before is there
on every member and exactly one member leads. The StatefulSet controller is played by the test
(start the new ordinals at once, as podManagementPolicy Parallel does; stop the removed ones).
"""

import subprocess

import pytest

from conftest import by_name, run_stack
from integration.cp_properties import write_properties, zookeeper_properties_from_env
from integration.harness import free_port, wait_until
from integration.jvm_tools import SERVER_HEAP, Server
from integration.rendered import rendered_workload, run_job_script
from integration.zookeeper_ensemble import ZooKeeperEnsemble
from integration.zookeeper_auth import ensemble_ids

pytestmark = pytest.mark.integration


def _with_members(n):
    return lambda values: values["msa:kafka"].update(zookeeperReplicas=n)


def _znodes_everywhere(ensemble, written: dict) -> None:
    from kazoo.client import KazooClient

    for member in ensemble.members.values():
        client = KazooClient(hosts=member.connect, timeout=10)
        client.start(timeout=15)
        try:
            client.sync("/")
            for path, data in written.items():
                assert client.get(path)[0] == data, (member.ordinal, path)
        finally:
            client.stop()
            client.close()


def _write(ensemble, written: dict, step: str) -> None:
    from kazoo.client import KazooClient

    client = KazooClient(hosts=ensemble.connect, timeout=10)
    client.start(timeout=15)
    try:
        for i in range(20):
            path = f"/msa/{step}/node-{i}"
            client.create(path, f"{step}-{i}".encode(), makepath=True)
            written[path] = f"{step}-{i}".encode()
    finally:
        client.stop()
        client.close()


def _check(ensemble, written, members: int) -> None:
    ensemble.wait_ready(range(members))
    assert sorted(ensemble.members) == list(range(members))
    wait_until(lambda: len(ensemble.leaders()) == 1, 30, "exactly one leader")
    modes = sorted(m.mode for m in ensemble.members.values())
    assert modes == sorted(["leader"] + ["follower"] * (members - 1)), modes
    _znodes_everywhere(ensemble, written)


def _legacy_standalone(ensemble: ZooKeeperEnsemble, tools) -> tuple:
    """Member 0 as the stack started it before: cp-zookeeper's `run` with ZOOKEEPER_SERVER_ID=1 and
    no ZOOKEEPER_SERVERS, i.e. a standalone server, on the volume the new script then finds."""
    member = ensemble.new_member(0)
    env = {k: v for k, v in ensemble.pod_env.items() if not k.startswith("ZK_") and k != "ZOOKEEPER_QUORUM_LISTEN_ON_ALL_IPS"}
    env.update(ZOOKEEPER_CLIENT_PORT=str(member.client_port), ZOOKEEPER_ADMIN_SERVER_ADDRESS="127.0.0.1",
               ZOOKEEPER_ADMIN_SERVER_PORT=str(free_port()))
    log_dir = member.root / "log"
    member.data.mkdir(parents=True)
    log_dir.mkdir()
    (member.data / "myid").write_text("1\n")
    props = write_properties(member.root / "legacy.properties", zookeeper_properties_from_env(env, member.data, log_dir))
    server = Server("zookeeper-0-legacy", ["zookeeper-server-start", str(props)], member.root, tools.env(KAFKA_HEAP_OPTS=SERVER_HEAP))
    server.start()
    wait_until(lambda: member.mode == "standalone", 60, "the legacy standalone server")
    return member, server


def test_one_three_five_three_one_keeps_every_znode_and_one_leader(kafka_tools, tmp_path):
    ensemble = ZooKeeperEnsemble(tmp_path / "zk", kafka_tools, rendered_workload("prod", "zookeeper", _with_members(1)))
    legacy = None
    try:
        written: dict = {}
        member, legacy = _legacy_standalone(ensemble, kafka_tools)
        _write(ensemble, written, "standalone")
        legacy.stop()

        # The dev stack moves over: the same volume, now started by the reconfig-capable script.
        ensemble.start_member(0)
        _check(ensemble, written, 1)
        _write(ensemble, written, "one")

        for size in (3, 5):
            statefulset = rendered_workload("prod", "zookeeper", _with_members(size))
            # The StatefulSet's pod template does not change with the size: no member restarts.
            assert statefulset["spec"]["template"] == rendered_workload("prod", "zookeeper", _with_members(1))["spec"]["template"]
            ensemble.scale_up(size)
            _check(ensemble, written, size)
            _write(ensemble, written, f"grown-{size}")

        for size in (3, 1):
            shrink = by_name(run_stack("prod", _with_members(size)), "Job", "zookeeper-shrink")
            done = run_job_script(shrink, kafka_tools, {"ZK_ENSEMBLE_CONNECT": ensemble.connect, "ZK_AUTH_DIR": str(ensemble.auth_dir)},
                                  timeout=300)
            assert done.returncode == 0, done.stdout + done.stderr
            for ordinal in sorted(ensemble.members, reverse=True):
                if ordinal >= size:
                    ensemble.remove_member(ordinal)
            _check(ensemble, written, size)
            _write(ensemble, written, f"shrunk-{size}")

        # A restart (a roll) comes back from the member's own dynamic config.
        ensemble.members[0].server.stop()
        ensemble.start_member(0)
        _check(ensemble, written, 1)
    finally:
        if legacy:
            legacy.stop()
        ensemble.stop()


def _resize_job(ensemble, tools, size: int) -> str:
    """The zookeeper-shrink Job of a stack with `size` members, against the running members."""
    shrink = by_name(run_stack("prod", _with_members(size)), "Job", "zookeeper-shrink")
    running = ",".join(m.connect for m in ensemble.members.values() if m.server and m.server.running)
    done = run_job_script(shrink, tools, {"ZK_ENSEMBLE_CONNECT": running, "ZK_AUTH_DIR": str(ensemble.auth_dir)}, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_three_one_three_on_kept_volumes_brings_the_removed_members_back(kafka_tools, tmp_path):
    """3 -> 1 -> 3 with the volumes kept, one member down during the shrink: the members that come back
    (one removed while running, one whose volume still lists the old ensemble) rejoin as new members;
    a removed member restarting before its pod is deleted does not join again."""
    ensemble = ZooKeeperEnsemble(tmp_path / "zk", kafka_tools, rendered_workload("prod", "zookeeper", _with_members(3)))
    try:
        written: dict = {}
        ensemble.start(3)
        _check(ensemble, written, 3)
        _write(ensemble, written, "three")

        # Member 3 (ordinal 2) is down while the ensemble shrinks: its volume keeps the 3-member config.
        ensemble.members[2].server.stop()
        assert "removing member 2" in _resize_job(ensemble, kafka_tools, 1)
        assert ensemble_ids(ensemble.members[0].connect) == [1]
        # Member 2's pod restarts before the StatefulSet deletes it: it must not undo the shrink.
        ensemble.members[1].server.stop()
        ensemble.start_member(1)
        wait_until(lambda: "not joining" in ensemble.members[1].server.log_path.read_text(), 60, "member 2 to hold back")
        assert ensemble_ids(ensemble.members[0].connect) == [1] and not ensemble.ready(ensemble.members[1])
        for ordinal in (2, 1):
            ensemble.remove_member(ordinal)
        _check(ensemble, written, 1)
        _write(ensemble, written, "one")

        # Back to 3 on the same volumes (and addresses): the Job records the size, both pods start at once.
        for ordinal in (1, 2):
            assert (ensemble.removed[ordinal].data / "version-2").is_dir()
        _resize_job(ensemble, kafka_tools, 3)
        ensemble.scale_up(3)
        _check(ensemble, written, 3)
        assert ensemble_ids(ensemble.members[0].connect) == [1, 2, 3]
        logs = {o: ensemble.members[o].server.log_path.read_text() for o in (1, 2)}
        assert all("joining it as a new member" in text for text in logs.values()), logs
        assert "My id" not in logs[1] + logs[2]
        _write(ensemble, written, "three-again")

        # And a roll after that restarts each member from its own (now current) config.
        ensemble.members[2].server.stop()
        ensemble.start_member(2)
        _check(ensemble, written, 3)
    finally:
        ensemble.stop()


def test_first_deploy_shrink_job_does_nothing(kafka_tools):
    shrink = by_name(run_stack("prod", _with_members(1)), "Job", "zookeeper-shrink")
    done = run_job_script(shrink, kafka_tools, {"ZK_ENSEMBLE_CONNECT": f"127.0.0.1:{free_port()}"}, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "first deploy" in done.stdout


def test_readiness_probe_starts_no_jvm(kafka_tools, tmp_path):
    ensemble = ZooKeeperEnsemble(tmp_path / "zk", kafka_tools, rendered_workload("prod", "zookeeper"))
    assert "zookeeper-shell" not in ensemble.ready_script and "java" not in ensemble.ready_script
    member = ensemble.new_member(0)
    result = subprocess.run(["bash", "-c", ensemble.ready_script], env=kafka_tools.env(**ensemble.member_env(member, "")),
                            capture_output=True, text=True, timeout=10)
    assert result.returncode == 1 and "not serving" in result.stdout
