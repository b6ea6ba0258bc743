#!/usr/bin/env bash
# tests/cli/commands.sh — the command dispatcher: help, version, unknown commands
# with a suggestion and exit status 2.
set -uo pipefail
: "${FW_BIN:?FW_BIN must point at the fraudwatch binary}"
fail() { echo "FAIL (commands): $*" >&2; exit 1; }

out=$("$FW_BIN" --help 2>&1); rc=$?
[ "$rc" = 0 ] || fail "--help: exit $rc, expected 0"
case "$out" in *"Usage: fraudwatch COMMAND"*) ;; *) fail "--help: no usage line: $out" ;; esac

out=$("$FW_BIN" --version 2>&1); rc=$?
[ "$rc" = 0 ] || fail "--version: exit $rc, expected 0"
case "$out" in "fraudwatch "[0-9]*) ;; *) fail "--version: got '$out'" ;; esac

out=$("$FW_BIN" runn 2>&1); rc=$?
[ "$rc" = 2 ] || fail "runn: exit $rc, expected 2"
case "$out" in *"unknown command 'runn'; did you mean 'run'?"*) ;;
    *) fail "runn: expected a suggestion, got: $(echo "$out" | head -1)" ;; esac

out=$("$FW_BIN" genrate 2>&1); rc=$?
case "$out" in *"did you mean 'generate'?"*) ;; *) fail "genrate: $(echo "$out" | head -1)" ;; esac

out=$("$FW_BIN" xyzzy 2>&1); rc=$?
[ "$rc" = 2 ] || fail "xyzzy: exit $rc, expected 2"
case "$out" in *"did you mean"*) fail "xyzzy: a far-fetched suggestion: $out" ;; esac
case "$out" in *"unknown command 'xyzzy'"*) ;; *) fail "xyzzy: $(echo "$out" | head -1)" ;; esac

out=$("$FW_BIN" 2>&1); rc=$?
[ "$rc" = 2 ] || fail "no command: exit $rc, expected 2"
echo "ok: --help, --version, unknown commands exit 2 with a close suggestion only"
