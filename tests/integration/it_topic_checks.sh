#!/usr/bin/env bash
# What the engine checks about its topics and input, against the real broker:
# 1. an existing changelog topic that is not compacted is refused at start,
#    with a message naming the topic, the policy and the fix;
# 2. records whose Kafka key is not their account_id (the input's partition
#    key) are counted (summary and fraudwatch_input_key_mismatch_total) and
#    reported once per partition with the key, the field and its value; those
#    not on their account's partition go there (fraudwatch_input_repartitioned_total)
#    and the account's rules see all of them: file mode's alert.
source "$(dirname "$0")/lib.sh"

# 1. `fraudwatch produce` creates a missing topic with the broker's default
# cleanup.policy, delete: that makes a changelog topic that must be refused.
"$FW_BIN" produce --quiet -t "$PREFIX-bad-state-changelog" -i /dev/null --partitions 3 \
    || fail "creating $PREFIX-bad-state-changelog"
LOG_NAME=refused start_engine refused --exit-at-end --group-id "$PREFIX-bad"
wait_for_exit "$LAST_PID" 60 "the engine with a deleting changelog topic"
[ "$WAIT_STATUS" != 0 ] || fail "the engine accepted a changelog topic with cleanup.policy=delete"
echo "ok: refused with exit status $WAIT_STATUS"
grep -q "topic $PREFIX-bad-state-changelog has cleanup.policy=delete but must be compacted" \
    "$ENGINE_LOG" || fail "no message naming the topic and its policy: $(tail -3 "$ENGINE_LOG")"
grep -q -- "--entity-name $PREFIX-bad-state-changelog --add-config cleanup.policy=compact" \
    "$ENGINE_LOG" || fail "the message does not say how to fix it: $(tail -3 "$ENGINE_LOG")"
echo "ok: the message names the topic, the policy found and the fix"

# 2. Three velocity transactions of one account (file mode alerts), keyed
# wrongkey1..3 and sent to partitions 0, 1, 2: two of them are not on acc-1's
# partition (CRC32 of the key modulo 3, librdkafka's partitioner).
base=1704067200000
for i in 1 2 3; do
    printf 'wrongkey%d|{"transaction_id":"wk-%d","timestamp":%d,"account_id":"acc-1","amount":1500}\n' \
        "$i" "$i" $((base + i * 60000))
done > "$WORK/keyed.txt"
cut -d'|' -f2- "$WORK/keyed.txt" > "$WORK/in.ndjson"
"$FW_BIN" run --quiet --rules "$RULES" --input "$WORK/in.ndjson" --output "$WORK/file.alerts" \
    --dlq "$WORK/file.dlq"
assert_eq 1 "$(grep -c '"rule":"velocity"' "$WORK/file.alerts")" "velocity alerts in file mode"
for p in 0 1 2; do # wrongkeyN to partition N-1, in event-time order
    sed -n "$((p + 1))p" "$WORK/keyed.txt" > "$WORK/keyed.$p"
    "$FW_BIN" produce --quiet -t "$PREFIX-in" -i "$WORK/keyed.$p" --key-separator '|' \
        --partitions 3 --partition "$p"
done
MPORT=$((24000 + RANDOM % 2000))
LOG_NAME=keys start_engine keys --metrics-port "$MPORT" --metrics-bind 127.0.0.1 \
    --idle-timeout-ms 1000 # the windows close once the partitions go quiet
mismatches() { curl -sf "http://127.0.0.1:$MPORT/metrics" | awk '$1 == "fraudwatch_input_key_mismatch_total" { print $2 }'; }
three() { [ "$(mismatches)" = 3 ]; }
wait_until 60 "fraudwatch_input_key_mismatch_total to reach 3" mismatches three
assert_eq 3 "$(mismatches)" "fraudwatch_input_key_mismatch_total"
rekeyed() { curl -sf "http://127.0.0.1:$MPORT/metrics" | awk '$1 == "fraudwatch_input_repartitioned_total" { print $2 }'; }
two() { [ "$(rekeyed)" = 2 ]; }
wait_until 60 "fraudwatch_input_repartitioned_total to reach 2" rekeyed two
assert_eq 2 "$(rekeyed)" "fraudwatch_input_repartitioned_total (records not on acc-1's partition)"
wait_for_count "$PREFIX-out" 1 60
kill -TERM "$LAST_PID"
wait_for_exit "$LAST_PID" 60 "the engine after SIGTERM"
assert_eq 0 "$WAIT_STATUS" "engine exit status"
grep -q 'stopped: 3 transactions read .* 3 not keyed by account_id,' "$ENGINE_LOG" ||
    fail "summary: $(grep 'stopped:' "$ENGINE_LOG")"
echo "ok: the summary counts 3 records not keyed by account_id"
grep 'warning: partition' "$ENGINE_LOG" > "$WORK/warnings" || fail "no warning about the keys"
cat "$WORK/warnings"
assert_eq "0 1 2" "$(grep -o 'partition [0-9]*:' "$WORK/warnings" | grep -o '[0-9]*' | sort | xargs)" \
    "partitions warned about, once each"
for p in 0 1 2; do
    grep -q "partition $p: record at offset 0 has key \"wrongkey$((p + 1))\" but account_id \"acc-1\"" \
        "$WORK/warnings" || fail "partition $p: no warning naming wrongkey$((p + 1)) and account_id acc-1"
done
grep -qE 'partition [0-9]+: record at offset [0-9]+ has key "wrongkey[123]" but account_id "acc-1"; records not on their account.s partition take one more hop, through the account topic \(produce with key = account_id' \
    "$WORK/warnings" || fail "the warning does not name the key, the field and its value"
grep -q "note: partition [0-9]: record at offset 0 belongs with account_id \"acc-1\" on partition [0-9] (--input-partitioner consistent_random)" \
    "$ENGINE_LOG" || fail "no note on the first record sent to its account's partition"
consume_all "$PREFIX-out" > "$WORK/kafka.alerts"
assert_eq 1 "$(grep -c '"rule":"velocity"' "$WORK/kafka.alerts" || true)" \
    "velocity alerts in Kafka mode, as in file mode (the three records on one task)"
echo "PASS $TEST_NAME"
