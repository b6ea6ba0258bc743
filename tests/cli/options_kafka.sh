#!/usr/bin/env bash
# tests/cli/options_kafka.sh — the options tables of generate, produce and
# consume (issue 12): --help generated within 80 columns with every option's
# FW_ environment name, "did you mean" for an unknown option, bad numbers and
# missing files exit 2 naming the flag or file, FW_ names take effect. None
# of this needs a broker: each case fails before one is asked.
set -uo pipefail
: "${FW_BIN:?FW_BIN must point at the fraudwatch binary}"
fail() { echo "FAIL (options_kafka): $*" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# An unreachable broker, should a case reach Kafka after all.
export FW_BOOTSTRAP_SERVERS=127.0.0.1:1
unset KAFKA_BOOTSTRAP_SERVERS KAFKA_BROKER_ADDRESS INPUT_TOPIC KAFKA_SOURCE_TOPIC KAFKA_TOPIC

# expect CMD RC PATTERN ARGS...: runs fraudwatch CMD ARGS, checks the exit
# status and that stdout+stderr contain PATTERN.
expect() {
    local cmd=$1 want=$2 pat=$3
    shift 3
    local out rc
    out=$("$FW_BIN" "$cmd" "$@" 2>&1); rc=$?
    [ "$rc" = "$want" ] || fail "$cmd $*: exit $rc, expected $want; output: $(echo "$out" | head -3)"
    case "$out" in *"$pat"*) ;; *) fail "$cmd $*: expected \"$pat\", got: $(echo "$out" | head -3)" ;; esac
}

# check_help CMD OPTION:ENV...: --help exits 0, fits 80 columns, lists each
# OPTION with its ENV, and every option it lists (but --help) has an FW_ name.
check_help() {
    local cmd=$1
    shift
    "$FW_BIN" "$cmd" --help > "$tmp/help" 2>&1; local rc=$?
    [ "$rc" = 0 ] || fail "$cmd --help: exit $rc, expected 0"
    local long
    long=$(awk 'length($0) > 80 { printf "%d: %d columns: %s\n", NR, length($0), $0 }' "$tmp/help")
    [ -z "$long" ] || fail "$cmd --help: lines over 80 columns:
$long"
    # One paragraph per option: its flag line and the indented lines after it.
    awk '/^  (-[A-Za-z], )?--|^      --/ { if (p != "") print p; p = $0; next }
         /^                                / && p != "" { p = p " " $0; next }
         { if (p != "") print p; p = "" }
         END { if (p != "") print p }' "$tmp/help" | tr -s ' ' > "$tmp/paras"
    local pair opt env para
    for pair in "$@"; do
        opt=${pair%%:*} env=${pair#*:}
        para=$(grep -E -- "(^| )--$opt( |,|$)" "$tmp/paras" | head -1)
        [ -n "$para" ] || fail "$cmd --help: no --$opt"
        case "$para" in *"$env"*) ;; *) fail "$cmd --help: --$opt without $env: $para" ;; esac
    done
    while IFS= read -r para; do
        case "$para" in *"--help "*) continue ;; esac
        case "$para" in *FW_*) ;; *) fail "$cmd --help: an option without an FW_ name: $para" ;; esac
    done < "$tmp/paras"
    local n
    n=$(wc -l < "$tmp/paras")
    [ "$n" -gt "$#" ] || fail "$cmd --help: $n options, expected more than $#"
}

kafka_opts=(bootstrap-servers:FW_BOOTSTRAP_SERVERS kafka-config:FW_KAFKA_CONFIG)

# --- generate
check_help generate topic:FW_INPUT_TOPIC partitions:FW_PARTITIONS output:FW_GENERATE_OUTPUT \
    count:FW_GENERATE_COUNT interval:FW_GENERATE_INTERVAL rate:FW_GENERATE_RATE \
    seed:FW_GENERATE_SEED fraud-ratio:FW_GENERATE_FRAUD_RATIO \
    customers:FW_GENERATE_CUSTOMERS start:FW_GENERATE_START scenarios:FW_GENERATE_SCENARIOS \
    wall-clock:FW_GENERATE_WALL_CLOCK quiet:FW_QUIET progress:FW_PROGRESS "${kafka_opts[@]}"
grep -q "KAFKA_SOURCE_TOPIC" "$tmp/help" || fail "generate --help: the older topic names are gone"
expect generate 2 "did you mean --seed?" --seeed 3 -o -
expect generate 2 "(see fraudwatch generate --help)" --seeed 3 -o -
expect generate 2 "--count" --count abc -o -
expect generate 2 "--customers" --customers 0 -o -
expect generate 2 "--fraud-ratio" --fraud-ratio 1.5 -o -
expect generate 2 "--interval" --interval 90000 -o -
expect generate 2 "/nonexistent-dir/x" -n 3 -q -o /nonexistent-dir/x
lines=$(FW_GENERATE_COUNT=3 "$FW_BIN" generate -q -o - 2>/dev/null | wc -l)
[ "$lines" = 3 ] || fail "FW_GENERATE_COUNT=3: $lines records, expected 3"
lines=$(FW_GENERATE_COUNT=3 "$FW_BIN" generate -q -n 2 -o - 2>/dev/null | wc -l)
[ "$lines" = 2 ] || fail "FW_GENERATE_COUNT=3 -n 2: $lines records, expected 2 (a flag wins)"
same1=$(FW_GENERATE_SEED=7 "$FW_BIN" generate -q -n 5 -o - 2>/dev/null | md5sum)
same2=$("$FW_BIN" generate -q -n 5 -s 7 -o - 2>/dev/null | md5sum)
[ "$same1" = "$same2" ] || fail "FW_GENERATE_SEED=7 and -s 7 gave different records"
# --wall-clock: each timestamp is the time the record was written, in order:
# 20 records at 100/s span about 0.2 s, between the times taken around them.
before=$(date -u +%FT%T.%3NZ)
FW_GENERATE_WALL_CLOCK=1 "$FW_BIN" generate -q -n 20 --rate 100 -o - 2>/dev/null |
    sed 's/.*"timestamp":"\([^"]*\)".*/\1/' > "$tmp/stamps"
after=$(date -u +%FT%T.%3NZ)
[ "$(wc -l < "$tmp/stamps")" = 20 ] || fail "--wall-clock: $(wc -l < "$tmp/stamps") records, expected 20"
sort -c "$tmp/stamps" || fail "--wall-clock: timestamps out of order: $(tr '\n' ' ' < "$tmp/stamps")"
first=$(head -1 "$tmp/stamps") last=$(tail -1 "$tmp/stamps")
[[ ! $first < $before && ! $after < $last ]] ||
    fail "--wall-clock: stamps $first .. $last not within $before .. $after"
[ "$first" != "$last" ] || fail "--wall-clock: every record has the same time $first at 100/s"

# --- produce
check_help produce topic:FW_PRODUCE_TOPIC input:FW_PRODUCE_INPUT \
    key-separator:FW_PRODUCE_KEY_SEPARATOR partition:FW_PRODUCE_PARTITION \
    rate:FW_PRODUCE_RATE partitions:FW_PARTITIONS quiet:FW_QUIET "${kafka_opts[@]}"
expect produce 2 "did you mean --topic?" --topix x -i /dev/null
expect produce 2 "--partitions" -t x -i /dev/null --partitions 0
expect produce 2 "--rate" -t x -i /dev/null --rate fast
expect produce 2 "--topic and --input are required" -t x
expect produce 2 "/nonexistent-file" -t x -i /nonexistent-file
FW_PRODUCE_INPUT=/nonexistent-env-file expect produce 2 "/nonexistent-env-file" -t x
FW_PARTITIONS=0 expect produce 2 "FW_PARTITIONS" -t x -i /dev/null

# --- consume
check_help consume topic:FW_CONSUME_TOPIC format:FW_CONSUME_FORMAT count:FW_CONSUME_COUNT \
    exit-at-end:FW_EXIT_AT_END timeout-ms:FW_CONSUME_TIMEOUT_MS \
    read-uncommitted:FW_CONSUME_READ_UNCOMMITTED "${kafka_opts[@]}"
expect consume 2 "did you mean --format?" -t x --formt pretty
expect consume 2 "--timeout-ms" -t x --timeout-ms soon
expect consume 2 "--count" -t x -n -1
expect consume 2 "--topic" --format raw
FW_CONSUME_FORMAT=bogus expect consume 2 "FW_CONSUME_FORMAT" -t x
expect consume 2 "expected raw, pretty, dlq, latency or meta" -t x --format csv

echo "ok: generate, produce and consume options tables"
