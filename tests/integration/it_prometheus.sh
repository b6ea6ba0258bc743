#!/usr/bin/env bash
# it_prometheus.sh — the monitoring kit in deploy/ against a real engine and a
# real Prometheus: promtool checks deploy/prometheus/alerts.yml and runs its
# unit tests (tests/prometheus/alerts_test.yml: each alert fires on the series
# it is about and not on the others); an engine (ml_score on, a backlog with
# malformed records, then live traffic) serves /metrics; a Prometheus started
# from a copy of deploy/prometheus/prometheus.yml (its target this engine,
# scraping every second, `promtool check config` first) scrapes it and
# evaluates the alert rules without error; and every query of the Grafana
# dashboard (deploy/grafana/dashboards/fraudwatch.json) returns data from
# Prometheus' HTTP API, so no panel names a metric or label the engine does not
# export. Two engines share the input, as in deploy/: Prometheus scrapes both.
# IT_PROMETHEUS_DASHBOARD checks another dashboard file instead;
# it_package_monitored.sh runs this test with FW_BIN the packaged binary.
source "$(dirname "$0")/lib.sh"

for tool in prometheus promtool; do
    command -v "$tool" > /dev/null ||
        { echo "SKIP: $tool is not installed (Debian package prometheus; scripts/deps.sh)" >&2
          exit 77; }
done
command -v curl > /dev/null || { echo "SKIP: curl is not installed" >&2; exit 77; }
command -v python3 > /dev/null || { echo "SKIP: python3 is not installed" >&2; exit 77; }
echo "prometheus: $(prometheus --version 2>&1 | head -1)"

PROM_DIR="$FW_SRC/deploy/prometheus"
DASH=${IT_PROMETHEUS_DASHBOARD:-$FW_SRC/deploy/grafana/dashboards/fraudwatch.json}
DS_FILE="$FW_SRC/deploy/grafana/provisioning/datasources/prometheus.yaml"

# 1. The rules: valid, and their unit tests pass.
promtool check rules "$PROM_DIR/alerts.yml" > "$WORK/check-rules.out" 2>&1 ||
    fail "promtool check rules alerts.yml: $(cat "$WORK/check-rules.out")"
echo "ok: promtool check rules: $(grep -o '[0-9]* rules found' "$WORK/check-rules.out")"
promtool test rules "$FW_SRC/tests/prometheus/alerts_test.yml" > "$WORK/test-rules.out" 2>&1 ||
    fail "promtool test rules tests/prometheus/alerts_test.yml:
$(head -60 "$WORK/test-rules.out")"
echo "ok: promtool test rules tests/prometheus/alerts_test.yml"

# 2. The dashboard: JSON, every panel on the provisioned datasource, one query at least.
ds_uid=$(awk '$1 == "uid:" { print $2; exit }' "$DS_FILE")
[ -n "$ds_uid" ] || fail "no uid in $DS_FILE"
python3 - "$DASH" "$ds_uid" > "$WORK/queries.tsv" 2> "$WORK/dash.err" <<'EOF' ||
import json, sys
dash, uid = json.load(open(sys.argv[1])), sys.argv[2]
bad = []
def panels(ps):
    for p in ps:
        yield p
        yield from panels(p.get("panels", []))
n = 0
for p in panels(dash["panels"]):
    if p.get("type") == "row":
        continue
    if p.get("datasource", {}).get("uid") != uid:
        bad.append("panel %r: datasource %r, not uid %r"
                   % (p.get("title"), p.get("datasource"), uid))
    targets = [t for t in p.get("targets", []) if t.get("expr")]
    if not targets:
        bad.append("panel %r: no query" % p.get("title"))
    for t in targets:
        n += 1
        print("%s [%s]\t%s" % (p["title"], t.get("refId"), " ".join(t["expr"].split())))
if n == 0:
    bad.append("no query at all")
for b in bad:
    print(b, file=sys.stderr)
sys.exit(1 if bad else 0)
EOF
    fail "dashboard $(basename "$DASH"): $(cat "$WORK/dash.err")"
echo "ok: dashboard: $(wc -l < "$WORK/queries.tsv") queries, every panel on datasource $ds_uid"

# 3. An engine with /metrics: ml_score on (its metrics), a backlog with dead
# letters, then live traffic so that every rate has something to show.
"$FW_BIN" generate --quiet --seed 11 --count 20000 --output "$WORK/train.ndjson" \
    2> "$WORK/generate.out" || fail "generate: $(tail -3 "$WORK/generate.out")"
"$FW_BIN" train --quiet --input "$WORK/train.ndjson" --output "$WORK/model.json" --rounds 10 \
    > "$WORK/train.out" 2>&1 || fail "train: $(tail -3 "$WORK/train.out")"
make_input "$WORK/in.ndjson" 3000
records=$(wc -l < "$WORK/in.ndjson")
backlog_from_ms=$(($(date +%s%N) / 1000000))
"$FW_BIN" produce --quiet -t "$PREFIX-in" -i "$WORK/in.ndjson" --partitions 2
engines_from_ms=$(($(date +%s%N) / 1000000))
MPORT=$(free_port $((19400 + RANDOM % 400)))
MPORT2=$(free_port $((MPORT + 1)))
start_engine engine --model "$WORK/model.json" --metrics-port "$MPORT" --metrics-bind 127.0.0.1
ENGINE_PID=$LAST_PID
wait_for_log "$WORK/engine.log" "assigned" 60
start_engine engine2 --model "$WORK/model.json" --metrics-port "$MPORT2" \
    --metrics-bind 127.0.0.1
ENGINE2_PID=$LAST_PID
wait_for_log "$WORK/engine2.log" "assigned" 60
"$FW_BIN" generate --quiet -t "$PREFIX-in" --seed 3 --fraud-ratio 0.05 --rate 50 --count 0 \
    --wall-clock > "$WORK/live.out" 2>&1 &
PIDS+=("$!")

# 4. Prometheus from a copy of prometheus.yml: this engine, every second.
mkdir -p "$WORK/prom/data"
cp "$PROM_DIR/alerts.yml" "$WORK/prom/"
sed -e 's/^\(  *\)- targets: .*/\1- targets: ["127.0.0.1:'"$MPORT"'", "127.0.0.1:'"$MPORT2"'"]/' \
    -e 's/^\(  *scrape_interval:\) .*/\1 1s/' -e 's/^\(  *evaluation_interval:\) .*/\1 1s/' \
    "$PROM_DIR/prometheus.yml" > "$WORK/prom/prometheus.yml"
for want in "targets: \[\"127.0.0.1:$MPORT\", \"127.0.0.1:$MPORT2\"\]" "scrape_interval: 1s" \
    "evaluation_interval: 1s"; do
    grep -q "$want" "$WORK/prom/prometheus.yml" ||
        fail "could not point the copy of prometheus.yml at the engine: no '$want'"
done
promtool check config "$WORK/prom/prometheus.yml" > "$WORK/check-config.out" 2>&1 ||
    fail "promtool check config: $(cat "$WORK/check-config.out")"
echo "ok: promtool check config (targets :$MPORT and :$MPORT2, every 1s, rule_files alerts.yml)"
PPORT=$(free_port $((19900 + RANDOM % 80)))
PROM="http://127.0.0.1:$PPORT"
prometheus --config.file="$WORK/prom/prometheus.yml" --storage.tsdb.path="$WORK/prom/data" \
    --web.listen-address="127.0.0.1:$PPORT" > "$WORK/prometheus.log" 2>&1 &
PROM_PID=$!
PIDS+=("$PROM_PID")

# query EXPR — "N VALUE": the number of series of an instant query and the
# first one's value ("error: ..." when Prometheus refuses it).
query() {
    curl -sf --max-time 5 "$PROM/api/v1/query" --data-urlencode "query=$1" |
        python3 -c '
import json, sys
try:
    d = json.load(sys.stdin)
except ValueError:
    print("0 no answer"); sys.exit()
if d.get("status") != "success":
    print("0 error: %s" % d.get("error")); sys.exit()
r = d["data"]["result"]
print(len(r), r[0]["value"][1] if r else "-")'
}
has_data() { [ "$(query "$1" | cut -d' ' -f1)" -gt 0 ]; }
prom_ready() { curl -sf --max-time 2 "$PROM/-/ready" > /dev/null; }
prom_log() { tail -3 "$WORK/prometheus.log" | cut -c1-300; }
wait_until 30 "Prometheus ready on port $PPORT" prom_log prom_ready
scrape_up() { [ "$(query 'count(up{job="fraudwatch"} == 1)' | cut -d' ' -f2)" = 2 ]; }
scrape_seen() {
    echo "up: $(query 'up{job="fraudwatch"}');" \
        "$(curl -s "$PROM/api/v1/targets" | grep -o '"lastError":"[^"]*"' | head -1)"
}
wait_until 30 "the scrapes of both engines up" scrape_seen scrape_up
echo "ok: Prometheus on port $PPORT scrapes both engines"

# The backlog read, and enough scrapes that a 30 s rate has points to go on.
read_all() { has_data "sum(fraudwatch_transactions_read_total) >= $records"; }
read_seen() { echo "$(query 'sum(fraudwatch_transactions_read_total)' | cut -d' ' -f2) records read"; }
wait_until 60 "the engine to read the $records records of the backlog" read_seen read_all
scraped() { has_data 'count_over_time(fraudwatch_transactions_read_total[30s]) >= 10'; }
wait_until 30 "10 scrapes in 30 s" - scraped
echo "ok: $records records read, 10 scrapes in the last 30 s"

# 5. Every dashboard query returns data. Grafana's variables as it would fill
# them: $__rate_interval for a 1 s scrape, the time range, "All" engines.
n=0
while IFS=$'\t' read -r -u 3 title expr; do
    q=$(sed -e 's/\$__rate_interval/30s/g' -e 's/\$__interval/5s/g' -e 's/\$__range/5m/g' \
        -e 's/\${\{0,1\}instance}\{0,1\}/.+/g' <<< "$expr")
    [[ $q != *'$'* ]] || fail "panel '$title': a variable the test does not fill: $q"
    panel_data() { has_data "$q"; }
    panel_seen() { query "$q"; }
    wait_until 15 "data for panel '$title': $q" panel_seen panel_data
    echo "ok: panel '$title': $(query "$q" | awk '{ print $1 " series, first " $2 }')"
    n=$((n + 1))
done 3< "$WORK/queries.tsv"
echo "ok: all $n dashboard queries return data"

# Processing latency is measured from the input record's Kafka timestamp, which its
# copies in the stage topics keep as their own: the copies of the backlog, produced
# before the engines started, are stamped with the backlog's produce time, not later.
stage_topic=$(sed -n 's/.*stage receiver: rules keyed by .* read \([^ ]*\) .*/\1/p' \
    "$WORK/engine.log" | head -1)
[ -n "$stage_topic" ] || fail "engine.log names no receiver stage topic"
# The first 300 records (no -e: with live traffic the partitions are never all at
# their ends at once).
"$FW_BIN" consume -t "$stage_topic" --format meta -n 300 --timeout-ms 60000 \
    > "$WORK/stage.out" 2> "$WORK/stage.err" || fail "consume $stage_topic: $(tail -2 "$WORK/stage.err")"
read -r copies early late < <(awk -v from="$backlog_from_ms" -v to="$engines_from_ms" '
    NF < 6 { next }                                  # a watermark record: no value
    { n++; if ($3 < from) early++; else if ($3 <= to) backlog++ }
    END { printf "%d %d %d\n", n, early, backlog }' "$WORK/stage.out")
[ "$copies" -gt 0 ] && [ "$early" -eq 0 ] && [ "$late" -gt 0 ] ||
    fail "of $copies transactions in $stage_topic, $late are stamped with the backlog's produce" \
         "time ($backlog_from_ms..$engines_from_ms ms) and $early before it: want some, and none"
processed=$(query 'sum(fraudwatch_processing_latency_seconds_count)' | cut -d' ' -f2)
[ "${processed%.*}" -gt 0 ] 2> /dev/null || fail "no alert's processing latency measured: $processed"
echo "ok: $late of the $copies transactions in $stage_topic carry the backlog's produce time;" \
     "${processed%.*} alerts' processing latency measured"

# 6. Prometheus evaluates every alert rule without error.
rules_health() {
    curl -sf --max-time 5 "$PROM/api/v1/rules" | python3 -c '
import json, sys
rs = [r for g in json.load(sys.stdin)["data"]["groups"] for r in g["rules"]]
print(len(rs), " ".join(sorted(set(r["health"] for r in rs))),
      "; ".join("%s: %s" % (r["name"], r["lastError"]) for r in rs if r.get("lastError")))'
}
n_rules=$(grep -c '^ *- alert:' "$PROM_DIR/alerts.yml")
rules_ok() { [ "$(rules_health)" = "$n_rules ok " ]; }
wait_until 20 "the $n_rules alert rules evaluated, health ok" rules_health rules_ok
echo "ok: Prometheus evaluates the $n_rules alert rules without error"

kill -TERM "$PROM_PID"
wait_for_clean_exit "$PROM_PID" 30 "prometheus after SIGTERM" "$WORK/prometheus.log"
kill -TERM "$ENGINE_PID" "$ENGINE2_PID"
wait_for_clean_exit "$ENGINE_PID" 60 "the engine after SIGTERM" "$WORK/engine.log"
wait_for_clean_exit "$ENGINE2_PID" 60 "the second engine after SIGTERM" "$WORK/engine2.log"
echo "PASS $TEST_NAME"
