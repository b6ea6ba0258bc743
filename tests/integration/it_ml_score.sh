#!/usr/bin/env bash
# ml_score through the real broker: a model trained by `fraudwatch train`
# scores live traffic with explained alerts, exactly as file mode does; a
# model file replaced under a running engine is reloaded, a broken one is
# refused while the old one keeps scoring; scoring through `fraudwatch serve`
# (API_ENDPOINT_URL) gives the same alerts; with the service down the rules
# keep running and the unscored transactions are counted; the running
# engine's Prometheus /metrics tell the same story.
source "$(dirname "$0")/lib.sh"

"$FW_BIN" generate --quiet --seed 11 --count 60000 --output "$WORK/train.ndjson"
"$FW_BIN" train --quiet --input "$WORK/train.ndjson" --output "$WORK/model.json" --rounds 30 \
    > "$WORK/train.log" 2>&1 || fail "train: $(tail -3 "$WORK/train.log")"

make_input "$WORK/in.ndjson" 20000
"$FW_BIN" run --quiet --rules "$RULES" --model "$WORK/model.json" --input "$WORK/in.ndjson" \
    --output "$WORK/expected.alerts" --dlq "$WORK/expected.dlq"
n_ml=$(grep -c '"rule":"ml_score"' "$WORK/expected.alerts" || true)
[ "$n_ml" -gt 20 ] || fail "file mode: only $n_ml ml_score alerts"
grep -q '"top_features":\[{"feature":' "$WORK/expected.alerts" || fail "alerts carry no explanation"

"$FW_BIN" produce --quiet -t "$PREFIX-in" -i "$WORK/in.ndjson" --partitions 3

# 1. In-process model, as file mode.
start_engine local --exit-at-end --model "$WORK/model.json"
wait_for_clean_exit "$LAST_PID" 180 "the engine with a local model reading its input to the end" "$WORK/local.log"
consume_all "$PREFIX-out" > "$WORK/local.alerts"
assert_same_lines "$WORK/expected.alerts" "$WORK/local.alerts" "alerts with a local model"
grep -q "ml_score with model model.json@" "$WORK/local.log" || fail "no ml_score summary"

ml_ids() { grep '"rule":"ml_score"' "$1" | grep -o '"alert_id":"[^"]*"' | sort; }

# 2. Remote: fraudwatch serve with the same model gives the same alerts.
PORT=$((18000 + RANDOM % 2000))
"$FW_BIN" serve --model "$WORK/model.json" --port "$PORT" --bind 127.0.0.1 \
    > "$WORK/serve.log" 2>&1 &
PIDS+=("$!")
wait_for_log "$WORK/serve.log" "POST /predict" 20
LOG_NAME=remote start_engine remote --exit-at-end --group-id "$PREFIX-remote" \
    --output-topic "$PREFIX-out-remote" --api-endpoint "http://127.0.0.1:$PORT"
wait_for_clean_exit "$LAST_PID" 180 "the engine scoring remotely reading its input to the end" "$WORK/remote.log"
consume_all "$PREFIX-out-remote" > "$WORK/remote.alerts"
ml_ids "$WORK/expected.alerts" > "$WORK/expected.ml"
ml_ids "$WORK/remote.alerts" > "$WORK/remote.ml"
assert_same_lines "$WORK/expected.ml" "$WORK/remote.ml" "ml_score alerts scored by fraudwatch serve"
grep -qE "[1-9][0-9]* scored, 0 not scored" "$WORK/remote.log" || fail "remote: $(grep ml_score "$WORK/remote.log" | tail -1)"

# 3. The service down: rules run on, the failure is counted and visible.
LOG_NAME=down start_engine down --exit-at-end --group-id "$PREFIX-down" \
    --output-topic "$PREFIX-out-down" --api-endpoint "http://127.0.0.1:1" \
    --api-timeout-ms 500 --api-retries 1
wait_for_clean_exit "$LAST_PID" 180 "the engine without its model service reading its input to the end" "$WORK/down.log"
consume_all "$PREFIX-out-down" > "$WORK/down.alerts"
grep -v '"rule":"ml_score"' "$WORK/expected.alerts" > "$WORK/expected.rules"
assert_same_lines "$WORK/expected.rules" "$WORK/down.alerts" "rule alerts with the model service down"
grep -qE ": 0 scored, [1-9][0-9]* not scored" "$WORK/down.log" || fail "down: $(grep ml_score "$WORK/down.log" | tail -1)"

# 4. Hot reload: a broken file is refused, a good one replaces the model.
cp "$WORK/model.json" "$WORK/live.json"
MPORT=$((20000 + RANDOM % 2000))
LOG_NAME=reload start_engine reload --group-id "$PREFIX-reload" \
    --output-topic "$PREFIX-out-reload" --model "$WORK/live.json" \
    --metrics-port "$MPORT" --metrics-bind 127.0.0.1
wait_for_log "$WORK/reload.log" "assigned" 60
# In the group with its partitions restored: ready (it says so before it logs them).
[ "$(curl -s "http://127.0.0.1:$MPORT/ready")" = ready ] ||
    fail "/ready after the assignment: $(curl -s "http://127.0.0.1:$MPORT/ready")"
echo '{"not": "a model"' > "$WORK/live.tmp" && mv "$WORK/live.tmp" "$WORK/live.json"
wait_for_log "$WORK/reload.log" "reload of .*live.json failed: .*still scoring with live.json@" 30
"$FW_BIN" train --quiet --input "$WORK/train.ndjson" --output "$WORK/model2.json" \
    --rounds 10 > /dev/null 2>&1 || fail "second train"
cp "$WORK/model2.json" "$WORK/live.tmp" && mv "$WORK/live.tmp" "$WORK/live.json"
wait_for_log "$WORK/reload.log" "reloaded .*live.json: now scoring with live.json@" 30

# 5. The same engine's /metrics (published every 100 ms by its main loop).
metric() { curl -sf "http://127.0.0.1:$MPORT/metrics" | awk -v k="$1" '$1 == k { print $2 }'; }
records=$(wc -l < "$WORK/in.ndjson") # the malformed lines make_input adds included
read_all() { [ "$(metric fraudwatch_transactions_read_total)" = "$records" ]; }
read_so_far() { echo "$(metric fraudwatch_transactions_read_total) records read"; }
wait_until 30 "fraudwatch_transactions_read_total to reach $records" read_so_far read_all
# ml_score runs where its key (the customer) is: on several partitions in a
# stage behind a repartition topic, a moment after the input task read the record.
ml_alerted() { [ "$(metric 'fraudwatch_alerts_total{rule="ml_score"}')" -gt 0 ] 2>/dev/null; }
ml_so_far() { echo "$(metric fraudwatch_ml_scored_transactions_total) scored, $(metric 'fraudwatch_alerts_total{rule="ml_score"}') alerts"; }
wait_until 30 "ml_score alerts in the metrics" ml_so_far ml_alerted
[ "$(metric fraudwatch_transactions_read_total)" = "$records" ] ||
    fail "metrics: records read $(metric fraudwatch_transactions_read_total), want $records"
[ "$(metric fraudwatch_dead_letters_total)" -gt 0 ] || fail "metrics: dead letters"
[ "$(metric fraudwatch_assigned_partitions)" = 3 ] || fail "metrics: assigned partitions"
[ "$(metric 'fraudwatch_ml_model_reloads_total{result="ok"}')" = 1 ] || fail "metrics: reloads"
[ "$(metric 'fraudwatch_ml_model_reloads_total{result="failed"}')" -ge 1 ] ||
    fail "metrics: failed reloads"
[ "$(metric fraudwatch_kafka_transactions_committed_total)" -gt 0 ] || fail "metrics: commits"
[ "$(metric fraudwatch_ml_scored_transactions_total)" -gt 0 ] || fail "metrics: ml scored"
[ "$(metric 'fraudwatch_alerts_total{rule="ml_score"}')" -gt 0 ] || fail "metrics: ml alerts"
# Consumer lag: one series per input partition, each 0 once all is read (the high
# watermark is librdkafka's last fetched one, so it may take a fetch to settle).
lag() { curl -sf "http://127.0.0.1:$MPORT/metrics" |
    awk '/^fraudwatch_consumer_lag_records\{/ { n++; s += $2 } END { print n + 0, s + 0 }'; }
caught_up() { [ "$(lag)" = "3 0" ]; }
wait_until 30 "consumer lag: 3 partitions, 0 records" lag caught_up
[ "$(metric fraudwatch_alert_latency_seconds_count)" -gt 0 ] ||
    fail "metrics: alert latency observed $(metric fraudwatch_alert_latency_seconds_count) times"
curl -sf "http://127.0.0.1:$MPORT/health" > /dev/null || fail "metrics: /health"
echo "ok: /metrics of the running engine"
kill -TERM "$LAST_PID"
wait_for_clean_exit "$LAST_PID" 60 "the engine after the reloads and SIGTERM" "$WORK/reload.log"
echo "PASS $TEST_NAME"
