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
# Every command fraudwatch --help lists: its --help (generated from its options
# table) fits 80 columns and gives each option an FW_ environment name, and a
# short flag means one thing across all of them.
cmds=$("$FW_BIN" --help | awk '/^Commands:/ { on = 1; next } on && /^  [a-z]/ { print $1 } on && /^$/ { on = 0 }')
[ "$(wc -w <<< "$cmds")" -ge 10 ] || fail "fraudwatch --help lists too few commands: $cmds"
declare -A short_of
for c in $cmds; do
    help=$("$FW_BIN" "$c" --help 2>&1); rc=$?
    [ "$rc" = 0 ] || fail "$c --help: exit $rc"
    wide=$(awk 'length > 80 { print length ": " $0; exit }' <<< "$help")
    [ -z "$wide" ] || fail "$c --help: a line over 80 columns: $wide"
    # Each option's entry runs from its "  -x, --name" / "      --name" line to the next.
    missing=$(awk '/^  (-[A-Za-z], |    )--[a-z]/ { if (name != "" && name != "--help" && !env) print name;
                     name = $0; sub(/^ *(-[A-Za-z], )?/, "", name); sub(/[ =].*/, "", name); env = 0 }
                   /FW_[A-Z]/ { env = 1 }
                   END { if (name != "" && name != "--help" && !env) print name }' <<< "$help")
    [ -z "$missing" ] || fail "$c --help: options without an FW_ environment name: $missing"
    while read -r s l; do
        [ -n "$s" ] || continue
        if [ -n "${short_of[$s]:-}" ] && [ "${short_of[$s]%% *}" != "$l" ]; then
            fail "short flag $s is $l in $c but ${short_of[$s]}"
        fi
        short_of[$s]="$l (in $c)"
    done < <(grep -oE '^  -[A-Za-z], --[a-z-]+' <<< "$help" | sed 's/^  //; s/,//')
done
echo "ok: $(wc -w <<< "$cmds") commands: --help within 80 columns, FW_ names, short flags one meaning each"
echo "ok: --help, --version, unknown commands exit 2 with a close suggestion only"
