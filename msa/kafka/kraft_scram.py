"""SCRAM users in KRaft mode (components): the brokers' own login and the kafka-scram-users Job.

ZooKeeper mode writes every user into ZooKeeper before a broker starts (scram.py). KRaft has no store
outside the quorum: `broker` and `admin` are written when the controllers format their storage
(kraft_auth.py), and the kafka-scram-users Job writes the others through the brokers as `admin`, so it
runs after the broker StatefulSet is ready, and the clients wait for it (KafkaCluster.clients_wait_for).
"""

from __future__ import annotations

from pathlib import Path

import pulumi
import pulumi_kubernetes as k8s

from .. import k8s as kx
from ..names import KafkaNames
from .client_auth import CLIENT_CONFIG, CLIENT_CONFIG_ENV, ClientSecret
from .kraft_auth import BOOTSTRAP_USERS, KraftLogin
from .scram import SCRAM_USERS_JOB, USERS_DIR, BrokerScram, broker_login, users_secret, users_volume

SCRIPT = Path(__file__).resolve().parent / "scripts" / "kafka-scram-users-kraft.sh"


def kraft_broker_scram(login: KraftLogin) -> BrokerScram:
    """The broker container's SCRAM login (the JAAS line and the probe's client.properties) from the broker
    user's Secret, which the format step reads too; the users Job comes after the brokers (kraft_users_job)."""
    broker = login.user_secrets["broker"]
    env, volumes, mounts = broker_login(broker, login.tls)
    return BrokerScram(env, volumes, mounts, None, login.waits_for)


def kraft_users(users: list[str]) -> list[str]:
    """The users the Job writes: every SCRAM user but those written at format time."""
    return [user for user in users if user not in BOOTSTRAP_USERS]


def kraft_users_job(users: list[str], names: KafkaNames, seed: pulumi.Input[str], image: kx.PodImage, admin: ClientSecret,
                    job_options: dict, opts: pulumi.ResourceOptions) -> k8s.batch.v1.Job:
    """The kafka-scram-users Job of a KRaft cluster; `opts` waits for the brokers."""
    ns, name = names.namespace, SCRAM_USERS_JOB
    secret = users_secret(name, ns, seed, kraft_users(users), opts)
    env = {"BOOTSTRAP_SERVERS": names.bootstrap_servers, CLIENT_CONFIG_ENV: CLIENT_CONFIG, "USERS_DIR": USERS_DIR}
    return kx.script_job(
        name, ns, "kafka-admin", image.ref, SCRIPT.read_text(), env, kx.waiting_for(opts, (secret, admin.secret)),
        timeout_seconds=300, volumes=(users_volume(secret), (admin.config_volume(), admin.config_mount())), **job_options,
    )
