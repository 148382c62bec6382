# Shared by the Kafka admin Jobs (kafka-drain.sh, kafka-rebalance.sh); runs in the cp-kafka image.
# Inputs (env): BOOTSTRAP_SERVERS, TARGET_BROKERS, TIMEOUT_SECONDS, MSA_PLANNER; ZooKeeper mode:
# ZOOKEEPER_CONNECT; KRaft (METADATA=kraft): FIRST_BROKER_HOST. Everything else goes through
# --bootstrap-server and works in both modes. KAFKA_CLIENT_CONFIG (the admin user's client.properties)
# when the cluster authenticates its clients.
set -euo pipefail
JOB=${JOB:-kafka-admin}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
DEADLINE=$(( $(date +%s) + ${TIMEOUT_SECONDS:-1200} ))

# One line on failure: in the log, and as the pod's termination message (kubectl describe, Job events).
fail() {
  echo "$JOB: $*" >&2
  { echo "$JOB: $*" >/dev/termination-log; } 2>/dev/null || true
  exit 1
}

log() { echo "$JOB: $*"; }

# A tool call that must answer within a bound (a JVM per call: keep them few).
tool() { timeout 180 "$@"; }

if [ -n "${KAFKA_CLIENT_CONFIG:-}" ] && [ ! -r "$KAFKA_CLIENT_CONFIG" ]; then
  fail "cannot read the Kafka admin user's credentials at $KAFKA_CLIENT_CONFIG (its Secret kafka-user-admin-* is not mounted)"
fi

# kafka_tool TOOL ARGS...: a Kafka tool against the cluster, logged in as the admin user when the
# cluster authenticates (kafka-leader-election spells --command-config as --admin.config).
kafka_tool() {
  local name=$1 auth=()
  shift
  if [ -n "${KAFKA_CLIENT_CONFIG:-}" ]; then
    if [ "$name" = kafka-leader-election ]; then auth=(--admin.config "$KAFKA_CLIENT_CONFIG"); else auth=(--command-config "$KAFKA_CLIENT_CONFIG"); fi
  fi
  tool "$name" --bootstrap-server "$BOOTSTRAP_SERVERS" ${auth[@]+"${auth[@]}"} "$@"
}

# why_failed FILE: the line of a tool's output that says why it failed; a refused login first, wherever
# it is (the tools print it amid a stack trace), else the last line.
why_failed() {
  grep -m1 -E 'SaslAuthenticationException|Authentication failed|IllegalSaslStateException|UnsupportedSaslMechanism' "$1" ||
    grep -v '^\s*$' "$1" | tail -n 1
}

# zookeeper-shell prints "Node does not exist" and exits 1 for a missing znode.
zk_get() { tool zookeeper-shell "$ZOOKEEPER_CONNECT" get "$1" >"$WORK/zk.out" 2>"$WORK/zk.err"; }

METADATA=${METADATA:-zookeeper}

kafka_ever_ran() {
  if [ "$METADATA" = kraft ]; then
    # KRaft has no store outside the brokers and controllers: a broker pod that never existed has no
    # DNS name (the headless Service publishes pods that are not ready too).
    python3 -c 'import socket,sys; socket.getaddrinfo(sys.argv[1], None)' "$FIRST_BROKER_HOST" 2>/dev/null
    return
  fi
  if zk_get /cluster/id; then return 0; fi
  grep -q "Node does not exist" "$WORK/zk.err" && return 1
  fail "ZooKeeper at $ZOOKEEPER_CONNECT did not answer ($(tail -n 1 "$WORK/zk.err")); check the zookeeper pods"
}

registered_brokers() {
  if [ "$METADATA" = kraft ]; then
    # The live (registered and unfenced) brokers, as the cluster's metadata lists them. The tool gives up
    # after a few seconds on a busy broker: three tries before "none".
    local try
    for try in 1 2 3; do
      kafka_tool kafka-broker-api-versions >"$WORK/ids.out" 2>"$WORK/ids.err" && break
      : >"$WORK/ids.out"
      [ "$try" = 3 ] || sleep 5
    done
    sed -n 's/^[^ ]* (id: \([0-9][0-9]*\) rack: .*/\1/p' "$WORK/ids.out" | sort -n | paste -sd, -
    return 0
  fi
  tool zookeeper-shell "$ZOOKEEPER_CONNECT" ls /brokers/ids >"$WORK/ids.out" 2>"$WORK/ids.err" || { echo ""; return 0; }
  python3 -c 'import sys; sys.path.insert(0, sys.argv[1]); import planner; print(",".join(map(str, planner.parse_broker_ids(sys.stdin.read()))))' \
    "$(dirname "$MSA_PLANNER")" <"$WORK/ids.out"
}

describe_topics() {
  kafka_tool kafka-topics --describe >"$WORK/describe.txt" 2>"$WORK/describe.err" ||
    fail "kafka-topics --describe failed: $(why_failed "$WORK/describe.err")"
}

# The topics' own settings: `kafka-topics --describe` also prints values a topic takes from the brokers
# (their static or cluster-wide min.insync.replicas), `kafka-configs` only the topic-level ones.
describe_topic_overrides() {
  kafka_tool kafka-configs --entity-type topics --describe >"$WORK/overrides.txt" 2>"$WORK/overrides.err" ||
    fail "kafka-configs --describe failed: $(why_failed "$WORK/overrides.err")"
}

# plan_field FIELD: one part of the planner's JSON answer ($WORK/plan.json).
plan_field() { python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))[sys.argv[2]]))' "$WORK/plan.json" "$1"; }

# plan_text FIELD: a text or number field of the plan as it is ("" for null).
plan_text() { python3 -c 'import json,sys; v=json.load(open(sys.argv[1]))[sys.argv[2]]; print("" if v is None else v)' "$WORK/plan.json" "$1"; }

# plan_errors: the planner's first refusal (and how many more), or nothing.
plan_errors() {
  python3 -c 'import json,sys; e=json.load(open(sys.argv[1]))["errors"]; print(e[0] + (" (+%d more)" % (len(e)-1) if len(e) > 1 else "") if e else "")' "$WORK/plan.json"
}

# apply_configs FIELD: topic -> {key: value} from the plan, one kafka-configs call per topic.
apply_configs() {
  python3 -c 'import json,sys
for topic, cfg in json.load(open(sys.argv[1]))[sys.argv[2]].items():
    print(topic + " " + ",".join(k + "=" + v for k, v in cfg.items()))' "$WORK/plan.json" "$1" >"$WORK/configs.txt"
  while read -r topic settings; do
    [ -n "$topic" ] || continue
    log "topic $topic: $settings"
    kafka_tool kafka-configs --entity-type topics --entity-name "$topic" \
      --alter --add-config "$settings" >/dev/null 2>"$WORK/configs.err" ||
      fail "could not set $settings on topic $topic: $(why_failed "$WORK/configs.err")"
  done <"$WORK/configs.txt"
}

# The broker-count change in progress (kafka_reassign.ChangeRecord's text): what the drain lowered and
# the cluster's default replication factor before the change, kept in ZooKeeper (next to Kafka's own
# state) from the drain to the rebalance, which restores it and removes the znode.
CHANGE_ZNODE=${CHANGE_ZNODE:-/msa-kafka-change}

# KRaft: the record is the last message of a one-partition compacted topic ("none" = no change).
CHANGE_TOPIC=${CHANGE_TOPIC:-msa-kafka-change}

read_change_topic() {
  kafka_tool kafka-topics --list >"$WORK/topics.out" 2>"$WORK/topics.err" ||
    fail "kafka-topics --list failed: $(tail -n 1 "$WORK/topics.err")"
  grep -qx "$CHANGE_TOPIC" "$WORK/topics.out" || return 0
  # Assigned, not subscribed: no consumer group (and no __consumer_offsets) is needed to read it.
  tool kafka-console-consumer --bootstrap-server "$BOOTSTRAP_SERVERS" ${KAFKA_CLIENT_CONFIG:+--consumer.config "$KAFKA_CLIENT_CONFIG"} \
    --topic "$CHANGE_TOPIC" --partition 0 --offset earliest \
    --consumer-property allow.auto.create.topics=false --timeout-ms 10000 >"$WORK/change.out" 2>"$WORK/change.err" || true
  grep '^v1;\|^none$' "$WORK/change.out" | tail -n 1 | grep '^v1;' || true
}

write_change_topic() {
  kafka_tool kafka-topics --create --if-not-exists --topic "$CHANGE_TOPIC" --partitions 1 \
    --config cleanup.policy=compact >/dev/null 2>"$WORK/topic.err" || fail "could not create the topic $CHANGE_TOPIC: $(tail -n 1 "$WORK/topic.err")"
  echo "change	${1:-none}" | tool kafka-console-producer --bootstrap-server "$BOOTSTRAP_SERVERS" --topic "$CHANGE_TOPIC" \
    ${KAFKA_CLIENT_CONFIG:+--producer.config "$KAFKA_CLIENT_CONFIG"} \
    --producer-property acks=all --property parse.key=true --property "key.separator=	" >"$WORK/zkw.out" 2>&1 || true
}

read_change() {
  if [ "$METADATA" = kraft ]; then read_change_topic; return 0; fi
  if zk_get "$CHANGE_ZNODE"; then
    grep -m1 '^v1;' "$WORK/zk.out" || true
    return 0
  fi
  cat "$WORK/zk.out" "$WORK/zk.err" | grep -q "Node does not exist" && return 0
  fail "could not read $CHANGE_ZNODE from ZooKeeper at $ZOOKEEPER_CONNECT: $(tail -n 1 "$WORK/zk.err")"
}

# write_change TEXT: store the record; an empty TEXT removes it.
write_change() {
  local text=$1
  if [ "$METADATA" = kraft ]; then
    [ "$(read_change)" != "$text" ] || return 0
    write_change_topic "$text"
  elif [ -z "$text" ]; then
    [ -n "$(read_change)" ] || return 0
    tool zookeeper-shell "$ZOOKEEPER_CONNECT" delete "$CHANGE_ZNODE" >"$WORK/zkw.out" 2>&1 || true
  else
    [ "$(read_change)" != "$text" ] || return 0
    tool zookeeper-shell "$ZOOKEEPER_CONNECT" set "$CHANGE_ZNODE" "$text" >"$WORK/zkw.out" 2>&1 || true
    if grep -q "Node does not exist" "$WORK/zkw.out"; then
      tool zookeeper-shell "$ZOOKEEPER_CONNECT" create "$CHANGE_ZNODE" "$text" >"$WORK/zkw.out" 2>&1 || true
    fi
  fi
  [ "$(read_change)" = "$text" ] ||
    fail "could not record the change ($METADATA: $CHANGE_ZNODE / $CHANGE_TOPIC): $(grep -v '^\s*$' "$WORK/zkw.out" | tail -n 1)"
}

# set_cluster_min_isr VALUE|"": the cluster-wide dynamic min.insync.replicas (overrides the brokers'
# static value, not a topic's own); "" removes it.
set_cluster_min_isr() {
  if [ -n "$1" ]; then
    kafka_tool kafka-configs --entity-type brokers --entity-default \
      --alter --add-config "min.insync.replicas=$1" >/dev/null 2>"$WORK/configs.err" ||
      fail "could not set the cluster-wide min.insync.replicas: $(why_failed "$WORK/configs.err")"
  else
    kafka_tool kafka-configs --entity-type brokers --entity-default \
      --alter --delete-config min.insync.replicas >/dev/null 2>"$WORK/configs.err" ||
      fail "could not remove the cluster-wide min.insync.replicas: $(why_failed "$WORK/configs.err")"
  fi
}

# Moves already running (a drain or rebalance stopped mid-way, or an operator's own) block a new
# `--execute` ("There is an existing partition assignment") and make `--describe` show replica sets
# in flux: wait until they have finished, bounded by TIMEOUT_SECONDS, before planning.
wait_for_running_moves() {
  local running logged=""
  while :; do
    kafka_tool kafka-reassign-partitions --list >"$WORK/list.out" 2>&1 ||
      fail "kafka-reassign-partitions --list failed: $(why_failed "$WORK/list.out")"
    running=$(grep -c ': replicas: ' "$WORK/list.out" || true)
    [ "$running" != 0 ] || return 0
    [ -n "$logged" ] || log "waiting for $running partition move(s) started earlier, e.g. $(grep -m1 ': replicas: ' "$WORK/list.out")"
    logged=yes
    [ "$(date +%s)" -lt "$DEADLINE" ] ||
      fail "$running partition move(s) started earlier still running after ${TIMEOUT_SECONDS}s, e.g. $(grep -m1 ': replicas: ' "$WORK/list.out"); check the brokers' replication (throttles: kafka-configs --describe) and run again"
    sleep 5
  done
}

# wait_in_sync: until no partition is under-replicated, bounded by TIMEOUT_SECONDS.
wait_in_sync() {
  while :; do
    kafka_tool kafka-topics --describe --under-replicated-partitions \
      >"$WORK/urp.txt" 2>"$WORK/urp.err" || fail "kafka-topics --describe failed: $(why_failed "$WORK/urp.err")"
    grep -q 'Partition:' "$WORK/urp.txt" || return 0
    [ "$(date +%s)" -lt "$DEADLINE" ] ||
      fail "$(grep -c 'Partition:' "$WORK/urp.txt") partition(s) still under-replicated after ${TIMEOUT_SECONDS}s, e.g. $(grep -m1 'Partition:' "$WORK/urp.txt" | tr -s ' \t' ' '); check the brokers and run again"
    sleep 5
  done
}

# reassign: execute the plan's reassignment and wait for it, bounded by TIMEOUT_SECONDS.
reassign() {
  plan_field reassignment >"$WORK/reassignment.json"
  local count
  count=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["partitions"]))' "$WORK/reassignment.json")
  if [ "$count" = 0 ]; then log "no partition to move"; return 0; fi
  log "moving $count partition(s)"
  kafka_tool kafka-reassign-partitions --execute \
    --reassignment-json-file "$WORK/reassignment.json" >"$WORK/execute.out" 2>&1 ||
    fail "kafka-reassign-partitions --execute failed: $(why_failed "$WORK/execute.out")"
  while :; do
    kafka_tool kafka-reassign-partitions --verify \
      --reassignment-json-file "$WORK/reassignment.json" >"$WORK/verify.out" 2>&1 || true
    if ! grep -q "still in progress" "$WORK/verify.out" && [ "$(grep -c 'is completed' "$WORK/verify.out")" = "$count" ]; then
      log "all $count partition(s) moved"
      return 0
    fi
    [ "$(date +%s)" -lt "$DEADLINE" ] ||
      fail "reassignment not finished within ${TIMEOUT_SECONDS}s: $(grep -v 'is completed' "$WORK/verify.out" | grep -m1 -E 'partition|Error' || echo unknown)"
    sleep 5
  done
}

# Write the planner (kafka_reassign.py, pure Python) where python3 finds it.
