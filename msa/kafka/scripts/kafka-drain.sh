# Before the Kafka StatefulSet shrinks to TARGET_BROKERS: move every replica off the brokers that go
# away, lower replication factors and topic min ISR to fit. Nothing is touched when it cannot finish.
JOB=kafka-drain
if ! kafka_ever_ran; then
  log "no Kafka cluster in ZooKeeper yet (first deploy): nothing to drain"
  exit 0
fi
live=$(registered_brokers)
[ -n "$live" ] || fail "no broker is registered in ZooKeeper; start the brokers (or restore msa:kafka.brokers) and retry"
log "registered brokers: $live; target: $TARGET_BROKERS"
wait_for_running_moves
describe_topics
python3 "$MSA_PLANNER" drain "$TARGET_BROKERS" "$live" <"$WORK/describe.txt" >"$WORK/plan.json"
errors=$(python3 -c 'import json,sys; e=json.load(open(sys.argv[1]))["errors"]; print(e[0] + (" (+%d more)" % (len(e)-1) if len(e) > 1 else "") if e else "")' "$WORK/plan.json")
[ -z "$errors" ] || fail "cannot drain: $errors"
apply_configs configsBefore
moves=$(python3 -c 'import json,sys; p=json.load(open(sys.argv[1])); print(len(p["reassignment"]["partitions"]) + len(p["configsBefore"]))' "$WORK/plan.json")
if [ "$moves" != 0 ]; then
  # Until the StatefulSet restarts the brokers with the new static min.insync.replicas, the old one
  # (2 with three brokers) would refuse acks=all writes, transaction markers included, to partitions
  # that now have fewer replicas. A cluster-wide dynamic default bridges that; kafka-rebalance removes it.
  log "cluster-wide min.insync.replicas=$TARGET_MIN_ISR until the brokers restart with it"
  tool kafka-configs --bootstrap-server "$BOOTSTRAP_SERVERS" --entity-type brokers --entity-default \
    --alter --add-config "min.insync.replicas=$TARGET_MIN_ISR" >/dev/null 2>"$WORK/configs.err" ||
    fail "could not set the cluster-wide min.insync.replicas: $(tail -n 1 "$WORK/configs.err")"
fi
reassign
log "done: every partition lives on brokers 0..$((TARGET_BROKERS - 1))"
