#!/usr/bin/env bash
# it_deb.sh — the Debian package (`make deb`: CPack over the install rules) on
# this machine for real: apt-get installs it with its dependencies (Debian's
# library packages, found by dpkg-shlibdeps), the installed fraudwatch prints
# its version, runs in file mode and raises alerts, man finds its page, the
# systemd unit verifies; two engines run from it against the broker and a
# real Prometheus answers every query of the Grafana dashboard from them
# (it_prometheus.sh with FW_BIN the installed binary); apt-get removes it,
# leaving nothing of it behind.
# Needs root (apt-get), so it says why and skips otherwise; it packages the
# normal build only (an ASan binary is no package).
set -euo pipefail
: "${FW_BIN:?FW_BIN must point at the fraudwatch binary}"
TEST_NAME=it_deb
fail() { echo "FAIL ($TEST_NAME): $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "SKIP: installing a package needs root (apt-get)" >&2; exit 77; }
command -v cpack > /dev/null && command -v apt-get > /dev/null ||
    { echo "SKIP: cpack or apt-get is missing" >&2; exit 77; }
if ldd "$FW_BIN" | grep -q libasan; then
    echo "SKIP: this is the ASan build; the package is made from the normal build" >&2
    exit 77
fi
if dpkg-query -W -f='${Status}' fraudwatch 2> /dev/null | grep -q "ok installed"; then
    echo "SKIP: a fraudwatch package is already installed here; not replacing it" >&2
    exit 77
fi
BUILD=$(cd "$(dirname "$FW_BIN")" && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/$TEST_NAME.XXXXXX")
APT=(apt-get -o DPkg::Lock::Timeout=300 -y -q)
cleanup() {
    if dpkg-query -W -f='${Status}' fraudwatch 2> /dev/null | grep -q "ok installed"; then
        "${APT[@]}" remove fraudwatch > /dev/null 2>&1 || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

(cd "$WORK" && cpack -G DEB --config "$BUILD/CPackConfig.cmake" > cpack.log 2>&1) ||
    fail "cpack: $(tail -5 "$WORK/cpack.log")"
deb=$(ls "$WORK"/fraudwatch_*.deb)
echo "ok: built $(basename "$deb")"
deps=$(dpkg-deb -f "$deb" Depends)
for lib in librdkafka libpq5 libmicrohttpd; do
    grep -q "$lib" <<< "$deps" || fail "Depends lacks $lib: $deps"
done
echo "ok: depends on $deps"

DEBIAN_FRONTEND=noninteractive "${APT[@]}" install "$deb" > "$WORK/apt.log" 2>&1 ||
    fail "apt-get install: $(tail -5 "$WORK/apt.log")"
[ "$(/usr/bin/fraudwatch --version)" = "$("$FW_BIN" --version)" ] ||
    fail "installed --version: $(/usr/bin/fraudwatch --version)"
echo "ok: /usr/bin/fraudwatch --version = $(/usr/bin/fraudwatch --version)"
/usr/bin/fraudwatch generate -q -n 20000 --seed 5 -o "$WORK/tx.ndjson"
/usr/bin/fraudwatch run -i "$WORK/tx.ndjson" -o "$WORK/alerts.ndjson" 2> "$WORK/run.log" ||
    fail "file-mode run: $(tail -3 "$WORK/run.log")"
[ "$(wc -l < "$WORK/alerts.ndjson")" -gt 0 ] || fail "the installed engine raised no alert"
echo "ok: the installed engine raised $(wc -l < "$WORK/alerts.ndjson") alerts in file mode"
/usr/bin/fraudwatch rules check /usr/share/fraudwatch/examples/rules.json > /dev/null ||
    fail "the installed example rules do not check"
if command -v man > /dev/null; then
    man -w fraudwatch | grep -q "/usr/share/man/man1/fraudwatch.1" || fail "man -w fraudwatch"
    echo "ok: man finds fraudwatch(1)"
fi
mkdir "$WORK/units"
cp /usr/lib/systemd/system/fraudwatch@.service "$WORK/units/fraudwatch@1.service"
out=$(cd "$WORK/units" && systemd-analyze verify --man=no ./fraudwatch@1.service 2>&1) ||
    fail "systemd-analyze verify: $out"
[ -z "$out" ] || fail "systemd-analyze verify had something to say: $out"
echo "ok: the installed unit verifies"

# Two engines from the package, watched by Prometheus.
: "${FW_SRC:?FW_SRC must point at the source tree}"
rc=0
FW_BIN=/usr/bin/fraudwatch bash "$FW_SRC/tests/integration/it_prometheus.sh" \
    > "$WORK/prometheus.log" 2>&1 || rc=$?
if [ "$rc" = 77 ]; then
    echo "SKIP: the monitored run could not run: $(grep SKIP "$WORK/prometheus.log")" >&2
    exit 77
fi
[ "$rc" = 0 ] || fail "two packaged engines under Prometheus: $(tail -15 "$WORK/prometheus.log")"
echo "ok: two engines from the package; $(grep -o 'all [0-9]* dashboard queries return data' \
    "$WORK/prometheus.log") from Prometheus"

"${APT[@]}" remove fraudwatch > "$WORK/remove.log" 2>&1 || fail "apt-get remove: $(tail -3 "$WORK/remove.log")"
[ ! -e /usr/bin/fraudwatch ] || fail "/usr/bin/fraudwatch is still there after the removal"
[ ! -e /usr/lib/systemd/system/fraudwatch@.service ] || fail "the unit is still there"
echo "ok: removed"
echo "PASS $TEST_NAME"
