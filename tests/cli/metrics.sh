#!/usr/bin/env bash
# tests/cli/metrics.sh — `fraudwatch run --metrics-port` in file mode, end to
# end: usage errors naming the flag, then a run whose input comes through a
# FIFO so that it stays up while /metrics is scraped with curl. File mode
# publishes every 4,096 lines, so after 8,192 lines the scrape must say 8192
# transactions read exactly (waited for, never slept on). Also /health, 404,
# 405, the port already in use (exit 1), and a clean exit once the input ends
# with the same alerts as a run without metrics. Without --metrics-bind it
# listens on 127.0.0.1 only; --bind is a synonym. The port is picked at
# random and another is tried when it is taken, so parallel runs never collide.
set -euo pipefail
: "${FW_BIN:?FW_BIN must point at the fraudwatch binary}"
unset METRICS_PORT METRICS_BIND MODEL_PATH API_ENDPOINT_URL
tmp=$(mktemp -d)
pid=
cleanup() {
    exec 3>&- 2>/dev/null || true
    if [ -n "$pid" ]; then
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT

fail() {
    echo "FAIL metrics: $*" >&2
    [ -f "$tmp/run.log" ] && sed 's/^/  run.log: /' "$tmp/run.log" >&2
    exit 1
}
# 77: ctest's SKIP_RETURN_CODE, so a skip is never counted as a pass.
command -v curl >/dev/null || { echo "SKIP: curl is not installed" >&2; exit 77; }

# ---- usage ----
help=$("$FW_BIN" run --help) # captured: grep -q would close the pipe early
for want in --metrics-port --metrics-bind METRICS_PORT docs/monitoring.md "--bind ADDR" \
    METRICS_BIND "127.0.0.1, this host only" "--bind 0.0.0.0"; do
    grep -q -- "$want" <<<"$help" || fail "--help lacks $want"
done
awk '/^Monitoring/,/^$/ { if (length > 80) { print; bad = 1 } } END { exit bad }' \
    <<<"$help" || fail "help lines over 80 columns"
expect_exit() { # STATUS MESSAGE ARGS...
    local want=$1 msg=$2 rc=0
    shift 2
    "$FW_BIN" run "$@" < /dev/null > /dev/null 2> "$tmp/err" || rc=$?
    [ "$rc" = "$want" ] || fail "run $* exited $rc, expected $want ($(cat "$tmp/err"))"
    grep -qF -- "$msg" "$tmp/err" || fail "run $*: stderr lacks '$msg': $(cat "$tmp/err")"
}
expect_exit 2 "--metrics-port" --input - --metrics-port 70000
expect_exit 2 "--metrics-port" --input - --metrics-port nine
expect_exit 2 "--metrics-bind" --input - --metrics-port 9464 --metrics-bind localhost
METRICS_PORT=x expect_exit 2 "METRICS_PORT" --input -
expect_exit 2 '--bind: expected an IPv4 or IPv6 address, got "localhost"' --input - \
    --metrics-port 9464 --bind localhost
METRICS_BIND=anywhere expect_exit 2 'METRICS_BIND: expected an IPv4 or IPv6 address' --input -
echo "ok: metrics usage errors"

# ---- a run fed through a FIFO ----
"$FW_BIN" generate -n 10000 -o "$tmp/tx.ndjson" 2>/dev/null
"$FW_BIN" run --quiet --input "$tmp/tx.ndjson" -o "$tmp/plain.ndjson"
mkfifo "$tmp/in"
started=
for _ in $(seq 1 20); do
    port=$((20000 + RANDOM % 40000))
    # No --metrics-bind: the default is this host only.
    METRICS_PORT=$port "$FW_BIN" run --input "$tmp/in" -o "$tmp/alerts.ndjson" \
        2> "$tmp/run.log" &
    pid=$!
    # The server is up before the input is opened: the start-up line, or an exit.
    for _ in $(seq 1 300); do
        if grep -q "metrics on http://" "$tmp/run.log"; then
            grep -q "metrics on http://127.0.0.1:$port/metrics" "$tmp/run.log" ||
                fail "not on 127.0.0.1:$port: $(grep "metrics on" "$tmp/run.log")"
            started=1 && break
        fi
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    [ -n "$started" ] && break
    wait "$pid" 2>/dev/null || true
    pid=
    grep -q "cannot listen on port $port" "$tmp/run.log" || fail "did not start"
done
[ -n "$started" ] || fail "no free port in 20 tries"
url="http://127.0.0.1:$port"
exec 3> "$tmp/in"
if command -v ss >/dev/null; then
    listen=$(ss -Hltn "sport = :$port" | awk '{ print $4 }')
    [ "$listen" = "127.0.0.1:$port" ] || fail "listening on '$listen', expected 127.0.0.1:$port"
else
    echo "SKIP: ss is not installed: the listening address not checked" >&2
    skipped=1 # the rest runs; the test ends with 77
fi
echo "ok: without --metrics-bind it listens on 127.0.0.1 only"

code=$(curl -s -o "$tmp/health" -w '%{http_code}' "$url/health") || true
[ "$code" = 200 ] && [ "$(cat "$tmp/health")" = ok ] || fail "GET /health gave $code"
code=$(curl -s -o /dev/null -w '%{http_code}' "$url/other") || true
[ "$code" = 404 ] || fail "GET /other gave $code, expected 404"
code=$(curl -s -D "$tmp/headers" -o /dev/null -w '%{http_code}' -X POST "$url/metrics") || true
[ "$code" = 405 ] && grep -qi '^Allow: GET, HEAD' "$tmp/headers" || fail "POST /metrics: $code"
echo "ok: /health, 404, 405 on port $port"

head -n 8192 "$tmp/tx.ndjson" >&3
scrape() { curl -s -D "$tmp/headers" -o "$tmp/metrics" "$url/metrics"; }
value() { awk -v s="$1" '$1 == s { print $2 }' "$tmp/metrics"; }
for _ in $(seq 1 300); do
    scrape || fail "scrape failed"
    [ "$(value fraudwatch_transactions_read_total)" = 8192 ] && break
    kill -0 "$pid" 2>/dev/null || fail "fraudwatch died"
    sleep 0.1
done
[ "$(value fraudwatch_transactions_read_total)" = 8192 ] ||
    fail "transactions read: $(value fraudwatch_transactions_read_total), expected 8192"
grep -qi '^Content-Type: text/plain; version=0.0.4' "$tmp/headers" || fail "Content-Type"
for family in transactions_read_total alerts_total alerts_deduplicated_total dead_letters_total \
    late_records_total behind_watermark_total over_limit_total; do
    grep -qx "# TYPE fraudwatch_$family counter" "$tmp/metrics" || fail "no counter $family"
done
for family in info start_time_seconds entities watermark_seconds; do
    grep -qx "# TYPE fraudwatch_$family gauge" "$tmp/metrics" || fail "no gauge $family"
done
! grep -q "kafka_transactions\|fraudwatch_ml_" "$tmp/metrics" || fail "Kafka or ml metrics"
[ "$(grep -c '^fraudwatch_alerts_total{rule="[a-z_]*"} [0-9]*$' "$tmp/metrics")" = 13 ] ||
    fail "not one alerts_total series per rule"
grep -q '^fraudwatch_info{mode="file",instance_id="[^"]*"} 1$' "$tmp/metrics" || fail "info"
now=$(date +%s)
awk -v now="$now" '$1 == "fraudwatch_start_time_seconds" { ok = $2 > now - 600 && $2 <= now + 1 }
    END { exit !ok }' "$tmp/metrics" || fail "start time"
awk '$1 == "fraudwatch_watermark_seconds" { ok = $2 > 1e9 } END { exit !ok }' \
    "$tmp/metrics" || fail "watermark"
alerts_then=$(awk '/^fraudwatch_alerts_total\{/ { n += $2 } END { print n + 0 }' "$tmp/metrics")
echo "ok: scraped while running: 8192 transactions read, $alerts_then alerts so far"

# A second run on the same port: exit 1, naming the port.
expect_exit 1 "cannot listen on port $port of 127.0.0.1" --input - --metrics-port "$port" \
    --bind 127.0.0.1
echo "ok: port in use exits 1"

# ---- the end of the input: a clean exit, the same alerts as without metrics ----
tail -n +8193 "$tmp/tx.ndjson" >&3
exec 3>&-
rc=0
wait "$pid" || rc=$?
pid=
[ "$rc" = 0 ] || fail "exit status $rc, expected 0"
grep -q "fraudwatch: 10000 records" "$tmp/run.log" || fail "no summary line"
cmp -s "$tmp/alerts.ndjson" "$tmp/plain.ndjson" || fail "alerts differ from a run without metrics"
[ "$alerts_then" -le "$(wc -l < "$tmp/alerts.ndjson")" ] || fail "more alerts counted than written"
curl -s -o /dev/null "$url/health" && fail "still serving after the exit"
echo "ok: clean exit, same alerts as without metrics"
[ -z "${skipped:-}" ] || exit 77 # a check was skipped: not a pass (SKIP above)
