#!/usr/bin/env bash
# Counts that tell the truth across aborts: the engine is stopped with SIGSTOP
# past its session timeout mid-stream, twice, so the group takes its
# partitions away and its open transaction is aborted when it resumes; and
# every third transaction is aborted just before its commit (--test-abort-every),
# with its alerts, changelog records and offsets already sent. Once
# the input is processed, the alerts by rule in its summary and in
# fraudwatch_alerts_total{rule} add up to its alert total, and each equals
# what a read_committed reader finds in the alert topic, rule by rule.
source "$(dirname "$0")/lib.sh"

make_input "$WORK/in.ndjson" 30000
expected_from_file "$WORK/in.ndjson" "$WORK/expected.alerts" "$WORK/expected.dlq"
want=$(wc -l < "$WORK/expected.alerts")

# The engine is in the group before any input exists, so the input (arriving
# over ~30 s) keeps a transaction open whenever the engine is stopped: a
# stop after the engine has caught up would have nothing to abort.
"$FW_BIN" produce --quiet -t "$PREFIX-in" -i /dev/null --partitions 3
MPORT=$((22000 + RANDOM % 2000))
# Every third transaction is also aborted on purpose, just before its commit:
# stops alone abort only when the group has moved on by the time the engine
# resumes, which a slow machine may not show.
start_engine solo --commit-interval-ms 100 --test-abort-every 3 --metrics-port "$MPORT" \
    --metrics-bind 127.0.0.1
engine=$LAST_PID
count_of() { grep -cE "$1" "$ENGINE_LOG" || true; }
more_than() { [ "$(count_of "$1")" -gt "$2" ]; }
rebalances() { echo "$(count_of '(lost|revoked) partitions') partitions lost or revoked, $(count_of 'assigned partitions') assigned"; }
wait_for_log "$ENGINE_LOG" "assigned partitions \[[0-9]" 60

"$FW_BIN" produce --quiet -t "$PREFIX-in" -i "$WORK/in.ndjson" --rate 1000 &
producer=$!
PIDS+=("$producer")
wait_for_log "$ENGINE_LOG" "progress: [1-9][0-9]* transactions read" 60
# Two stops at least; more (up to four) while the input still flows if none
# has aborted a transaction yet, since a stop can land just after a commit.
stop=0
while [ $stop -lt 2 ] || { [ "$(count_of 'aborting the transaction')" = 0 ] && [ $stop -lt 4 ] &&
                           kill -0 "$producer" 2>/dev/null; }; do
    stop=$((stop + 1))
    kill -0 "$producer" 2>/dev/null || echo "info: stop $stop lands after the input has ended"
    assigned=$(count_of "assigned partitions \[[0-9]")
    revoked=$(count_of "(lost|revoked) partitions")
    # Past the session timeout (6 s, lib.sh): the group gives the partitions up.
    kill -STOP "$engine"
    sleep 9
    kill -CONT "$engine"
    # librdkafka 2.0.2 reports the timed-out session as a revoke, not a loss.
    wait_until 60 "partitions lost or revoked after stop $stop" rebalances \
        more_than "(lost|revoked) partitions" "$revoked"
    # The next stop only once it has its partitions back.
    wait_until 60 "partitions assigned again after stop $stop" rebalances \
        more_than "assigned partitions \[[0-9]" "$assigned"
    echo "stop $stop: $(count_of 'aborting the transaction') aborts so far"
done
wait_for_clean_exit "$producer" 120 "the producer" /dev/null
wait_for_count "$PREFIX-out" "$want" 120
consume_all "$PREFIX-out" > "$WORK/actual.alerts"
assert_same_lines "$WORK/expected.alerts" "$WORK/actual.alerts" "alerts after two SIGSTOPs"

# The metrics: published every 100 ms; wait until they reach the total.
metric_sum() { curl -sf "http://127.0.0.1:$MPORT/metrics" | awk '/^fraudwatch_alerts_total\{/ { s += $2 } END { print s + 0 }'; }
metric_is_total() { [ "$(metric_sum)" = "$want" ]; }
wait_until 30 "the sum of fraudwatch_alerts_total{rule} to reach $want" metric_sum metric_is_total
assert_eq "$want" "$(metric_sum)" "sum of fraudwatch_alerts_total{rule} (committed alerts: $want)"
curl -sf "http://127.0.0.1:$MPORT/metrics" | grep '^fraudwatch_alerts_total{' > "$WORK/metrics.rules"

kill -TERM "$engine"
wait_for_exit "$engine" 60 "the engine after SIGTERM"
[ "$WAIT_STATUS" = 0 ] || fail "engine stopped with status $WAIT_STATUS: $(tail -5 "$ENGINE_LOG")"

summary=$(grep 'stopped: ' "$ENGINE_LOG" | tail -1)
aborts=$(grep -o '[0-9]* aborts' <<< "$summary" | grep -o '[0-9]*')
echo "info: $aborts aborted transactions; $(grep -o 'aborts ([^)]*)' <<< "$summary")"
[ "${aborts:-0}" -ge 1 ] || fail "no transaction was aborted: the test did not test anything ($summary)"
total=$(grep -o '[0-9]* alerts (' <<< "$summary" | grep -o '[0-9]*')
by_rule=$(grep -o 'alerts ([^)]*)' <<< "$summary" | sed 's/^alerts (//; s/)$//')
sum=0
while IFS= read -r pair; do
    rule=${pair% *}; n=${pair##* }
    sum=$((sum + n))
    assert_eq "$(grep -c "\"rule\":\"$rule\"" "$WORK/actual.alerts" || true)" "$n" "summary: $rule alerts (committed in the topic)"
    assert_eq "$(awk -v r="{rule=\"$rule\"}" '$1 == "fraudwatch_alerts_total" r { print $2 }' "$WORK/metrics.rules")" "$n" "metrics: $rule alerts"
done < <(tr ',' '\n' <<< "$by_rule" | sed 's/^ *//')
assert_eq "$total" "$sum" "summary: sum of the alerts by rule"
assert_eq "$want" "$total" "summary: alert total (committed alerts)"
echo "PASS $TEST_NAME"
