#!/usr/bin/env bash
# tests/cli/effective_config.sh — `run` in Kafka mode prints its effective
# configuration at start: each option with its value and where it came from
# (a flag, a variable, the rules file or the default), secrets redacted. The
# broker here does not exist: the lines come before any connection.
set -uo pipefail
: "${FW_BIN:?FW_BIN must point at the fraudwatch binary}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL effective_config: $*" >&2; exit 1; }
unset FW_GROUP_ID GROUP_ID KAFKA_GROUP_ID FW_INPUT_TOPIC INPUT_TOPIC KAFKA_SOURCE_TOPIC \
    FW_KAFKA_CONFIG FW_RULES RULES_FILE FW_API_TOKEN FW_FRAUD_THRESHOLD FRAUD_THRESHOLD

"$FW_BIN" rules > "$tmp/rules.json" || fail "fraudwatch rules"
FW_INPUT_TOPIC=payments FW_API_TOKEN=s3cr3t-token FW_FRAUD_THRESHOLD=0.7 \
    timeout 5 "$FW_BIN" run -b 127.0.0.1:1 \
    --group-id g1 -X sasl.password=hunter2 -X linger.ms=7 --rules "$tmp/rules.json" \
    > /dev/null 2> "$tmp/err.txt"
line() { grep -E "^fraudwatch:   --$1 " "$tmp/err.txt" | sed 's/  */ /g'; }
expect() { # expect OPTION "VALUE FROM"
    [ "$(line "$1")" = "fraudwatch: --$1 $2" ] || fail "--$1: '$(line "$1")', expected '$2'"
    echo "ok: --$1 $2"
}
grep -q "^fraudwatch: configuration (option, value, where it came from):" "$tmp/err.txt" ||
    fail "no configuration block: $(head -3 "$tmp/err.txt")"
expect group-id "g1 --group-id"
expect input-topic "payments env FW_INPUT_TOPIC"
expect output-topic "fraud-alerts default"
expect api-token "(redacted) env FW_API_TOKEN"
expect kafka-config "sasl.password=(redacted) linger.ms=7 --kafka-config"
expect amount-limit "5000 rules file or default"
expect fraud-threshold "0.7 env FW_FRAUD_THRESHOLD, unless the rules file sets it"
! grep -q "s3cr3t-token\|hunter2" "$tmp/err.txt" || fail "a secret was printed"
echo "ok: no secret printed"
# File mode prints none: its stderr is the run's summary.
"$FW_BIN" generate -q -n 10 -o "$tmp/tx.ndjson" 2> /dev/null
"$FW_BIN" run -i "$tmp/tx.ndjson" -o /dev/null 2> "$tmp/file.txt" || fail "file-mode run"
! grep -q "configuration" "$tmp/file.txt" || fail "file mode printed its configuration"
echo "PASS effective_config"
