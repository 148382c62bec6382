#!/usr/bin/env bash
# Readiness of a ZooKeeper member without a JVM: it serves in a quorum (`srvr`, the one four-letter
# word allowed by default, says leader or follower) and is a voting member of the config it runs.
ZK_DATA=${ZK_DATA:-/var/lib/zookeeper/data}
ORDINAL=${HOSTNAME##*-}
SELF=${ZK_SELF_TEMPLATE//\{ordinal\}/$ORDINAL}
mode=$( (exec 3<>"/dev/tcp/127.0.0.1/${SELF##*;}" && printf srvr >&3 && timeout 3 cat <&3) 2>/dev/null | sed -n 's/^Mode: //p')
case "$mode" in leader|follower) ;; *) echo "mode: ${mode:-not serving}"; exit 1 ;; esac
dynamic=$(sed -n 's/^dynamicConfigFile=//p' "$ZK_DATA/zoo.cfg" | tail -n 1)
# A joiner's own file lists it at weight 0 until the ensemble has added it (zookeeper-start.sh).
grep -q "^server\.$((ORDINAL + 1))=.*:participant" "$dynamic" && ! grep -q "^weight\.$((ORDINAL + 1))=0" "$dynamic" ||
  { echo "not yet a voting member"; exit 1; }
