#!/usr/bin/env bash
# it_postgres_local.sh — scripts/postgres-local runs a real PostgreSQL cluster
# on a port of its own (FW_PG_PORT, the first free one from 55433) with its
# data in the work dir: start creates it and prints the URL, through which
# psql reaches the database fraudwatch (UTF8) as fraudwatch; a second start
# says "already running"; a
# start after a SIGKILL of the postmaster (its postmaster.pid left behind)
# works and keeps the committed data; stop leaves the data, status then says
# stopped with exit 1, and stop --clean removes the data dir. The cluster is
# stopped on any exit.
#
# It needs no Kafka broker, so it does not source lib.sh (which starts
# scripts/kafka-local); it has the same helpers, work dir and KEEP_WORK.
set -euo pipefail
FW_SRC=${FW_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
TEST_NAME=$(basename "$0" .sh)
PG="$FW_SRC/scripts/postgres-local"

fail() { echo "FAIL ($TEST_NAME): $*" >&2; exit 1; }

# assert_eq EXPECTED ACTUAL WHAT
assert_eq() {
    [ "$1" == "$2" ] || fail "$3: expected '$1', got '$2'"
    echo "ok: $3 = $2"
}

compgen -G '/usr/lib/postgresql/*/bin/postgres' > /dev/null ||
    { echo "SKIP: no PostgreSQL server in /usr/lib/postgresql (Debian package postgresql; scripts/deps.sh)" >&2; exit 77; }
command -v psql > /dev/null || { echo "SKIP: psql is not installed (package postgresql-client)" >&2; exit 77; }
if [ "$(id -u)" = 0 ] && ! getent passwd postgres > /dev/null; then
    echo "SKIP: running as root needs the OS user postgres (Debian package postgresql)" >&2; exit 77
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/${TEST_NAME}.XXXXXX")
# As root, the server runs as user postgres, which must reach the data dir.
chmod 755 "$WORK"
source "$(dirname "$0")/ports.sh" # free_port, without lib.sh's broker
export FW_PG_PORT=${FW_PG_TEST_PORT:-$(free_port 55433)}
export FW_PG_DATA="$WORK/pg"
export PGCONNECT_TIMEOUT=10

cleanup() {
    "$PG" stop > /dev/null 2>&1 || true
    if [ "${KEEP_WORK:-0}" = 1 ]; then echo "work dir kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

# pg ARGS... — runs the script; its output (stdout and stderr) in $OUT, its
# exit status in $STATUS.
pg() {
    STATUS=0
    OUT=$("$PG" "$@" 2>&1) || STATUS=$?
}
sql() { psql "$URL" -X -v ON_ERROR_STOP=1 -Atc "$1"; }

URL_WANT="postgresql://fraudwatch@127.0.0.1:$FW_PG_PORT/fraudwatch"

# 1. before the first start
pg status
assert_eq 1 "$STATUS" "status exit before start"
[[ $OUT == "stopped port=$FW_PG_PORT"* ]] || fail "status before start: $OUT"
pg url
assert_eq "$URL_WANT" "$OUT" "url"
URL=$OUT

# 2. first start: a new cluster
pg start
[ "$STATUS" = 0 ] || fail "start exited $STATUS: $OUT"
grep -qE "^postgres-local: running pid=[0-9]+ port=$FW_PG_PORT \(ready in [0-9]+s\)$" <<< "$OUT" ||
    fail "no 'running pid=N port=$FW_PG_PORT (ready in Ns)' line: $OUT"
grep -qxF "postgres-local: url=$URL_WANT" <<< "$OUT" || fail "no url= line: $OUT"
echo "ok: start: $(grep -F 'running pid=' <<< "$OUT")"
pid=$(sed -nE 's/^postgres-local: running pid=([0-9]+) .*/\1/p' <<< "$OUT")
assert_eq 1 "$(sql 'select 1')" "select 1 through \$(scripts/postgres-local url)"
assert_eq UTF8 "$(sql 'select pg_encoding_to_char(encoding) from pg_database where datname = current_database()')" \
    "database encoding"
assert_eq "fraudwatch fraudwatch" "$(sql "select current_user || ' ' || current_database()")" "user and database"
assert_eq 127.0.0.1 "$(sql 'show listen_addresses')" "listen_addresses"
assert_eq "$FW_PG_DATA" "$(sql 'show unix_socket_directories')" "unix_socket_directories"
[ -S "$FW_PG_DATA/.s.PGSQL.$FW_PG_PORT" ] || fail "no Unix socket in $FW_PG_DATA"
sql 'create table t (x int); insert into t values (42)' > /dev/null

pg status
assert_eq 0 "$STATUS" "status exit when running"
[[ $OUT == "running pid=$pid port=$FW_PG_PORT (accepting connections)"* ]] || fail "status when running: $OUT"

# 3. a second start is a no-op
pg start
[ "$STATUS" = 0 ] || fail "second start exited $STATUS: $OUT"
grep -qxF "postgres-local: already running pid=$pid port=$FW_PG_PORT" <<< "$OUT" ||
    fail "second start did not say already running: $OUT"
echo "ok: a second start says already running"

# 4. SIGKILL of the postmaster: its postmaster.pid stays, the next start works
kill -9 "$pid"
deadline=$((SECONDS + 20))
until ! "$PG" status > /dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || fail "status still says running 20 s after kill -9 of pid $pid"
    sleep 0.2
done
[ -e "$FW_PG_DATA/postmaster.pid" ] || fail "kill -9 left no postmaster.pid: nothing stale was tested"
echo "ok: postmaster pid $pid killed, postmaster.pid left behind"
pg start
[ "$STATUS" = 0 ] || fail "start after kill -9 exited $STATUS: $OUT"
pid2=$(sed -nE 's/^postgres-local: running pid=([0-9]+) .*/\1/p' <<< "$OUT")
if [ -z "$pid2" ] || [ "$pid2" = "$pid" ]; then fail "start after kill -9 did not start a new server: $OUT"; fi
echo "ok: started again after kill -9 (pid $pid2)"
assert_eq 42 "$(sql 'select x from t')" "committed row after kill -9 and restart"

# 5. stop: the data stays, status says stopped with exit 1
pg stop
[ "$STATUS" = 0 ] || fail "stop exited $STATUS: $OUT"
pg status
assert_eq 1 "$STATUS" "status exit after stop"
[[ $OUT == "stopped port=$FW_PG_PORT"* ]] || fail "status after stop: $OUT"
[ -e "$FW_PG_DATA/PG_VERSION" ] || fail "stop removed the data"
echo "ok: stopped, data kept"
pg stop
[ "$STATUS" = 0 ] || fail "stop when stopped exited $STATUS: $OUT"
pg stop --clean
[ "$STATUS" = 0 ] || fail "stop --clean exited $STATUS: $OUT"
[ ! -e "$FW_PG_DATA" ] || fail "stop --clean left $FW_PG_DATA"
echo "ok: stop --clean removed the data dir"
echo "PASS $TEST_NAME"
