#!/usr/bin/env bash
# tests/cli/install.sh — `cmake --install` (what `make install PREFIX=...` and the
# Debian package run) puts the binary, fraudwatch(1), the docs, the example and
# built-in rules and fraudwatch@.service under the prefix; the man page carries
# every command's --help and renders without warnings; the unit names the
# installed binary and `systemd-analyze verify` finds nothing to say about it.
set -uo pipefail
: "${FW_BIN:?FW_BIN must point at the fraudwatch binary}"
BUILD=$(cd "$(dirname "$FW_BIN")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL install: $*" >&2; exit 1; }

DESTDIR="$tmp/root" cmake --install "$BUILD" --prefix /usr > "$tmp/install.log" 2>&1 ||
    fail "cmake --install: $(tail -3 "$tmp/install.log")"
R="$tmp/root/usr"
for f in bin/fraudwatch share/man/man1/fraudwatch.1 share/doc/fraudwatch/README.md \
    share/doc/fraudwatch/LICENSE share/doc/fraudwatch/docs/api.md \
    share/fraudwatch/examples/rules.json share/fraudwatch/rules/builtin-rules.json \
    lib/systemd/system/fraudwatch@.service; do
    [ -s "$R/$f" ] || fail "$f is not installed"
    echo "ok: installed $f"
done
[ "$("$R/bin/fraudwatch" --version)" = "$("$FW_BIN" --version)" ] || fail "installed --version"

# The man page: every command's help, and a page man renders without a warning.
for cmd in $("$FW_BIN" --help | awk '/^Commands:/ { on = 1; next } on && /^  [a-z]/ { print $1 }
    on && /^$/ { exit }'); do
    grep -q "^\.SH \"FRAUDWATCH ${cmd^^}\"" "$R/share/man/man1/fraudwatch.1" ||
        fail "fraudwatch.1 has no section for $cmd"
    first=$("$FW_BIN" "$cmd" --help | head -1 | sed 's/\\/\\e/g')
    grep -qF -- "$first" "$R/share/man/man1/fraudwatch.1" || fail "fraudwatch.1 lacks $cmd's usage"
done
echo "ok: fraudwatch.1 has every command's --help"
if command -v man > /dev/null; then
    warnings=$(MANWIDTH=80 man --warnings -l "$R/share/man/man1/fraudwatch.1" 2>&1 > /dev/null)
    [ -z "$warnings" ] || fail "man --warnings: $warnings"
    MANWIDTH=80 man -l "$R/share/man/man1/fraudwatch.1" 2> /dev/null | grep -q "FRAUDWATCH CONSOLE" ||
        fail "the rendered page lacks the console's section"
    echo "ok: man renders fraudwatch.1 without warnings"
else
    echo "SKIP: man is not installed (Debian package man-db, scripts/deps.sh): page not rendered" >&2
    exit 77
fi

# The unit: it runs the installed binary; systemd-analyze verify (systemd itself
# need not run) checks it as an instance, with the binary where the build has it.
unit="$R/lib/systemd/system/fraudwatch@.service"
grep -q '^ExecStart=/usr/bin/fraudwatch run --instance-id %i$' "$unit" ||
    fail "ExecStart: $(grep ExecStart "$unit")"
if ! command -v systemd-analyze > /dev/null; then
    echo "SKIP: systemd-analyze is not installed (Debian package systemd): unit not verified" >&2
    exit 77
fi
mkdir "$tmp/units"
sed "s|/usr/bin/fraudwatch|$FW_BIN|" "$unit" > "$tmp/units/fraudwatch@1.service"
out=$(cd "$tmp/units" && systemd-analyze verify --man=no ./fraudwatch@1.service 2>&1) ||
    fail "systemd-analyze verify: $out"
[ -z "$out" ] || fail "systemd-analyze verify had something to say: $out"
echo "ok: systemd-analyze verify fraudwatch@1.service"
echo "PASS install"
