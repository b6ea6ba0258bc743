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

source "$(dirname "${BASH_SOURCE[0]}")/ports.sh" # free_port

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

# The live-rules tests' plumbing: records to one partition of $PREFIX-in,
# the committed alerts of $PREFIX-out.
send() { "$FW_BIN" produce --quiet -t "$PREFIX-in" -i - --partitions 1; }
alerts() { consume_all "$PREFIX-out" 2>/dev/null || true; }

# builtins_off [ID...] — writes $RULES with every built-in detector disabled
# but the IDs given, so a test counts only the alerts of the rules it is about.
builtins_off() {
    local id sep="" keep=" $* "
    {
        printf '{"rules": ['
        for id in high_amount velocity small_then_large rapid_small location_jump \
            account_takeover structuring risk_score fan_in fan_out cycle mule_cashout; do
            [[ $keep == *" $id "* ]] && continue
            printf '%s{"id": "%s", "enabled": false}' "$sep" "$id"
            sep=", "
        done
        printf ']}\n'
    } > "$RULES"
}

# Waits take their timeout in seconds as measured on an idle machine with the
# normal build; scaled_wait stretches it by FW_WAIT_SCALE (tests/tests.cmake
# sets 3 for the ASan build; default 1) and, when the 1-minute load average is
# above the number of cores, by load/cores (rounded up, at most 4), read when
# each wait starts. Waits poll: they return as soon as the condition holds.
FW_WAIT_SCALE=${FW_WAIT_SCALE:-1}
[[ $FW_WAIT_SCALE =~ ^[1-9][0-9]*$ ]] || fail "FW_WAIT_SCALE must be a whole number >= 1, got '$FW_WAIT_SCALE'"
scaled_wait() { # scaled_wait SECONDS — prints the scaled timeout
    local cores load factor
    cores=$(nproc 2>/dev/null || echo 1)
    load=$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo 0)
    factor=$(awk -v l="$load" -v c="$cores" 'BEGIN { f = l / c; f = (f > int(f)) ? int(f) + 1 : int(f);
                                                     if (f < 1) f = 1; if (f > 4) f = 4; print f }')
    echo $(($1 * FW_WAIT_SCALE * factor))
}

# What the engines were doing, for a wait that gave up: the last lines of
# every engine log of this test.
engine_logs_tail() {
    local f
    for f in "$WORK"/*.log; do
        [ -e "$f" ] || continue
        echo "--- last lines of $(basename "$f"):"
        tail -n 4 "$f" | cut -c1-400
    done
}

# give_up WHAT SECONDS SEEN — fails saying what was awaited, for how long
# (and how the timeout was scaled), what was seen, and the engines' logs.
give_up() {
    echo "--- gave up waiting for $1 after $2 s (FW_WAIT_SCALE=$FW_WAIT_SCALE, load $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null), $(nproc) cores); seen: $3" >&2
    engine_logs_tail >&2
    fail "waited $2 s for $1; seen: $3"
}

# wait_for_count TOPIC N SECONDS — until the topic holds N committed messages.
# A count that stands still for FW_STALL_SECONDS (scaled; default 180) gives
# up early: a stalled engine fails with its logs, not at the test's timeout.
wait_for_count() {
    local topic=$1 want=$2 limit stall have=0 last=-1
    limit=$(scaled_wait "$3")
    stall=$(scaled_wait "${FW_STALL_SECONDS:-180}")
    local deadline=$((SECONDS + limit)) moved=$SECONDS
    while [ $SECONDS -lt $deadline ]; do
        have=$( (consume_all "$topic" 2>/dev/null || true) | wc -l)  # the topic may not exist yet
        [ "$have" -ge "$want" ] && return 0
        if [ "$have" != "$last" ]; then
            last=$have moved=$SECONDS
        elif [ $((SECONDS - moved)) -ge "$stall" ]; then
            give_up "$want committed messages in topic $topic" "$((SECONDS - moved))" \
                "$have messages, none new for $((SECONDS - moved)) s"
        fi
        sleep 1
    done
    give_up "$want committed messages in topic $topic" "$limit" "$have messages"
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

# Expected alerts and dead-letter count from file mode (the same detection code),
# with every built-in rule: on several partitions the rules keyed by anything
# but the account (fan_in, cycle, mule_cashout, the customer's and the card's
# rules) run behind repartition topics and see what file mode sees.
RULES="$WORK/rules.json"
echo '{"rules": []}' > "$RULES"

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
        --profiles-topic "$PREFIX-profiles" --rules-topic "$PREFIX-rules" --lists-topic "$PREFIX-lists" \
        --rules-status-topic "$PREFIX-rules-status" --group-id "$PREFIX" --instance-id "$name" \
        --stats-interval 1 --session-timeout-ms 6000 --heartbeat-interval-ms 500 \
        "$@" >> "$ENGINE_LOG" 2>&1 &
    LAST_PID=$!
    PIDS+=("$LAST_PID")
}

# wait_for_log FILE REGEX SECONDS — until a line of FILE matches.
wait_for_log() {
    local limit
    limit=$(scaled_wait "$3")
    local deadline=$((SECONDS + limit))
    until grep -qE "$2" "$1" 2>/dev/null; do
        [ $SECONDS -lt $deadline ] ||
            give_up "a line matching /$2/ in $(basename "$1")" "$limit" \
                "$(wc -l < "$1" 2>/dev/null || echo 0) lines, none matching"
        sleep 0.2
    done
}

# wait_until SECONDS WHAT SEEN COMMAND... — until COMMAND succeeds (polled);
# on give-up, SEEN (a command; "-" for none) says what was seen instead.
wait_until() {
    local limit what=$2 seen=$3
    limit=$(scaled_wait "$1")
    shift 3
    local deadline=$((SECONDS + limit))
    until "$@"; do
        [ $SECONDS -lt $deadline ] ||
            give_up "$what" "$limit" "$([ "$seen" = - ] && echo "not yet" || $seen)"
        sleep 0.3
    done
}

# wait_for_exit PID SECONDS WHAT — until the process exits; its status is
# returned in WAIT_STATUS (a give-up kills nothing: cleanup does).
wait_for_exit() {
    local limit
    limit=$(scaled_wait "$2")
    local deadline=$((SECONDS + limit))
    while kill -0 "$1" 2>/dev/null; do
        [ $SECONDS -lt $deadline ] || give_up "$3 to exit" "$limit" "still running"
        sleep 0.2
    done
    WAIT_STATUS=0
    wait "$1" || WAIT_STATUS=$?
}

# wait_for_clean_exit PID SECONDS WHAT LOG — as wait_for_exit, and fails with
# the tail of LOG unless the process exited with status 0.
wait_for_clean_exit() {
    wait_for_exit "$1" "$2" "$3"
    [ "$WAIT_STATUS" = 0 ] || fail "$3: exit status $WAIT_STATUS (log: $(tail -5 "$4" 2>/dev/null))"
}
