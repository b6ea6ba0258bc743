#!/usr/bin/env bash
# it_console_browser.sh — the console's web page in a real Chromium, against
# the real broker and PostgreSQL: a handful of alerts (one with a
# <script> in its merchant_id and an <img onerror> as its entity id, one
# with coordinates, one with model contributions, one entity id holding
# "/", "=" and ">", shadow alerts of velocity_v2 beside live ones of
# velocity) are stored by `fraudwatch console`, then
# tests/browser/console.test.mjs (puppeteer-core) opens the page, waits for
# them in the feed, produces one more alert and sees it arrive live, opens
# alerts, checks nothing from an alert ran as markup, records a verdict and
# compares velocity_v2 with velocity on the rule-health page, when the
# console serves those. Screenshots of every page go to
# $WORK/screenshots and, when FW_ARTIFACTS_DIR is set, there too.
source "$(dirname "$0")/lib.sh"

compgen -G '/usr/lib/postgresql/*/bin/postgres' > /dev/null ||
    { echo "SKIP: no PostgreSQL server (Debian package postgresql; scripts/deps.sh)" >&2; exit 77; }
command -v psql > /dev/null ||
    { echo "SKIP: psql is not installed (postgresql-client)" >&2; exit 77; }
command -v curl > /dev/null || { echo "SKIP: curl is not installed" >&2; exit 77; }
command -v node > /dev/null ||
    { echo "SKIP: node is not installed (Node.js 18 or later)" >&2; exit 77; }
command -v npm > /dev/null || { echo "SKIP: npm is not installed" >&2; exit 77; }
CHROMIUM=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
[ -n "$CHROMIUM" ] ||
    { echo "SKIP: no chromium (Debian package chromium; scripts/deps.sh)" >&2; exit 77; }
export CHROMIUM

BROWSER_DIR="$FW_SRC/tests/browser"
if [ ! -d "$BROWSER_DIR/node_modules/puppeteer-core" ]; then
    npm ci --prefix "$BROWSER_DIR" --no-audit --no-fund > "$WORK/npm.log" 2>&1 ||
        { cat "$WORK/npm.log" >&2; fail "npm ci in tests/browser (needs the npm registry once)"; }
fi

chmod 755 "$WORK" # as root the server runs as user postgres, which must reach its data
export FW_PG_PORT=${FW_PG_TEST_PORT:-$(free_port 55435)} FW_PG_DATA="$WORK/pg"
PG="$FW_SRC/scripts/postgres-local"
trap '"$PG" stop > /dev/null 2>&1 || true; cleanup' EXIT
"$PG" start > "$WORK/pg.log" 2>&1 || { cat "$WORK/pg.log" >&2; fail "postgres-local start"; }
URL=$("$PG" url)

# The alerts, in the engine's shape (docs/alerts.md), event times in the last
# hours so a rule-health window of days holds them.
now=$(date -u +%s)
iso() { date -u -d "@$((now - $1))" +%Y-%m-%dT%H:%M:%S.000Z; }
ev() { # ev N AGE_S [EXTRA_FIELDS]: one evidence transaction
    printf '{"transaction_id":"t%s","timestamp":"%s","amount":%s.5%s}' "$1" "$(iso "$2")" \
        "$((100 * ${1%%-*}))" "${3:-}"
}
alert() { # alert N RULE SEVERITY ENTITY_TYPE ENTITY_ID AGE_S REASON EVIDENCE [EXTRA_FIELDS]
    printf '{"alert_id":"fw-%032x","rule":"%s","rule_version":2,"severity":"%s",' "$1" "$2" "$3"
    printf '"entity_type":"%s","entity_id":"%s","event_time":"%s","detected_at":"%s",' \
        "$4" "$5" "$(iso "$6")" "$(iso "$6")"
    printf '"reason":"%s","evidence":[%s]%s}\n' "$7" "$8" "${9:-}"
}
HOSTILE_MERCHANT='<script>window.__xss=1</script>'
HOSTILE_ENTITY='<img src=x onerror=window.__xss=2>'
{
    for i in 1 2 3 4 5 6; do
        alert "$i" velocity "$( ((i % 2)) && echo medium || echo high)" account "A$i" \
            $((3600 * i)) "$((4 + i)) transactions within 10m" \
            "$(ev "$i-1" $((3600 * i + 60))),$(ev "$i-2" $((3600 * i)))" \
            "$( ((i == 6)) && echo ',"shadow":true')"
    done
    alert 7 high_amount high account "$HOSTILE_ENTITY" 600 \
        "amount 700.5 is above the high_amount limit of 500" \
        "$(ev 7 600 ",\"merchant_id\":\"$HOSTILE_MERCHANT\"")" \
        ",\"transaction\":{\"transaction_id\":\"t7\",\"merchant_id\":\"$HOSTILE_MERCHANT\"}"
    alert 8 location_jump medium customer cust-8 1200 \
        "consecutive transactions in CA then DE within 1h (limit 900 km/h)" \
        "$(ev 8-1 2000 ',"country":"CA","lat":43.6532,"lon":-79.3832'),$(ev 8-2 1200)" \
        ",\"window_start\":\"$(iso 2000)\",\"window_end\":\"$(iso -1600)\",\"transaction\":
          {\"transaction_id\":\"t8-2\",\"country\":\"DE\",\"lat\":48.0226,\"lon\":11.6613}"
    alert 9 ml_score high account A9 1500 "fraud probability 0.93 is above 0.8" "$(ev 9 1500)" \
        ',"ml":{"score":0.93,"threshold":0.8,"model":"model.json#abc","top_features":[
          {"feature":"amount_z","value":4.2,"contribution":1.8},
          {"feature":"new_merchant","value":1,"contribution":0.9},
          {"feature":"hour","value":3,"contribution":-0.4}]}'
    alert 10 structuring high account_pair 'A1->B/2=x' 1800 "4 transfers below 10000 in 24h" \
        "$(ev 10 1800)"
    alert 11 structuring high account_pair 'A1->B/2=x' 7200 "3 transfers below 10000 in 24h" \
        "$(ev 11 7200)"
    # velocity_v2, in shadow, against the live velocity alerts of A1..A5 and A-live (below):
    # 10 min after A1's and 30 min before A2's (raised live, within 60 min); 2 h before A3's
    # (only within 150 min); at A4's time but on customer A4 (another entity); near A6's,
    # which is a shadow alert itself. Within 60 min: both 2, only shadow 3, only live 4.
    for s in "13 account A1 3000" "14 account A2 9000" "15 account A3 18000" \
        "16 customer A4 14400" "17 account A6 21300"; do
        read -r n etype eid age <<< "$s"
        alert "$n" velocity_v2 medium "$etype" "$eid" "$age" "6 transactions within 15m" \
            "$(ev "$n" "$age")" ',"shadow":true'
    done
} | tr -d '\n' | sed 's/}{"alert_id"/}\n{"alert_id"/g; s/ \{2,\}//g' > "$WORK/alerts.ndjson"
echo >> "$WORK/alerts.ndjson"
N=$(wc -l < "$WORK/alerts.ndjson")
alert 12 velocity critical account A-live 5 "the live one: 9 transactions within 10m" \
    "$(ev 12 5)" > "$WORK/live.ndjson"
"$FW_BIN" produce --quiet -t "$PREFIX-alerts" -i "$WORK/alerts.ndjson" --partitions 3

export CONSOLE_TOKEN="tok-$PREFIX"
# An engine that does not answer (nothing listens on port 9): the engine page shows it down.
export FW_CONSOLE_ENGINES="http://127.0.0.1:9/metrics"
"$FW_BIN" console -d "$URL" --alerts-topic "$PREFIX-alerts" -g "$PREFIX" --port 0 \
    > "$WORK/console.log" 2>&1 &
PIDS+=("$!")
wait_for_log "$WORK/console.log" "on http://127\.0\.0\.1:[0-9]+/" 60
API=$(grep -oE 'http://127\.0\.0\.1:[0-9]+' "$WORK/console.log" | head -1)
stored() { curl -s "$API/api/alerts?limit=1000" | grep -o '"alert_id"' | wc -l; }
all_stored() { [ "$(stored)" -ge "$N" ]; }
wait_until 60 "$N alerts stored by the console" stored all_stored
echo "ok: the console stored $N alerts; page at $API/"

assert_eq 200 "$(curl -s -o /dev/null -w '%{http_code}' "$API/")" "GET /"
CSP=$(curl -s -D - -o /dev/null "$API/" | tr -d '\r' | grep -i '^content-security-policy:' || true)
[[ $CSP == *"script-src 'self'"* ]] || fail "GET / sends no script-src 'self' policy: '$CSP'"
assert_eq 404 "$(curl -s --path-as-is -o /dev/null -w "%{http_code}" "$API/static/../index.html")" \
    "a path with .."

mkdir -p "$WORK/screenshots"
status=0
FW_CONSOLE_URL="$API" FW_CONSOLE_TOKEN="$CONSOLE_TOKEN" FW_ALERTS_TOPIC="$PREFIX-alerts" \
FW_ALERTS_FILE="$WORK/alerts.ndjson" FW_LIVE_FILE="$WORK/live.ndjson" \
FW_SCREENSHOTS="$WORK/screenshots" FW_TIMEOUT_S="$(scaled_wait 10)" \
    node "$BROWSER_DIR/console.test.mjs" || status=$?
if [ -n "${FW_ARTIFACTS_DIR:-}" ]; then
    mkdir -p "$FW_ARTIFACTS_DIR" && cp "$WORK"/screenshots/*.png "$FW_ARTIFACTS_DIR"/ 2>/dev/null &&
        echo "screenshots copied to $FW_ARTIFACTS_DIR"
fi
[ "$status" = 0 ] || { tail -5 "$WORK/console.log" >&2; fail "the browser test failed ($status)"; }
echo "PASS $TEST_NAME"
