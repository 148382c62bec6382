"""ZooKeeper's authentication in the integration harness (issue 17): the files of the Secrets the stack
renders (zookeeper-auth, kafka-zookeeper-login) and clients that log in as ZooKeeper's users.

The Secrets' content is a pure function of msa:kafkaAuthSecret (msa/kafka/zookeeper_auth.py); the
fixture stacks set it to conftest.TEST_AUTH_SECRET, and tests/kafka/test_zookeeper_auth.py proves that
the rendered Secrets hold exactly these files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from msa.kafka import zookeeper_auth
from msa.kafka.credentials import derived_password
from msa.names import ZOOKEEPER_SUPER_USER


def _seed() -> str:
    from conftest import TEST_AUTH_SECRET

    return TEST_AUTH_SECRET


def _write(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text)
        (folder / name).chmod(0o440)
    return folder


def server_auth_files(folder: Path) -> Path:
    """The zookeeper-auth Secret as its volume: super-password, super-digest, server-jaas.conf."""
    return _write(folder, zookeeper_auth.server_secret_data(_seed()))


def client_auth_files(folder: Path) -> Path:
    """The kafka-zookeeper-login Secret as its volume: client-jaas.conf (user kafka)."""
    return _write(folder, zookeeper_auth.client_secret_data(_seed()))


def password(user: str) -> str:
    return derived_password(_seed(), user)


def super_password() -> str:
    return password(ZOOKEEPER_SUPER_USER)


def kazoo(connect: str, auth: Optional[tuple[str, str]] = None):
    """A started kazoo client: anonymous, or logged in with digest `auth` (user, password)."""
    from kazoo.client import KazooClient

    client = KazooClient(hosts=connect, timeout=10, auth_data=[("digest", f"{auth[0]}:{auth[1]}")] if auth else None)
    client.start(timeout=20)
    return client


def ensemble_ids(connect: str) -> list[int]:
    """The server ids of the ensemble's dynamic config (/zookeeper/config), read anonymously: the members
    `reconfig` left in the ensemble."""
    client = kazoo(connect)
    try:
        text = client.get("/zookeeper/config")[0].decode()
        return sorted(int(line.split("=")[0].split(".")[1]) for line in text.splitlines() if line.startswith("server."))
    finally:
        client.stop()
        client.close()


def localize_login(kafka_opts: str, folder: Path) -> str:
    """A pod's KAFKA_OPTS with the kafka-zookeeper-login Secret's mount path replaced by `folder` holding its files."""
    return kafka_opts.replace(zookeeper_auth.CLIENT_AUTH_DIR, str(client_auth_files(folder)))
