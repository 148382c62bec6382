#!/usr/bin/env bash
# The kafka-scram-users Job in KRaft mode: every SCRAM-SHA-512 user of the stack besides the two the
# controllers wrote at format time (broker, admin: msa/kafka/kraft_auth.py), written through the brokers
# with AlterUserScramCredentials (KIP-554, `kafka-configs --bootstrap-server`), logged in as admin. KRaft
# keeps SCRAM credentials in its metadata log: there is no store to write them into before the quorum
# runs, so this Job runs after the brokers are ready and the clients wait for it. Re-running is safe:
# --add-config replaces a user's credential (a new salt, which clients never see).
# Inputs (env): BOOTSTRAP_SERVERS, KAFKA_CLIENT_CONFIG (admin's client.properties), USERS_DIR (one file
# per user, named after it, holding its password).
set -euo pipefail
JOB=kafka-scram-users
fail() {
  echo "$JOB: $*" >&2
  { echo "$JOB: $*" >/dev/termination-log; } 2>/dev/null || true
  exit 1
}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
[ -r "$KAFKA_CLIENT_CONFIG" ] ||
  fail "cannot read the Kafka admin user's credentials at $KAFKA_CLIENT_CONFIG (its Secret kafka-user-admin-* is not mounted)"

count=0
for file in "$USERS_DIR"/*; do
  [ -f "$file" ] || continue
  user=$(basename "$file")
  password=$(cat "$file")
  [ -n "$password" ] || fail "the password file of user $user is empty (Secret $USERS_DIR)"
  # The password goes on the command line of a JVM in this Job's own pod only (its process namespace).
  timeout 180 kafka-configs --bootstrap-server "$BOOTSTRAP_SERVERS" --command-config "$KAFKA_CLIENT_CONFIG" --alter \
    --entity-type users --entity-name "$user" --add-config "SCRAM-SHA-512=[password=$password]" >"$WORK/out" 2>&1 ||
    fail "could not store the SCRAM credential of user $user through $BOOTSTRAP_SERVERS as admin: $(
      grep -m1 -E 'SaslAuthenticationException|Authentication failed' "$WORK/out" || grep -v '^\s*$' "$WORK/out" | grep -v "$password" | tail -n 1)"
  count=$((count + 1))
done
echo "$JOB: $count SCRAM-SHA-512 user(s) stored in the KRaft metadata (broker and admin: at format time)"
