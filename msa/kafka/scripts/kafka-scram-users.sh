#!/usr/bin/env bash
# The kafka-scram-users Job: every SCRAM-SHA-512 user of the stack with its current password, in
# ZooKeeper (where ZooKeeper-mode brokers read SCRAM credentials), before any broker needs them.
# `kafka-configs --zookeeper` is Kafka 3.9's documented way to bootstrap SCRAM users (it needs no broker:
# on a new cluster none runs yet, and the brokers' own login is one of these users). Re-running is safe:
# --add-config replaces a user's credential, so a changed password (a new msa:kafkaAuthSecret) is
# written over the old one; unchanged users are written again with a new salt, which clients never see.
# On a running open cluster (brokers registered without a SCRAM endpoint: this up moves it to SCRAM,
# msa/kafka/auth_roll.py) it writes without its ZooKeeper login: a credential written logged in gets
# an ACL for `kafka` alone, and brokers that have no login yet would fail to read the change notification
# of it. The zookeeper-acl-migration Job secures these znodes once every broker logs in.
# Inputs (env): ZOOKEEPER_CONNECT, USERS_DIR (one file per user, named after it, holding its password),
# KAFKA_OPTS (optional: the JAAS file of the ZooKeeper login).
set -euo pipefail
JOB=kafka-scram-users
fail() {
  echo "$JOB: $*" >&2
  { echo "$JOB: $*" >/dev/termination-log; } 2>/dev/null || true
  exit 1
}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
# open_brokers: the ids of the registered brokers without a SCRAM endpoint (none on a new cluster).
open_brokers() {
  timeout 180 zookeeper-shell "$ZOOKEEPER_CONNECT" ls /brokers/ids >"$WORK/ids" 2>&1 || true
  local id
  for id in $(grep -E '^\[[0-9, ]*\]$' "$WORK/ids" | tr -d '[],'); do
    timeout 180 zookeeper-shell "$ZOOKEEPER_CONNECT" get "/brokers/ids/$id" >"$WORK/broker" 2>&1 || true
    if grep -q '"endpoints"' "$WORK/broker" && ! grep -q '"SCRAM://' "$WORK/broker"; then echo "$id"; fi
  done
}

if [ -n "${KAFKA_OPTS:-}" ]; then
  still_open=$(open_brokers | tr '\n' ' ')
  if [ -n "$still_open" ]; then
    echo "$JOB: broker(s) ${still_open% } run open: the credentials are written without the ZooKeeper login (secured after the brokers' roll)"
    unset KAFKA_OPTS
  fi
fi

count=0
for file in "$USERS_DIR"/*; do
  [ -f "$file" ] || continue
  user=$(basename "$file")
  password=$(cat "$file")
  [ -n "$password" ] || fail "the password file of user $user is empty (Secret $USERS_DIR)"
  # The password goes on the command line of a JVM in this Job's own pod only (its process namespace).
  timeout 180 kafka-configs --zookeeper "$ZOOKEEPER_CONNECT" --alter --entity-type users --entity-name "$user" \
    --add-config "SCRAM-SHA-512=[password=$password]" >"$WORK/out" 2>&1 ||
    fail "could not store the SCRAM credential of user $user in ZooKeeper at $ZOOKEEPER_CONNECT: $(grep -v '^\s*$' "$WORK/out" | grep -v "$password" | tail -n 1)"
  count=$((count + 1))
done
[ "$count" -gt 0 ] || fail "no user in $USERS_DIR"
echo "$JOB: $count SCRAM-SHA-512 user(s) stored in ZooKeeper"
