"""The env -> properties translation of the cp-kafka and cp-zookeeper 7.9 images, for the test servers.

A test takes the env a StatefulSet renders and turns it into a properties file exactly like cp-kafka 7.9's
`kafka.properties.template` (`env_to_props` from confluent-docker-utils' dub.py) and cp-zookeeper 7.9's
`zookeeper.properties.template` do.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Mapping


def env_to_props(env: Mapping[str, str], env_prefix: str, prop_prefix: str, exclude=()) -> dict[str, str]:
    """confluent-docker-utils' dub.env_to_props: lower case, `_`->`.`, `__`->`_`, `___`->`-`."""
    single = re.compile("(?<=[^_])_(?=[^_])")
    props = {}
    for name, value in env.items():
        if name not in exclude and name.startswith(env_prefix):
            raw = name[len(env_prefix):].lower()
            dotted = ".".join(single.split(raw))
            props[prop_prefix + "_".join("-".join(dotted.split("___")).split("__"))] = value
    return props


# cp-kafka 7.9.x kafka.properties.template, verbatim, including its missing comma: Jinja joins
# 'KAFKA_HEAP_OPTS' 'KAFKA_LOG4J_OPTS' into one string, so neither is excluded and the broker sees
# `heap.opts=...` (an unknown key it ignores with a warning).
KAFKA_TEMPLATE_EXCLUDED = (
    "KAFKA_VERSION", "KAFKA_HEAP_OPTS" "KAFKA_LOG4J_OPTS", "KAFKA_OPTS", "KAFKA_JMX_OPTS",
    "KAFKA_JVM_PERFORMANCE_OPTS", "KAFKA_GC_LOG_OPTS", "KAFKA_LOG4J_ROOT_LOGLEVEL", "KAFKA_LOG4J_LOGGERS",
    "KAFKA_TOOLS_LOG4J_LOGLEVEL", "KAFKA_ZOOKEEPER_CLIENT_CNXN_SOCKET",
)


def kafka_properties_from_env(env: Mapping[str, str]) -> dict[str, str]:
    """server.properties as cp-kafka 7.9's configure + kafka.properties.template write it."""
    env = dict(env)
    for deprecated in ("KAFKA_PORT", "KAFKA_HOST", "KAFKA_ADVERTISED_PORT", "KAFKA_ADVERTISED_HOST"):
        if deprecated in env:   # configure exits: "port is deprecated. Please use KAFKA_ADVERTISED_LISTENERS instead."
            raise ValueError(f"cp-kafka refuses to start: {deprecated} is set")
    for required in ("KAFKA_ZOOKEEPER_CONNECT", "KAFKA_ADVERTISED_LISTENERS"):
        if required not in env:
            raise ValueError(f"cp-kafka refuses to start: {required} is required")
    env.setdefault("KAFKA_LOG_DIRS", "/var/lib/kafka/data")
    props = env_to_props(env, "KAFKA_", "", exclude=KAFKA_TEMPLATE_EXCLUDED)
    if "KAFKA_ZOOKEEPER_CLIENT_CNXN_SOCKET" in env:
        props["zookeeper.clientCnxnSocket"] = env["KAFKA_ZOOKEEPER_CLIENT_CNXN_SOCKET"]
    props.update(env_to_props(env, "CONFLUENT_SUPPORT_", "confluent.support."))
    return props


# cp-zookeeper 7.9.x zookeeper.properties.template: these variables, nothing else (no env_to_props).
ZOOKEEPER_TEMPLATE_PROPS = {
    "ZOOKEEPER_CLIENT_PORT": "clientPort", "ZOOKEEPER_TICK_TIME": "tickTime",
    "ZOOKEEPER_GLOBAL_OUTSTANDING_LIMIT": "globalOutstandingLimit", "ZOOKEEPER_PRE_ALLOC_SIZE": "preAllocSize",
    "ZOOKEEPER_SNAP_COUNT": "snapCount", "ZOOKEEPER_TRACE_FILE": "traceFile",
    "ZOOKEEPER_MAX_CLIENT_CNXNS": "maxClientCnxns", "ZOOKEEPER_CLIENT_PORT_ADDRESS": "clientPortAddress",
    "ZOOKEEPER_MIN_SESSION_TIMEOUT": "minSessionTimeout", "ZOOKEEPER_MAX_SESSION_TIMEOUT": "maxSessionTimeout",
    "ZOOKEEPER_FSYNC_WARNING_THRESHOLDMS": "fsync.warningthresholdms",
    "ZOOKEEPER_AUTOPURGE_SNAP_RETAIN_COUNT": "autopurge.snapRetainCount",
    "ZOOKEEPER_AUTOPURGE_PURGE_INTERVAL": "autopurge.purgeInterval", "ZOOKEEPER_SYNC_ENABLED": "syncEnabled",
    "ZOOKEEPER_ELECTION_ALG": "electionAlg", "ZOOKEEPER_INIT_LIMIT": "initLimit",
    "ZOOKEEPER_LEADER_SERVES": "leaderServes", "ZOOKEEPER_SYNC_LIMIT": "syncLimit",
    "ZOOKEEPER_CNX_TIMEOUT": "cnxTimeout", "ZOOKEEPER_FORCE_SYNC": "forceSync",
    "ZOOKEEPER_JUTE_MAX_BUFFER": "jute.maxbuffer", "ZOOKEEPER_SKIP_ACL": "skipACL",
    "ZOOKEEPER_QUORUM_LISTEN_ON_ALL_IPS": "quorumListenOnAllIPs",
    "ZOOKEEPER_CLIENT_CNXN_SOCKET": "clientCnxnSocket", "ZOOKEEPER_SECURE_CLIENT_PORT": "secureClientPort",
    "ZOOKEEPER_SERVER_CNXN_SOCKET": "serverCnxnSocket", "ZOOKEEPER_SERVER_CNXN_FACTORY": "serverCnxnFactory",
    "ZOOKEEPER_CLIENT_PORT_UNIFICATION": "client.portUnification",
    "ZOOKEEPER_ADMIN_ENABLE_SERVER": "admin.enableServer", "ZOOKEEPER_ADMIN_SERVER_ADDRESS": "admin.serverAddress",
    "ZOOKEEPER_ADMIN_SERVER_PORT": "admin.serverPort", "ZOOKEEPER_ADMIN_IDLE_TIMEOUT": "admin.idleTimeout",
    "ZOOKEEPER_ADMIN_COMMAND_URL": "admin.commandURL",
    "ZOOKEEPER_AUTH_PROVIDER_X509": "authProvider.x509", "ZOOKEEPER_AUTH_PROVIDER_SASL": "authProvider.sasl",
    "ZOOKEEPER_X509_AUTHENTICATION_PROVIDER_SUPER_USER": "X509AuthenticationProvider.superUser",
}


def zookeeper_properties_from_env(env: Mapping[str, str], data_dir: Path, log_dir: Path) -> dict[str, str]:
    """zookeeper.properties as cp-zookeeper 7.9's template writes it (data folders substituted)."""
    props = {"dataDir": str(data_dir), "dataLogDir": str(log_dir)}
    props.update({prop: env[var] for var, prop in ZOOKEEPER_TEMPLATE_PROPS.items() if var in env})
    for list_var, prefix in (("ZOOKEEPER_SERVERS", "server"), ("ZOOKEEPER_GROUPS", "group"), ("ZOOKEEPER_WEIGHTS", "weight")):
        if env.get(list_var):
            for index, item in enumerate(env[list_var].split(";"), start=1):
                props[f"{prefix}.{index}"] = item
    return props


def write_properties(path: Path, props: Mapping[str, str]) -> Path:
    path.write_text("".join(f"{k}={v}\n" for k, v in props.items()))
    return path
