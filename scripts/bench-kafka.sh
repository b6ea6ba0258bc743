#!/usr/bin/env bash
# scripts/bench-kafka.sh [COUNT] — Kafka end-to-end throughput against the
# ceiling, in one run against one broker. COUNT generated transactions
# (default 1000000) are loaded into a fresh 3-partition topic. Three readers
# then read all of it with --exit-at-end, each in its own consumer group:
#   pipe       `fraudwatch pipe`: the same records copied exactly once, no work
#              (the ceiling: what Kafka and the client cost here)
#   all rules  `fraudwatch run` with every default rule
#   colocated  the same, with --colocated customer_id,card_id: the generator's
#              customers and cards each belong to one account, so their rules
#              run on the input's tasks, with no stage (what stages cost)
#   stateless  `fraudwatch run` with high_amount only (no state to keep)
# For each it prints the rate from the first record read to the last commit,
# and the ratio to the pipe. For the engine it also prints changelog records
# and bytes per input record. The bytes are what the broker stores on disk
# (lz4), read from the log directory of scripts/kafka-local.
# Environment: FW_BIN (default build/fraudwatch), KAFKA_PORT (9092),
# FW_BENCH_KAFKA_PARTITIONS (3), FW_BENCH_KAFKA_ROUNDS (1: each reader once;
# more: the readers take turns, and the median of each is used).
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT=${1:-1000000}
BIN=${FW_BIN:-build/fraudwatch}
PARTS=${FW_BENCH_KAFKA_PARTITIONS:-3}
ROUNDS=${FW_BENCH_KAFKA_ROUNDS:-1}
PORT=${KAFKA_PORT:-9092}
export KAFKA_BOOTSTRAP_SERVERS=${KAFKA_BOOTSTRAP_SERVERS:-127.0.0.1:$PORT}
DATA=$(realpath -m -- "${KAFKA_DATA_DIR:-${TMPDIR:-/tmp}/fraudwatch-kafka-$PORT}")/data
scripts/kafka-local start >/dev/null
RUN=bench-$(date +%s)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/bench-kafka.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

"$BIN" generate --quiet --count "$COUNT" --fraud-ratio 0.01 --output "$WORK/in.ndjson"
awk '/"enabled"/ && n++ { sub(/true/, "false") } { print }' examples/rules.json \
    > "$WORK/stateless.json" # every rule but the first, high_amount, off
echo "loading $COUNT transactions into $RUN-in ($PARTS partitions) ..."
"$BIN" produce --quiet -t "$RUN-in" -i "$WORK/in.ndjson" --partitions "$PARTS"

# bytes of the log segments of the topics named $1* on the broker's disk
# (not du: the broker preallocates its index files)
disk_bytes() {
    find "$DATA" -path "$DATA/$1*" -name '*.log' -printf '%s\n' 2>/dev/null |
        awk '{ s += $1 } END { printf "%d\n", s }'
}

pipe_rate() { # group
    "$BIN" pipe --input-topic "$RUN-in" --output-topic "$RUN-$1-out" -g "$RUN-$1" -e |
        sed -n 's/.*commit: \([0-9]*\) records\/s.*/\1/p'
}

# engine rate, changelog records; group, rules file ("": the built-in defaults),
# more options of run
engine_run() {
    local log=$WORK/$1.log
    "$BIN" run --input-topic "$RUN-in" --output-topic "$RUN-$1-out" --dlq-topic "$RUN-$1-dlq" \
        --late-topic "$RUN-$1-late" --group-id "$RUN-$1" --instance-id bench \
        ${2:+--rules "$2"} --exit-at-end --stats-interval 0 "${@:3}" > "$log" 2>&1 ||
        { echo "fraudwatch run exited $?:" >&2; tail -5 "$log" >&2; exit 1; }
    local line
    line=$(grep 'stopped: ' "$log" | tail -1)
    echo "$(sed -n 's/.*transactions read (\([0-9]*\)\/s).*/\1/p' <<<"$line")" \
         "$(sed -n 's/.* \([0-9]*\) changelog records.*/\1/p' <<<"$line")"
}

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

declare -A rates changelog
for ((r = 1; r <= ROUNDS; r++)); do
    echo "round $r of $ROUNDS: pipe, all rules, colocated, stateless ..."
    rates[pipe]+="$(pipe_rate "pipe$r") "
    read -r rate recs < <(engine_run "all$r" "")
    rates[all]+="$rate "
    changelog[all]+="$recs "
    read -r rate recs < <(engine_run "colocated$r" "" --colocated customer_id,card_id)
    rates[colocated]+="$rate "
    changelog[colocated]+="$recs "
    read -r rate recs < <(engine_run "stateless$r" "$WORK/stateless.json")
    rates[stateless]+="$rate "
    changelog[stateless]+="$recs "
done
ceiling=$(tr ' ' '\n' <<<"${rates[pipe]}" | grep . | median)
printf '%-10s %12s %9s %24s %22s\n' reader "records/s" "of pipe" "changelog records/input" \
    "changelog bytes/input"
printf '%-10s %12s %9s %24s %22s\n' pipe "$ceiling" "1.00" - -
for kind in all colocated stateless; do
    rate=$(tr ' ' '\n' <<<"${rates[$kind]}" | grep . | median)
    recs=$(tr ' ' '\n' <<<"${changelog[$kind]}" | grep . | median)
    bytes=0
    for ((r = 1; r <= ROUNDS; r++)); do
        bytes=$((bytes + $(disk_bytes "$RUN-$kind$r-state-changelog")))
    done
    awk -v k="$kind" -v rate="$rate" -v c="$ceiling" -v recs="$recs" -v b="$bytes" \
        -v n="$COUNT" -v rounds="$ROUNDS" 'BEGIN {
        name = (k == "all") ? "all rules" : k
        share = (c > 0) ? rate / c : 0
        printf "%-10s %12d %9.2f %24.3f %22.1f\n", name, rate, share, recs / n, b / rounds / n }'
done
echo "(rates: first record read to last commit; the engine's from its \`stopped:\` line;" \
     "$COUNT transactions, $PARTS partitions, one instance each, $ROUNDS round(s))"
