#!/usr/bin/env bash
# Input not keyed by account_id: produced with no key at all (the producer
# spreads the records over the partitions) and keyed by customer_id, into 6
# partitions read by 3 instances. Each record not on its account's partition
# is sent there through GROUP-repartition-account_id and judged with the
# account's other records: the committed alerts equal file mode's, alert ids
# included, through a SIGKILL and restart, and the records are counted.
source "$(dirname "$0")/lib.sh"

N=${FW_IT_REKEY_COUNT:-40000}
[ "$FW_WAIT_SCALE" -gt 1 ] && N=${FW_IT_REKEY_COUNT:-15000}
RATE=$((N / 25))

# Each account's records reach its task in another order than the file's
# (they come from six partitions), so velocity, which fires early, could name
# other transactions; with early firing off every rule waits for event-time
# order and the alerts must equal file mode's exactly (docs/rules.md#early-firing).
echo '{"time": {"early_firing": false}, "rules": []}' > "$RULES"
make_input "$WORK/in.ndjson" "$N"
expected_from_file "$WORK/in.ndjson" "$WORK/expected.alerts" "$WORK/expected.dlq"
want=$(wc -l < "$WORK/expected.alerts")
for rule in velocity structuring fan_out; do # keyed by account: the ones a wrong key breaks
    n=$(grep -c "\"rule\":\"$rule\"" "$WORK/expected.alerts" || true)
    [ "$n" -gt 0 ] || fail "file mode raised no $rule alert: the input does not test it"
done
echo "ok: file mode raised $want alerts on $N transactions"

BASE=$PREFIX
ARGS=(--partitions 6 --idle-timeout-ms 2000)

# run_case KEY — produce keyed by KEY (none: no key), 3 instances, instance
# two SIGKILLed at half the alerts and restarted; the alerts equal file mode's.
run_case() {
    local key=$1
    PREFIX="$BASE-$key"
    "$FW_BIN" produce --quiet -t "$PREFIX-in" -i "$WORK/in.ndjson" --partitions 6 \
        --key "$key" --rate "$RATE" &
    local producer=$!
    PIDS+=("$producer")
    declare -A PID
    for name in one two three; do
        LOG_NAME="$key-$name" start_engine "$name" "${ARGS[@]}"
        PID[$name]=$LAST_PID
    done
    wait_for_count "$PREFIX-out" $((want / 2)) 300
    kill -9 "${PID[two]}"
    echo "ok: SIGKILLed instance two at half the alerts (key $key)"
    LOG_NAME="$key-two-again" start_engine two "${ARGS[@]}"
    PID[two]=$LAST_PID
    wait_for_clean_exit "$producer" 300 "the producer" /dev/null
    wait_for_count "$PREFIX-out" "$want" 300
    sleep 3 # a duplicate would show now
    kill -TERM "${PID[@]}"
    for name in "${!PID[@]}"; do
        wait_for_clean_exit "${PID[$name]}" 60 "instance $name after SIGTERM" \
            "$WORK/$key-$name.log"
    done
    consume_all "$PREFIX-out" > "$WORK/$key.alerts"
    assert_same_lines "$WORK/expected.alerts" "$WORK/$key.alerts" \
        "alerts of input keyed by $key, 6 partitions, 3 instances, a kill"
    # Counted: each instance's summary says how many it sent to their account's partition.
    local sent
    sent=$(cat "$WORK/$key"-*.log | sed -n 's/.*stopped: .* \([0-9][0-9]*\) repartitioned by account,.*/\1/p' |
           awk '{ s += $1 } END { print s + 0 }')
    # Five in six records are not on their account's partition; the killed
    # instance's share is not in any summary, so a quarter is the floor.
    [ "$sent" -gt $((N / 4)) ] ||
        fail "key $key: $sent records repartitioned by account in the summaries; expected over a quarter of $N"
    echo "ok: key $key: $sent records went to their account's partition (summaries of the instances still running)"
    grep -qh "note: partition [0-9]*: record at offset [0-9]* belongs with account_id \".*\" on partition [0-9]* (--input-partitioner consistent_random): input records not on their account's partition are sent there through $PREFIX-repartition-account_id" \
        "$WORK/$key"-*.log || fail "key $key: no note telling the user once"
}

run_case none
run_case customer_id
echo "PASS $TEST_NAME"
