#!/usr/bin/env bash
# scripts/demo.sh [FRAUDWATCH_BIN] — what `make demo` runs: trains a model on
# generated history, starts the local broker and PostgreSQL, creates fresh
# topics, runs the generator, the engine (rules and ml_score) and the console
# (alerts stored, cases, verdicts, the web page), prints the console's URL and
# each alert as it arrives, and on Ctrl-C (or after DEMO_SECONDS seconds)
# stops everything and prints a summary.
#   DEMO_SECONDS       stop after this many seconds (default: run until Ctrl-C)
#   DEMO_RATE          generated transactions per second (default 500)
#   DEMO_MODEL         0: rules only, no model (default 1)
#   DEMO_CONSOLE       0: no PostgreSQL and no console (default 1)
#   DEMO_CONSOLE_PORT  the console's port (default 8090)
#   DEMO_METRICS_PORT  the engine's /metrics port, read by the console (default: the
#                      first free one from 9464)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-build/fraudwatch}
DEMO_SECONDS=${DEMO_SECONDS:-0}
DEMO_RATE=${DEMO_RATE:-500}
DEMO_MODEL=${DEMO_MODEL:-1}
DEMO_CONSOLE=${DEMO_CONSOLE:-1}
DEMO_CONSOLE_PORT=${DEMO_CONSOLE_PORT:-8090}
DEMO_METRICS_PORT=${DEMO_METRICS_PORT:-}
if [ -z "$DEMO_METRICS_PORT" ]; then # the first port nothing listens on
    for DEMO_METRICS_PORT in $(seq 9464 9484); do
        (echo > "/dev/tcp/127.0.0.1/$DEMO_METRICS_PORT") 2>/dev/null || break
    done
fi
export KAFKA_BOOTSTRAP_SERVERS=${KAFKA_BOOTSTRAP_SERVERS:-127.0.0.1:${KAFKA_PORT:-9092}}
RUN_ID=demo-$(date +%Y%m%d-%H%M%S)
IN=$RUN_ID-transactions OUT=$RUN_ID-alerts DLQ=$RUN_ID-dlq
LOG=${TMPDIR:-/tmp}/fraudwatch-$RUN_ID
mkdir -p "$LOG"

started_broker=0 started_pg=0
if ! scripts/kafka-local status >/dev/null 2>&1; then
    scripts/kafka-local start
    started_broker=1
fi
if [ "$DEMO_CONSOLE" != 0 ] && ! scripts/postgres-local status >/dev/null 2>&1; then
    scripts/postgres-local start || { echo "demo: PostgreSQL did not start: DEMO_CONSOLE=0 runs without the console" >&2; exit 1; }
    started_pg=1
fi

pids=()
stopping=0
finish() {
    [ "$stopping" = 1 ] && return
    stopping=1
    trap '' INT TERM
    echo
    echo "demo: stopping (generator, then engine, then the alert reader)..."
    [ -n "${gen_pid:-}" ] && kill -INT "$gen_pid" 2>/dev/null && wait "$gen_pid" 2>/dev/null || true
    sleep 1   # let the engine commit what the generator sent last
    [ -n "${engine_pid:-}" ] && kill -TERM "$engine_pid" 2>/dev/null && wait "$engine_pid" 2>/dev/null || true
    sleep 1
    [ -n "${reader_pid:-}" ] && kill -TERM "$reader_pid" 2>/dev/null && wait "$reader_pid" 2>/dev/null || true
    [ -n "${console_pid:-}" ] && kill -TERM "$console_pid" 2>/dev/null && wait "$console_pid" 2>/dev/null || true
    summary
    [ "$started_broker" = 1 ] && scripts/kafka-local stop >/dev/null 2>&1 || true
    [ "$started_pg" = 1 ] && scripts/postgres-local stop >/dev/null 2>&1 || true
}

summary() {
    local line ml alerts
    line=$(grep 'stopped: [0-9]* transactions' "$LOG/engine.log" | tail -1 || true)
    ml=$(grep 'stopped: ml_score' "$LOG/engine.log" | tail -1 || true)
    alerts=$("$BIN" consume -t "$OUT" -e --timeout-ms 20000 2>/dev/null | wc -l || echo "?")
    echo
    echo "==================== fraudwatch demo summary ===================="
    if [[ $line =~ ([0-9]+)\ transactions\ read.*\ ([0-9]+)\ alerts\ \(([^\)]*)\),\ ([0-9]+)\ dead\ letters ]]; then
        printf "  transactions read : %s\n" "${BASH_REMATCH[1]}"
        printf "  alerts            : %s (%s)\n" "${BASH_REMATCH[2]}" "${BASH_REMATCH[3]}"
        printf "  dead letters      : %s\n" "${BASH_REMATCH[4]}"
        [ -n "$ml" ] && printf "  model             : %s\n" "${ml#*stopped: ml_score with model }"
    else
        echo "  engine summary missing; see $LOG/engine.log"
    fi
    printf "  committed alerts in %s: %s\n" "$OUT" "$alerts"
    if [ -n "${console_pid:-}" ]; then
        line=$(grep 'stopped: ' "$LOG/console.log" | tail -1 || true)
        printf "  console           : %s\n" "${line#*stopped: }"
    fi
    echo "  logs: $LOG"
    echo "================================================================="
}
trap finish EXIT
trap 'exit 0' INT TERM

model=()
if [ "$DEMO_MODEL" != 0 ]; then
    echo "demo: training the ml_score model on 100,000 generated transactions (a few seconds)..."
    "$BIN" generate -n 100000 --seed 7 -o "$LOG/history.ndjson" 2>/dev/null
    "$BIN" train --quiet -i "$LOG/history.ndjson" -o "$LOG/model.json" > "$LOG/train.txt"
    rm -f "$LOG/history.ndjson"
    grep -m1 'AUPRC' "$LOG/train.txt" | sed 's/^ */demo: held-out /'
    model=(--model "$LOG/model.json")
fi
echo "demo: topics $IN -> $OUT (dead letters: $DLQ); logs in $LOG"
"$BIN" run --input-topic "$IN" --output-topic "$OUT" --dlq-topic "$DLQ" "${model[@]}" \
    --group-id "$RUN_ID" --instance-id demo --stats-interval 5 \
    --metrics-port "$DEMO_METRICS_PORT" > "$LOG/engine.log" 2>&1 &
engine_pid=$!
# Wait for the engine to create its topics before anything reads or writes them.
for _ in $(seq 1 240); do
    grep -q "reading $IN" "$LOG/engine.log" && break
    kill -0 "$engine_pid" 2>/dev/null || { cat "$LOG/engine.log"; exit 1; }
    sleep 0.5
done
grep -q "reading $IN" "$LOG/engine.log" ||
    { echo "demo: the engine did not start reading in 120 s; see $LOG/engine.log" >&2; exit 1; }
if [ "$DEMO_CONSOLE" != 0 ]; then
    metrics_url="http://127.0.0.1:$DEMO_METRICS_PORT/metrics"
    # A token for this demo only: the page asks for it before a verdict.
    token=$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
    : > "$LOG/console.log"
    CONSOLE_TOKEN=$token "$BIN" console --database-url "$(scripts/postgres-local url)" \
        --alerts-topic "$OUT" --group-id "$RUN_ID-console" --feedback-topic "$RUN_ID-feedback" \
        --port "$DEMO_CONSOLE_PORT" --engines "$metrics_url" \
        > "$LOG/console.log" 2>&1 &
    console_pid=$!
    for _ in $(seq 1 60); do
        grep -q "on http://" "$LOG/console.log" && break
        kill -0 "$console_pid" 2>/dev/null || { cat "$LOG/console.log"; exit 1; }
        sleep 0.5
    done
    echo "demo: the console: http://127.0.0.1:$DEMO_CONSOLE_PORT/  (sign in with any name and" \
         "the token $token)"
fi
"$BIN" consume -t "$OUT" --format pretty &
reader_pid=$!
# A few malformed records, to show the dead-letter path.
printf '%s\n' 'not json' '{"transaction_id":"bad-1","amount":12}' \
    '{"transaction_id":"bad-2","timestamp":"2024-01-01T00:00:00Z","amount":-3}' \
    > "$LOG/malformed.ndjson"
"$BIN" produce --quiet -t "$IN" -i "$LOG/malformed.ndjson"
# --wall-clock: each transaction carries the time it is sent, as real traffic does,
# so the alerts carry the current time too.
"$BIN" generate --topic "$IN" --count 0 --rate "$DEMO_RATE" --fraud-ratio 0.02 --wall-clock \
    --quiet > "$LOG/generator.log" 2>&1 &
gen_pid=$!
echo "demo: generating $DEMO_RATE transactions/s; alerts follow (Ctrl-C to stop)"
if [ "$DEMO_SECONDS" -gt 0 ]; then
    sleep "$DEMO_SECONDS" &
    wait $! || true
else
    wait "$engine_pid" || true
fi
