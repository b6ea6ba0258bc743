#!/usr/bin/env bash
# scripts/demo.sh [FRAUDWATCH_BIN] — what `make demo` runs: trains a model on
# generated history, starts the local broker, creates fresh topics, runs the
# generator and the engine (rules and ml_score), prints each alert as it
# arrives, and on Ctrl-C (or after DEMO_SECONDS seconds) stops everything and
# prints a summary.
#   DEMO_SECONDS  stop after this many seconds (default: run until Ctrl-C)
#   DEMO_RATE     generated transactions per second (default 500)
#   DEMO_MODEL    0: rules only, no model (default 1)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-build/fraudwatch}
DEMO_SECONDS=${DEMO_SECONDS:-0}
DEMO_RATE=${DEMO_RATE:-500}
DEMO_MODEL=${DEMO_MODEL:-1}
export KAFKA_BOOTSTRAP_SERVERS=${KAFKA_BOOTSTRAP_SERVERS:-127.0.0.1:${KAFKA_PORT:-9092}}
RUN_ID=demo-$(date +%Y%m%d-%H%M%S)
IN=$RUN_ID-transactions OUT=$RUN_ID-alerts DLQ=$RUN_ID-dlq
LOG=${TMPDIR:-/tmp}/fraudwatch-$RUN_ID
mkdir -p "$LOG"

started_broker=0
if ! scripts/kafka-local status >/dev/null 2>&1; then
    scripts/kafka-local start
    started_broker=1
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
    summary
    [ "$started_broker" = 1 ] && scripts/kafka-local stop >/dev/null 2>&1 || true
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
    --group-id "$RUN_ID" --instance-id demo --stats-interval 5 > "$LOG/engine.log" 2>&1 &
engine_pid=$!
# Wait for the engine to create its topics before anything reads or writes them.
for _ in $(seq 1 60); do
    grep -q "reading $IN" "$LOG/engine.log" && break
    kill -0 "$engine_pid" 2>/dev/null || { cat "$LOG/engine.log"; exit 1; }
    sleep 0.5
done
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
