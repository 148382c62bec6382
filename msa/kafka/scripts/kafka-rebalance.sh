# After the Kafka StatefulSet has TARGET_BROKERS brokers: raise replication factors (internal topics
# to the stack's values, topics that had the old default to default.replication.factor; a user's own
# lower factor stays), spread replicas and preferred leaders, then raise min ISR, restore what the
# drain lowered and drop its cluster-wide bridge. Inputs besides the common ones: WANTED_RF,
# DEFAULT_RF, WANTED_MIN_ISR.
JOB=kafka-rebalance
want=$(seq -s, 0 $((TARGET_BROKERS - 1)))
while :; do
  live=$(registered_brokers)
  missing=$(python3 -c 'import sys; live=set(sys.argv[1].split(",")); print(",".join(b for b in sys.argv[2].split(",") if b not in live))' "$live" "$want")
  [ -n "$missing" ] || break
  [ "$(date +%s)" -lt "$DEADLINE" ] || fail "brokers $missing did not register within ${TIMEOUT_SECONDS}s; check the kafka pods"
  sleep 5
done
log "registered brokers: $live"
wait_for_running_moves
describe_topics
describe_topic_overrides
change=$(read_change)
python3 "$MSA_PLANNER" grow "$TARGET_BROKERS" "$live" "$WANTED_RF" "$DEFAULT_RF" "$WANTED_MIN_ISR" "$change" "$WORK/overrides.txt" \
  <"$WORK/describe.txt" >"$WORK/plan.json"
errors=$(plan_errors)
[ -z "$errors" ] || fail "cannot rebalance: $errors"
reassign
# Only now that every factor is raised: min ISR up (the stack's values, the users' own values back).
apply_configs configsAfter
# The brokers run the new static min.insync.replicas now: drop the drain's temporary cluster-wide value,
# once every replica is in sync (a follower still catching up would leave a partition below it).
wait_in_sync
if kafka_tool kafka-configs --entity-type brokers --entity-default --describe 2>/dev/null |
    grep -q '^ *min\.insync\.replicas='; then
  log "removing the cluster-wide min.insync.replicas the drain set"
  set_cluster_min_isr ""
fi
# Last: a rebalance stopped before this point runs again with the same record.
write_change "$(plan_text record)"
# Leaders follow the new preferred replicas now instead of at the next auto rebalance (5 min).
kafka_tool kafka-leader-election --election-type PREFERRED --all-topic-partitions >/dev/null 2>&1 || true
log "done: replication and leadership spread over brokers 0..$((TARGET_BROKERS - 1))"
