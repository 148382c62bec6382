#!/usr/bin/env bash
# After every broker runs with zookeeper.set.acl=true: give the znodes Kafka created before (open, on a
# cluster that ran without authentication) the ACLs the brokers now set on new ones: writable by the
# brokers' SASL user only, readable by everyone but Kafka's credentials (Kafka's ZkSecurityMigrator,
# `zookeeper-security-migration --zookeeper.acl=secure`). Idempotent: on secured znodes it changes nothing.
# It logs in as the brokers do (the JAAS file in ZK_LOGIN_DIR): the new ACLs name the identity that sets them.
# Inputs: ZOOKEEPER_CONNECT, ZK_LOGIN_DIR.
set -euo pipefail
fail() { echo "zookeeper-acl-migration: $*" >&2; { echo "zookeeper-acl-migration: $*" >/dev/termination-log; } 2>/dev/null || true; exit 1; }
export KAFKA_OPTS="${KAFKA_OPTS:-} -Djava.security.auth.login.config=${ZK_LOGIN_DIR:?}/client-jaas.conf"
out=$(timeout 900 zookeeper-security-migration --zookeeper.acl=secure --zookeeper.connect "$ZOOKEEPER_CONNECT" 2>&1) ||
  fail "zookeeper-security-migration failed: $(grep -v '^\s*$' <<<"$out" | grep -iv password | tail -n 1)"
echo "zookeeper-acl-migration: Kafka's znodes are writable by the brokers only"
