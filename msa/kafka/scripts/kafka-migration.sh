#!/usr/bin/env bash
# The ZooKeeper -> KRaft migration's gates (KIP-866, Kafka 3.9), one per step of `msa:kafka.migration`.
# A Job runs it in the cp-kafka image (zookeeper-shell, kafka-broker-api-versions, python3); the
# integration tests run the very same text against real servers. Everything it reads is in ZooKeeper,
# which stays the source of truth until the migration is finalized:
#   /cluster/id   {"version":"1","id":"<cluster id>"}: the id the KRaft quorum must be formatted with
#   /migration    {"kraft_metadata_offset": N, ...}: written by the active KRaft controller; N > 0 once
#                 "Completed migration of metadata from ZooKeeper to KRaft" (KRaftMigrationDriver)
#   /brokers/ids  the brokers still running in ZooKeeper mode (ephemeral; a KRaft broker is not here)
# Inputs (env): STEP, ZOOKEEPER_CONNECT, TIMEOUT_SECONDS, and per step CLUSTER_ID, BOOTSTRAP_SERVERS,
# TARGET_BROKERS.
#   STEP=cluster-id  before the controllers start: CLUSTER_ID is ZooKeeper's cluster id
#   STEP=migrated    after the brokers rolled with migration settings: the metadata is in KRaft
#   STEP=kraft       after the brokers rolled to KRaft (and before the controllers leave migration
#                    mode): migrated, no broker left in ZooKeeper, TARGET_BROKERS brokers serve
set -euo pipefail
JOB=${JOB:-kafka-migration}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
DEADLINE=$(( $(date +%s) + ${TIMEOUT_SECONDS:-900} ))

fail() {
  echo "$JOB: $*" >&2
  { echo "$JOB: $*" >/dev/termination-log; } 2>/dev/null || true
  exit 1
}
log() { echo "$JOB: $*"; }

# zk_json PATH: the znode's JSON on stdout; "" when it does not exist; fails when ZooKeeper does not answer.
zk_json() {
  if timeout 120 zookeeper-shell "$ZOOKEEPER_CONNECT" get "$1" >"$WORK/zk.out" 2>"$WORK/zk.err"; then
    grep '^{' "$WORK/zk.out" | tail -n 1
  elif grep -q "Node does not exist" "$WORK/zk.out" "$WORK/zk.err"; then
    echo ""
  else
    fail "ZooKeeper at $ZOOKEEPER_CONNECT did not answer ($(tail -n 1 "$WORK/zk.err")); check the zookeeper pods"
  fi
}

# json_field FIELD: a field of the JSON on stdin ("" when there is none).
json_field() { python3 -c 'import json,sys; t=sys.stdin.read().strip(); v=json.loads(t).get(sys.argv[1]) if t else None; print("" if v is None else v)' "$1"; }

zk_brokers() {
  timeout 120 zookeeper-shell "$ZOOKEEPER_CONNECT" ls /brokers/ids >"$WORK/ids.out" 2>&1 || true
  grep '^\[' "$WORK/ids.out" | tail -n 1 | tr -d '[] '
}

migrated_offset() { zk_json /migration | json_field kraft_metadata_offset; }

# Brokers that answer through the bootstrap address: the ids kafka-broker-api-versions lists.
serving_brokers() {
  timeout 120 kafka-broker-api-versions --bootstrap-server "$BOOTSTRAP_SERVERS" 2>/dev/null |
    sed -n 's/.*(id: \([0-9]*\) rack.*/\1/p' | sort -n | paste -sd, - || true
}

until_deadline() {  # until_deadline WHAT COMMAND...: run COMMAND every 5 s until it succeeds
  local what=$1; shift
  until "$@"; do
    [ "$(date +%s)" -lt "$DEADLINE" ] || fail "timed out after ${TIMEOUT_SECONDS:-900}s waiting for $what"
    sleep 5
  done
}

check_cluster_id() {
  local id
  id=$(zk_json /cluster/id | json_field id)
  [ -n "$id" ] || fail "ZooKeeper has no /cluster/id: no Kafka broker ever ran against it, there is nothing to migrate"
  [ "$id" = "$CLUSTER_ID" ] || fail "msa:kafka.clusterId is $CLUSTER_ID but the cluster in ZooKeeper is $id; set it: pulumi config set msa:kafka.clusterId $id"
  log "cluster id $id matches ZooKeeper"
}

is_migrated() { local offset; offset=$(migrated_offset); [ -n "$offset" ] && [ "$offset" -gt 0 ]; }

no_zookeeper_broker() {
  local left; left=$(zk_brokers)
  [ -z "$left" ] && return 0
  log "brokers still in ZooKeeper mode: $left"; return 1
}

all_serving() {
  local ids; ids=$(serving_brokers)
  [ "$ids" = "$(seq -s, 0 $(( TARGET_BROKERS - 1 )))" ] && return 0
  log "brokers serving: ${ids:-none} (want 0..$(( TARGET_BROKERS - 1 )))"; return 1
}

case "${STEP:?}" in
  cluster-id)
    check_cluster_id ;;
  migrated)
    until_deadline "the controllers to copy the metadata from ZooKeeper (every broker must run with migration settings; the active controller logs 'Still waiting for ZK brokers ...' meanwhile)" is_migrated
    log "metadata migrated to KRaft (/migration: $(zk_json /migration))" ;;
  kraft)
    is_migrated || fail "the metadata was never migrated to KRaft: run the step msa:kafka.migration: migrate first"
    until_deadline "every broker to leave ZooKeeper mode" no_zookeeper_broker
    until_deadline "$TARGET_BROKERS KRaft brokers to serve" all_serving
    log "all $TARGET_BROKERS brokers run in KRaft mode" ;;
  *)
    fail "unknown STEP=$STEP" ;;
esac
