#!/usr/bin/env bash
# Before the ZooKeeper StatefulSet changes to TARGET_MEMBERS: record the target size where the members'
# start script reads it (a removed member whose pod restarts before the StatefulSet deletes it must not
# join again; a member that comes back after a later grow must), then remove the members that go away
# from the ensemble, one at a time, with dynamic reconfiguration (the remaining members keep a quorum).
# Both as ZooKeeper's super user (zk_super): the size znode is readable by everyone, writable by super only.
# Inputs: ZK_ENSEMBLE_CONNECT, TARGET_MEMBERS, ZK_AUTH_DIR; ZK_SIZE_ZNODE (the start script's default).
set -euo pipefail
fail() { echo "zookeeper-shrink: $*" >&2; { echo "zookeeper-shrink: $*" >/dev/termination-log; } 2>/dev/null || true; exit 1; }
log() { echo "zookeeper-shrink: $*"; }
config() { reachable "$ZK_ENSEMBLE_CONNECT" || return 0; timeout 60 zookeeper-shell "$ZK_ENSEMBLE_CONNECT" config 2>/dev/null | grep -E '^server\.[0-9]+=' || true; }

current=$(config)
if [ -z "$current" ]; then
  log "no ZooKeeper ensemble answers at $ZK_ENSEMBLE_CONNECT (first deploy): nothing to remove"
  exit 0
fi
size_znode=${ZK_SIZE_ZNODE:-/msa-zookeeper-size}
out=$(zk_super "$ZK_ENSEMBLE_CONNECT" set "$size_znode" "members=$TARGET_MEMBERS" 2>&1 || true)
if grep -q "Node does not exist" <<<"$out"; then
  out=$(zk_super "$ZK_ENSEMBLE_CONNECT" create "$size_znode" "members=$TARGET_MEMBERS" world:anyone:r 2>&1 || true)
fi
# Also closes a znode an older stack created open (world:anyone:cdrwa).
zk_super "$ZK_ENSEMBLE_CONNECT" setAcl "$size_znode" world:anyone:r >/dev/null 2>&1 || true
timeout 60 zookeeper-shell "$ZK_ENSEMBLE_CONNECT" get "$size_znode" 2>/dev/null | grep -q "^members=$TARGET_MEMBERS\$" ||
  fail "could not record the target size in $size_znode: $(grep -v '^\s*$' <<<"$out" | tail -n 1)"
log "target size: $TARGET_MEMBERS members"
for id in $(sed -n 's/^server\.\([0-9]*\)=.*/\1/p' <<<"$current" | sort -rn); do
  [ "$id" -gt "$TARGET_MEMBERS" ] || continue
  log "removing member $id"
  out=$(zk_super "$ZK_ENSEMBLE_CONNECT" reconfig -remove "$id" 2>&1 || true)
  grep -q "Committed new configuration" <<<"$out" ||
    fail "reconfig -remove $id failed: $(grep -v '^\s*$' <<<"$out" | tail -n 1)"
done
log "ensemble: $(config | tr '\n' ' ')"
