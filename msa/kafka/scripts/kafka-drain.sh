# Before the Kafka StatefulSet changes to TARGET_BROKERS: move every replica off the brokers that go
# away and lower replication factors to fit. When the broker count changes the StatefulSet restarts
# every broker next: min ISR is bridged so that one broker down never refuses acks=all writes (topic
# level where a topic sets its own, cluster-wide for the rest), and what was lowered is recorded for
# the rebalance. Nothing is touched when the drain cannot finish. Inputs besides the common ones:
# TARGET_MIN_ISR (the brokers' min.insync.replicas after the change).
JOB=kafka-drain
if ! kafka_ever_ran; then
  log "no Kafka cluster yet (first deploy): nothing to drain"
  exit 0
fi
live=$(registered_brokers)
[ -n "$live" ] || fail "no broker is registered ($METADATA); start the brokers (or restore msa:kafka.brokers) and retry"
log "registered brokers: $live; target: $TARGET_BROKERS"
# The up that moves a running open cluster to authentication (msa/kafka/auth_roll.py): this Job already
# logs in, but the brokers get their SCRAM listener only with the StatefulSet's update after it. With the
# same broker count there is nothing to drain; a count change waits for an up of its own.
if [ -n "${KAFKA_CLIENT_CONFIG:-}" ] && [ "$METADATA" != kraft ] && zk_get "/brokers/ids/${live%%,*}" &&
   grep -q '"endpoints"' "$WORK/zk.out" && ! grep -q '"SCRAM://' "$WORK/zk.out"; then
  [ "$(tr ',' '\n' <<<"$live" | wc -l)" = "$TARGET_BROKERS" ] ||
    fail "the brokers run open and move to authentication in this up: change msa:kafka.brokers in the next pulumi up, not in the same one"
  log "the brokers run open and move to authentication in this up: nothing to drain"
  exit 0
fi
wait_for_running_moves
describe_topics
describe_topic_overrides
# The default factor topics get now: the rebalance raises the topics that have it to the new default,
# and leaves a user's own lower factor alone.
default_rf=$(kafka_tool kafka-configs --entity-type brokers --entity-name "${live%%,*}" \
  --describe --all 2>/dev/null | sed -n 's/^ *default\.replication\.factor=\([0-9][0-9]*\) .*/\1/p' | head -n 1 || true)
python3 "$MSA_PLANNER" drain "$TARGET_BROKERS" "$live" "$TARGET_MIN_ISR" "$default_rf" "$(read_change)" "$WORK/overrides.txt" \
  <"$WORK/describe.txt" >"$WORK/plan.json"
errors=$(plan_errors)
[ -z "$errors" ] || fail "cannot drain: $errors"
# Recorded before anything is lowered: a drain stopped half-way and run again still knows the user's values.
write_change "$(plan_text record)"
apply_configs configsBefore
bridge=$(plan_text clusterMinIsr)
if [ -n "$bridge" ]; then
  # Until the rebalance after the StatefulSet's restarts: the brokers' static value (the old one, or the
  # new one before the factors are raised) would refuse acks=all writes, transaction markers included.
  log "cluster-wide min.insync.replicas=$bridge while the brokers restart"
  set_cluster_min_isr "$bridge"
fi
reassign
log "done: every partition lives on brokers 0..$((TARGET_BROKERS - 1))"
