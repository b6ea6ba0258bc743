# tests/integration/lib.sh — shared helpers for the tests that run against the
# real broker (scripts/kafka-local). Sourced; expects FW_BIN and FW_SRC.
set -euo pipefail
: "${FW_BIN:?FW_BIN must point at the fraudwatch binary}"
: "${FW_SRC:?FW_SRC must point at the source tree}"

# The broker of scripts/kafka-local on KAFKA_PORT (default 9092).
export KAFKA_BOOTSTRAP_SERVERS=${KAFKA_BOOTSTRAP_SERVERS:-127.0.0.1:${KAFKA_PORT:-9092}}
"$FW_SRC/scripts/kafka-local" start >/dev/null
TEST_NAME=$(basename "$0" .sh)
PREFIX="${TEST_NAME}-$(date +%s)-$$"   # unique topics and group per run
WORK=$(mktemp -d "${TMPDIR:-/tmp}/${TEST_NAME}.XXXXXX")
PIDS=()

cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    if [ "${KEEP_WORK:-0}" = 1 ]; then echo "work dir kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

fail() { echo "FAIL ($TEST_NAME): $*" >&2; exit 1; }

# assert_eq EXPECTED ACTUAL WHAT
assert_eq() {
    [ "$1" == "$2" ] || fail "$3: expected '$1', got '$2'"
    echo "ok: $3 = $2"
}

# assert_same_lines EXPECTED_FILE ACTUAL_FILE WHAT — equal as sorted multisets.
assert_same_lines() {
    sort "$1" > "$WORK/exp.sorted"; sort "$2" > "$WORK/act.sorted"
    if ! cmp -s "$WORK/exp.sorted" "$WORK/act.sorted"; then
        echo "--- $3: expected $(wc -l < "$1") lines, got $(wc -l < "$2"); diff (first 20):" >&2
        diff "$WORK/exp.sorted" "$WORK/act.sorted" | head -20 >&2
        local dups; dups=$(uniq -d "$WORK/act.sorted" | wc -l)
        echo "--- duplicated lines in actual: $dups" >&2
        fail "$3 differ"
    fi
    echo "ok: $3 ($(wc -l < "$1") lines, identical)"
}

# Committed messages of a topic, one per line.
consume_all() { "$FW_BIN" consume -t "$1" -e --timeout-ms 60000 "${@:2}"; }

# wait_for_count TOPIC N SECONDS — until the topic holds N committed messages.
wait_for_count() {
    local topic=$1 want=$2 deadline=$((SECONDS + $3)) have=0
    while [ $SECONDS -lt $deadline ]; do
        have=$( (consume_all "$topic" 2>/dev/null || true) | wc -l)  # the topic may not exist yet
        [ "$have" -ge "$want" ] && return 0
        sleep 1
    done
    fail "topic $topic: waited $3 s for $want messages, have $have"
}

# Test input: generated transactions with injected fraud, plus malformed
# records of every kind at fixed places (also listed in FILE.bad).
make_input() { # make_input FILE COUNT
    "$FW_BIN" generate --quiet --seed 7 --count "$2" --fraud-ratio 0.05 --output "$1.gen"
    awk -v every=$(( $2 / 8 + 1 )) '
        BEGIN { bad[0]="not json at all"; bad[1]="[1,2,3]";
                bad[2]="{\"transaction_id\":\"x1\",\"timestamp\":\"2024-01-01T00:00:00Z\"";
                bad[3]="{\"transaction_id\":\"x2\",\"amount\":10}";
                bad[4]="{\"transaction_id\":\"x3\",\"timestamp\":\"2024-01-01T00:00:00Z\",\"amount\":\"12\"}";
                bad[5]="{\"transaction_id\":\"x4\",\"timestamp\":\"yesterday\",\"amount\":1}";
                bad[6]="{\"transaction_id\":\"x5\",\"timestamp\":\"2024-01-01T00:00:00Z\",\"amount\":-5}";
                bad[7]="{\"transaction_id\":\"x6\",\"timestamp\":\"2024-01-01T00:00:00Z\",\"amount\":1e999}"; n=0 }
        function emit() { print bad[n]; print bad[n] > badfile; n++ }
        { print } NR % every == 0 && n < 8 { emit() }
        END { while (n < 8) emit() }' badfile="$1.bad" "$1.gen" > "$1"
    rm -f "$1.gen"
}

# Expected alerts and dead-letter count from file mode (the same detection code).
# The rules that follow transfers to the receiving account (fan_in, cycle,
# mule_cashout) see one partition's transfers in Kafka mode (docs/rules.md), so
# the comparisons with file mode run without them.
RULES="$WORK/partition-local-rules.json"
cat > "$RULES" <<'JSON'
{"rules": [{"id": "fan_in", "enabled": false}, {"id": "cycle", "enabled": false},
           {"id": "mule_cashout", "enabled": false}]}
JSON

expected_from_file() { # expected_from_file INPUT ALERTS_OUT DLQ_OUT
    "$FW_BIN" run --quiet --rules "$RULES" --input "$1" --output "$2" --dlq "$3"
}

# Starts an engine in the background with instance id NAME; its log goes to
# $WORK/NAME.log, or $WORK/$LOG_NAME.log when LOG_NAME is set.
start_engine() { # start_engine NAME ARGS...
    local name=$1; shift
    ENGINE_LOG="$WORK/${LOG_NAME:-$name}.log"
    "$FW_BIN" run --rules "$RULES" --input-topic "$PREFIX-in" --output-topic "$PREFIX-out" \
        --dlq-topic "$PREFIX-dlq" --late-topic "$PREFIX-late" \
        --profiles-topic "$PREFIX-profiles" --group-id "$PREFIX" --instance-id "$name" \
        --stats-interval 1 -X session.timeout.ms=6000 -X heartbeat.interval.ms=500 \
        "$@" >> "$ENGINE_LOG" 2>&1 &
    LAST_PID=$!
    PIDS+=("$LAST_PID")
}

# wait_for_log FILE REGEX SECONDS — until a line of FILE matches.
wait_for_log() {
    local deadline=$((SECONDS + $3))
    until grep -qE "$2" "$1" 2>/dev/null; do
        [ $SECONDS -lt $deadline ] || fail "waited $3 s for /$2/ in $1: $(tail -3 "$1" 2>/dev/null)"
        sleep 0.2
    done
}
