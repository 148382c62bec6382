"""The brokers' listeners in each phase of authentication (pure): what cp-kafka's env says about
listeners, inter-broker traffic and SASL, and how a broker picks its phase when its pod starts.

An open cluster (msa:kafka.authentication: none) has one PLAINTEXT listener. An authenticated one has
one SCRAM listener (SASL/SCRAM-SHA-512, msa.names), for clients and between brokers, and the brokers
log in to each other as the `broker` user. A running open cluster gets there the way Kafka documents
(docs "Incorporating Security Features in a Running Cluster"), one roll per step, because every broker
must be able to reach every other over the inter-broker listener at all times:

  open                PLAINTEXT                 inter-broker PLAINTEXT
  scram-added         PLAINTEXT + SCRAM         inter-broker PLAINTEXT   (clients can switch now)
  inter-broker-scram  PLAINTEXT + SCRAM         inter-broker SCRAM       (every broker has SCRAM)
  scram-only          SCRAM                     inter-broker SCRAM       (nobody uses PLAINTEXT)

Merging two neighbouring steps breaks the roll: a broker that already talks SCRAM to its peers cannot
reach one that has no SCRAM listener yet, and one that still talks PLAINTEXT cannot reach one whose
PLAINTEXT listener is gone (the controller's requests included).

All the rolls happen in one `pulumi up` (auth_roll.py), so the phase is not rendered: an authenticated
StatefulSet carries the variables of every sasl phase as `MSA_AUTH_<PHASE>__<VARIABLE>` and its start
command (`phase_start`) exports those of the phase the ConfigMap `kafka-auth-phase` names (mounted
optional; absent or unknown -> scram-only, a new cluster's only phase). The spec is the same in every
phase: Pulumi sees no drift while the Jobs move the ConfigMap on and restart the brokers.

The broker's own password (its JAAS line) is never a value here: `BROKER_JAAS_ENV` is filled by the
kubelet from the broker user's Secret (secretKeyRef).
"""

from __future__ import annotations

from ..names import KAFKA_PLAINTEXT_LISTENER, KAFKA_PORT, KAFKA_SCRAM_LISTENER, KAFKA_SCRAM_MECHANISM, KAFKA_SCRAM_PORT, KafkaNames

OPEN, SCRAM_ADDED, INTER_BROKER_SCRAM, SCRAM_ONLY = "open", "scram-added", "inter-broker-scram", "scram-only"
PHASES = (OPEN, SCRAM_ADDED, INTER_BROKER_SCRAM, SCRAM_ONLY)


def _env_name(prop: str) -> str:
    # settings.kafka_env_name, repeated here: settings imports this module.
    return "KAFKA_" + prop.replace("_", "__").replace("-", "___").replace(".", "_").upper()


# listener.name.scram.scram-sha-512.sasl.jaas.config: the SCRAM listener's login module; its username and
# password are what the broker logs in with to its peers (the server side checks ZooKeeper's credentials).
BROKER_JAAS_ENV = _env_name(f"listener.name.{KAFKA_SCRAM_LISTENER.lower()}.{KAFKA_SCRAM_MECHANISM.lower()}.sasl.jaas.config")
# The listener variables every phase but `open` sets (each sasl phase has its own values: phase_vars).
LISTENER_VARS = (
    "KAFKA_LISTENERS", "KAFKA_ADVERTISED_LISTENERS", "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP", "KAFKA_INTER_BROKER_LISTENER_NAME",
    "KAFKA_SASL_ENABLED_MECHANISMS", "KAFKA_SASL_MECHANISM_INTER_BROKER_PROTOCOL",
)


def listener_env(phase: str, names: KafkaNames, pod_name: str = "$(POD_NAME)", tls: bool = False) -> dict[str, str]:
    """The listener variables of `phase` (PHASES). `pod_name`: the kubelet expands $(POD_NAME) from the
    env var declared before these. `tls`: the SCRAM listener runs SASL_SSL."""
    if phase not in PHASES:
        raise ValueError(f"unknown authentication phase {phase!r} (one of {', '.join(PHASES)})")
    plain = (f"{KAFKA_PLAINTEXT_LISTENER}://0.0.0.0:{KAFKA_PORT}", names.broker_advertised_listener(pod_name, KAFKA_PLAINTEXT_LISTENER))
    scram = (f"{KAFKA_SCRAM_LISTENER}://0.0.0.0:{KAFKA_SCRAM_PORT}", names.broker_advertised_listener(pod_name, KAFKA_SCRAM_LISTENER))
    if phase == OPEN:
        return {"KAFKA_LISTENERS": plain[0], "KAFKA_ADVERTISED_LISTENERS": plain[1]}
    listeners = [scram] if phase == SCRAM_ONLY else [plain, scram]
    return {
        "KAFKA_LISTENERS": ",".join(bind for bind, _ in listeners),
        "KAFKA_ADVERTISED_LISTENERS": ",".join(advertised for _, advertised in listeners),
        "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": f"{KAFKA_PLAINTEXT_LISTENER}:PLAINTEXT,{KAFKA_SCRAM_LISTENER}:{scram_protocol(tls)}",
        "KAFKA_INTER_BROKER_LISTENER_NAME": KAFKA_PLAINTEXT_LISTENER if phase == SCRAM_ADDED else KAFKA_SCRAM_LISTENER,
        "KAFKA_SASL_ENABLED_MECHANISMS": KAFKA_SCRAM_MECHANISM,
        "KAFKA_SASL_MECHANISM_INTER_BROKER_PROTOCOL": KAFKA_SCRAM_MECHANISM,
    }


def scram_protocol(tls: bool = False) -> str:
    return "SASL_SSL" if tls else "SASL_PLAINTEXT"


def phase_of(env: dict[str, str]) -> str:
    """Which phase a broker env (the listener values a broker runs with) is in."""
    listeners = env.get("KAFKA_LISTENERS", "")
    has_scram = f"{KAFKA_SCRAM_LISTENER}://" in listeners
    has_plain = f"{KAFKA_PLAINTEXT_LISTENER}://" in listeners
    if not has_scram:
        return OPEN
    if not has_plain:
        return SCRAM_ONLY
    return INTER_BROKER_SCRAM if env.get("KAFKA_INTER_BROKER_LISTENER_NAME") == KAFKA_SCRAM_LISTENER else SCRAM_ADDED


def broker_phase(sasl: bool) -> str:
    """Where msa:kafka.authentication leads: the phase of a new cluster, the end of a running one's move."""
    return SCRAM_ONLY if sasl else OPEN


def probe_port(sasl: bool) -> int:
    """The port the brokers' probes use: the SCRAM listener exists in every sasl phase (with the broker's
    login), PLAINTEXT in an open cluster (no login)."""
    return KAFKA_SCRAM_PORT if sasl else KAFKA_PORT


# The brokers' ZooKeeper login (zookeeper_auth.PHASES) in each phase, Kafka's documented order for it
# folded into the same rolls: the login comes with the SCRAM listener (no znode gets ACLs yet, so brokers
# that still run open read everything), zookeeper.set.acl with the next roll, when every broker logs in;
# the ACL migration Job follows that roll (cluster.py).
ZOOKEEPER_PHASES = {OPEN: "open", SCRAM_ADDED: "login", INTER_BROKER_SCRAM: "secure", SCRAM_ONLY: "secure"}


def zookeeper_phase(phase: str) -> str:
    return ZOOKEEPER_PHASES[phase]


# --- the phase, chosen at pod start ----------------------------------------------------------------

SASL_PHASES = (SCRAM_ADDED, INTER_BROKER_SCRAM, SCRAM_ONLY)
PHASE_CONFIGMAP = "kafka-auth-phase"
PHASE_KEY = "phase"
PHASE_DIR = "/etc/msa/kafka-auth-phase"
# zookeeper.set.acl per phase (zookeeper_auth.py: the ZooKeeper login itself is the same in every sasl phase).
SET_ACL_ENV = "KAFKA_ZOOKEEPER_SET_ACL"
PHASE_VARS = (*LISTENER_VARS, SET_ACL_ENV)


def phase_var(phase: str, var: str) -> str:
    """The pod env variable holding `var`'s value in `phase`: MSA_AUTH_SCRAM_ADDED__KAFKA_LISTENERS."""
    return f"MSA_AUTH_{phase.upper().replace('-', '_')}__{var}"


def phase_vars(names: KafkaNames, tls: bool = False) -> dict[str, str]:
    """Every sasl phase's listener variables and zookeeper.set.acl, each under its phase_var name."""
    env = {}
    for phase in SASL_PHASES:
        values = {**listener_env(phase, names, tls=tls), SET_ACL_ENV: "false" if zookeeper_phase(phase) == "login" else "true"}
        env.update({phase_var(phase, var): values[var] for var in PHASE_VARS})
    return env


def phase_env(pod_env: dict[str, str], phase_file_text: "str | None") -> dict[str, str]:
    """What `phase_start` exports for a phase file's text (None: no file): the pure twin of the shell,
    for the tests and the docs. Unknown text -> scram-only, as the script."""
    phase = (phase_file_text or "").strip()
    phase = phase if phase in SASL_PHASES else SCRAM_ONLY
    return {var: pod_env[phase_var(phase, var)] for var in PHASE_VARS}


def phase_start(start: str) -> str:
    """`start` (the broker's start command) after exporting the variables of the mounted phase. The
    ConfigMap is read once, at start: a running broker keeps its phase until the roll restarts it."""
    cases = "|".join(SASL_PHASES)
    return (
        f'phase=$(cat {PHASE_DIR}/{PHASE_KEY} 2>/dev/null || true); '
        f'case "$phase" in {cases}) ;; *) phase={SCRAM_ONLY} ;; esac; '
        'prefix="MSA_AUTH_$(echo "$phase" | tr a-z- A-Z_)__"; '
        'for var in ' + " ".join(PHASE_VARS) + '; do ref="$prefix$var"; export "$var=${!ref}"; done; '
        'echo "kafka: authentication phase $phase"; '
        + start
    )
