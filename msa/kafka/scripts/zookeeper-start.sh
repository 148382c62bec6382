#!/usr/bin/env bash
# A ZooKeeper member's start (cp-zookeeper image), reconfig-capable from the first member on.
#
# Membership lives in a dynamic config file on the member's own volume (ZooKeeper rewrites it on
# every `reconfig`), never in the pod's env, so a new ensemble size does not restart anyone and new,
# empty members can never elect a leader among themselves:
# - a member restarts with its own file when that file lists it as a member and the running ensemble
#   (if one answers) lists it too;
# - otherwise it joins the running ensemble as a new member: it asks for the committed config,
#   syncs from the current leader as a non-voting follower, then `reconfig -add`s itself. Its own
#   file lists the committed members plus itself at weight 0, so every quorum it sees is a majority
#   of the old members. That covers a member whose volume is kept across a shrink: the ensemble
#   removed it (its file no longer lists it, or, if it was down during the shrink, still lists the
#   old, larger ensemble that no longer has it);
# - a member never joins while the zookeeper-shrink Job's target size (the znode $ZK_SIZE_ZNODE)
#   leaves it out: a removed member whose pod restarts before the StatefulSet deletes it waits;
# - only member 1 (ordinal 0) may start alone, and only when no ensemble answers and its volume has
#   no dynamic config: the first deploy, or the move from the old standalone server (its data stays).
# ZooKeeper's ACLs hold (no ACL bypass), and `reconfig -add` logs in as the super user (zk_super); the
# server gets the super user's digest and its SASL users (Kafka's brokers) from the Secret in ZK_AUTH_DIR.
# Inputs: HOSTNAME (<name>-<ordinal>), ZK_SELF_TEMPLATE (host:peer:election;clientPort, "{ordinal}"
# replaced), ZK_ENSEMBLE_CONNECT (the client Service), ZK_AUTH_DIR; cp-zookeeper's ZOOKEEPER_* settings.
set -euo pipefail
ZK_DATA=${ZK_DATA:-/var/lib/zookeeper/data}
ZK_CONFIGURE=${ZK_CONFIGURE:-/etc/confluent/docker/configure}
ZK_BASE_PROPS=${ZK_BASE_PROPS:-/etc/kafka/zookeeper.properties}
ZK_JOIN_TIMEOUT=${ZK_JOIN_TIMEOUT:-600}
ORDINAL=${HOSTNAME##*-}
export ZOOKEEPER_SERVER_ID=$((ORDINAL + 1))
MYID=$ZOOKEEPER_SERVER_ID
SELF=${ZK_SELF_TEMPLATE//\{ordinal\}/$ORDINAL}
PARTICIPANT="server.$MYID=${SELF%%;*}:participant;${SELF#*;}"
STATIC=$ZK_DATA/zoo.cfg
# Written by the zookeeper-shrink Job: "members=N", the size it shrinks (or grows) the ensemble to.
ZK_SIZE_ZNODE=${ZK_SIZE_ZNODE:-/msa-zookeeper-size}
log() { echo "zookeeper-start: member $MYID: $*" >&2; }

# cp-zookeeper's own configure: ZOOKEEPER_* -> $ZK_BASE_PROPS, myid, log4j (ZOOKEEPER_SERVERS is never set).
"$ZK_CONFIGURE"

write_static() {
  { grep -v -E '^(server\.|dynamicConfigFile|standaloneEnabled|reconfigEnabled)' "$ZK_BASE_PROPS" || true
    echo "standaloneEnabled=false"
    echo "reconfigEnabled=true"
    echo "dynamicConfigFile=$1"
  } >"$STATIC.tmp"
  mv "$STATIC.tmp" "$STATIC"
}

# The ensemble's committed config (server.N=... lines and version=...), or nothing.
ensemble_config() {
  reachable "$ZK_ENSEMBLE_CONNECT" || return 0
  timeout 30 zookeeper-shell "$ZK_ENSEMBLE_CONNECT" config 2>/dev/null | grep -E '^(server\.[0-9]+=|version=)' || true
}

# Whether a config (server.N=... lines) has this member as a participant.
lists_self() { grep -q "^server\.$MYID=.*:participant" <<<"$1"; }

# The ensemble size the zookeeper-shrink Job last aimed at, or nothing (never set, or no answer).
target_size() {
  timeout 30 zookeeper-shell "$ZK_ENSEMBLE_CONNECT" get "$ZK_SIZE_ZNODE" 2>/dev/null | sed -n 's/^members=\([0-9][0-9]*\)$/\1/p' | tail -n 1 || true
}

join=""
own=""
write=""
dynamic=$(sed -n 's/^dynamicConfigFile=//p' "$STATIC" 2>/dev/null | tail -n 1 || true)
if [ -n "$dynamic" ] && [ -f "$dynamic" ]; then
  own=$(grep -E '^server\.[0-9]+=' "$dynamic" || true)
fi
config=$(ensemble_config)
if [ -n "$own" ] && lists_self "$own" && ! grep -q "^weight\.$MYID=0" "$dynamic" &&
    { ! grep -q '^server\.' <<<"$config" || lists_self "$config"; }; then
  log "restarting with $(basename "$dynamic")"
else
  [ -z "$own" ] || log "$(basename "$dynamic") is not a member's config of the running ensemble: joining it as a new member"
  deadline=$(( $(date +%s) + ZK_JOIN_TIMEOUT ))
  while :; do
    if grep -q '^server\.' <<<"$config"; then
      size=$(target_size)
      if [ -n "$size" ] && [ "$MYID" -gt "$size" ]; then
        # Removed by the zookeeper-shrink Job: the StatefulSet deletes this pod next. Joining would undo the shrink.
        log "the ensemble's target size is $size: not joining, waiting (the StatefulSet removes this member)"
        sleep 10
        config=$(ensemble_config)
        continue
      fi
      version=$(sed -n 's/^version=//p' <<<"$config")
      servers=$(grep '^server\.' <<<"$config")
      if ! lists_self "$servers"; then
        # The committed members plus this one at weight 0 (a hierarchical quorum of one group): any
        # quorum of this view is a majority of the old members, so a joiner can only follow the current
        # leader, never elect one with other joiners. Once synced as a (non-voting) follower it is
        # added for real. (As an observer it would really observe, and observers do not count for the
        # new configuration's quorum; as a plain participant it could not join a one-member ensemble.)
        servers=$(grep -v "^server\.$MYID=" <<<"$servers" || true)
        ids=$(sed -n 's/^server\.\([0-9]*\)=.*:participant.*/\1/p' <<<"$servers" | tr '\n' ':')
        servers="$servers"$'\n'"$PARTICIPANT"$'\n'"group.1=$ids$MYID"
        for id in ${ids//:/ }; do servers="$servers"$'\n'"weight.$id=1"; done
        servers="$servers"$'\n'"weight.$MYID=0"
        join=yes
      fi
      log "joining the running ensemble (config version ${version:-0})"
      write=yes
      break
    fi
    if [ "$ORDINAL" = 0 ] && [ -z "$own" ]; then
      version=0
      servers=$PARTICIPANT
      log "no ensemble answers: starting as its first member$( [ -d "$ZK_DATA/version-2" ] && echo ', keeping the data already here')"
      write=yes
      break
    fi
    if [ -n "$own" ] && lists_self "$own" && ! grep -q "^weight\.$MYID=0" "$dynamic"; then
      # Its own file lists it and no ensemble answers: every member restarts at once (a node reboot).
      # A file that an ensemble without this member has superseded lists a minority of that old
      # ensemble only (a shrink needs a quorum of the rest), so it cannot elect a leader on its own.
      log "no ensemble answers: restarting with $(basename "$dynamic")"
      break
    fi
    [ "$(date +%s)" -lt "$deadline" ] || { log "no ensemble answered at $ZK_ENSEMBLE_CONNECT within ${ZK_JOIN_TIMEOUT}s"; exit 1; }
    sleep 3
    config=$(ensemble_config)
  done
  if [ -n "$write" ]; then
    dynamic="$STATIC.dynamic.${version:-0}"
    echo "$servers" >"$dynamic"
  fi
fi
write_static "$dynamic"

if [ -n "$join" ]; then
  # Once synced from the leader, become a voting member. ZooKeeper applies one reconfig at a time.
  (
    for _ in $(seq 1 200); do
      sleep 3
      mode=$( (exec 3<>"/dev/tcp/127.0.0.1/${SELF##*;}" && printf srvr >&3 && cat <&3) 2>/dev/null | sed -n 's/^Mode: //p' || true)
      case "$mode" in follower) ;; *) continue ;; esac
      if zk_super "$ZK_ENSEMBLE_CONNECT" reconfig -add "$PARTICIPANT" 2>&1 | grep -q "Committed new configuration"; then
        log "added to the ensemble as a participant"
        exit 0
      fi
    done
    log "could not add itself to the ensemble"
  ) &
fi
# The super user's digest and the SASL users' JAAS file, for this JVM only (not for the zookeeper-shell
# calls above, which would otherwise look for a `Client` section in it).
super_digest=$(<"$ZK_AUTH_DIR/super-digest")
KAFKA_OPTS="${KAFKA_OPTS:-} -Dzookeeper.DigestAuthenticationProvider.superDigest=$super_digest -Djava.security.auth.login.config=$ZK_AUTH_DIR/server-jaas.conf" \
  exec zookeeper-server-start "$STATIC"
