#!/usr/bin/env bash
# tests/cli/generate_hot_key.sh — issue 14 part 2: `generate --hot-key
# FIELD=SHARE` makes one key carry SHARE of all records (for the hot-key
# benchmark, scripts/bench-hot-key). Checks: the share of acct-0 and of the
# hot merchant within 1 point of 0.3 (the uniform run has no key above 1 %),
# the key the summary names is the one that is hot, the hot account carries
# no fraud label, the same options give the same bytes, SHARE 0 and an empty
# environment give exactly the output without the option, FW_GENERATE_HOT_KEY
# works, and bad values exit 2 naming --hot-key (or the environment name).
set -euo pipefail
: "${FW_BIN:?FW_BIN must point at the fraudwatch binary}"
unset FW_GENERATE_HOT_KEY FW_QUIET FW_PROGRESS
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"

fail() { echo "FAIL generate_hot_key: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }
N=20000

# The largest share one value of FIELD has in FILE: "<share> <value>".
top_share() {
    grep -o "\"$1\":\"[^\"]*\"" "$2" | sort | uniq -c | sort -rn | head -1 |
        awk -v n="$N" '{ split($2, a, "\""); printf "%.4f %s\n", $1 / n, a[4] }'
}
# Whether $1 lies in [$2, $3].
within() { awk -v v="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(v >= lo && v <= hi) }'; }

"$FW_BIN" generate -q -n $N -o uniform.ndjson 2> /dev/null || fail "uniform run exited $?"
for f in account_id merchant_id; do
    read -r share key < <(top_share $f uniform.ndjson)
    within "$share" 0 0.01 || fail "uniform: $f $key has share $share, expected <= 0.01"
    ok "uniform: the busiest $f ($key) has share $share (<= 0.01)"
done

for f in account_id merchant_id; do
    "$FW_BIN" generate -q -n $N --hot-key $f=0.3 -o hot-$f.ndjson 2> sum-$f ||
        fail "--hot-key $f=0.3 exited $?: $(cat sum-$f)"
    [ "$(wc -l < hot-$f.ndjson)" = $N ] || fail "--hot-key $f=0.3 wrote $(wc -l < hot-$f.ndjson) records, expected $N"
    read -r share key < <(top_share $f hot-$f.ndjson)
    within "$share" 0.29 0.31 || fail "--hot-key $f=0.3: $key has share $share, expected 0.29..0.31"
    grep -q "hot key $key [0-9]* (" sum-$f || fail "--hot-key $f=0.3: summary does not name $key: $(cat sum-$f)"
    ok "--hot-key $f=0.3: $key has share $share (0.29..0.31), named in the summary"
    "$FW_BIN" generate -q -n $N --hot-key $f=0.3 -o again.ndjson 2> /dev/null
    cmp -s hot-$f.ndjson again.ndjson || fail "--hot-key $f=0.3: two runs differ"
    ok "--hot-key $f=0.3: the same options give the same bytes"
done
[ "$(top_share account_id hot-account_id.ndjson | cut -d' ' -f2)" = acct-0 ] ||
    fail "the hot account is not acct-0"
fraud=$(grep '"account_id":"acct-0"' hot-account_id.ndjson | grep -c '"is_fraud":true' || true)
[ "$fraud" = 0 ] || fail "the hot account acct-0 has $fraud fraud-labelled records, expected 0"
ok "hot account acct-0: 0 fraud-labelled records"

FW_GENERATE_HOT_KEY=merchant_id=0.3 "$FW_BIN" generate -q -n $N -o env.ndjson 2> /dev/null
cmp -s env.ndjson hot-merchant_id.ndjson || fail "FW_GENERATE_HOT_KEY=merchant_id=0.3 differs from the flag"
ok "FW_GENERATE_HOT_KEY gives the flag's output"

"$FW_BIN" generate -q -n $N --hot-key account_id=0 -o zero.ndjson 2> /dev/null
cmp -s zero.ndjson uniform.ndjson || fail "--hot-key account_id=0 differs from no hot key"
ok "--hot-key account_id=0 gives byte for byte the output without the option"

for bad in account_id foo=0.3 account_id=1.5 account_id=x account_id= merchant_id=-0.1 \
           card_id=0.3 ""; do
    rc=0
    "$FW_BIN" generate -q -n 10 -o /dev/null --hot-key "$bad" 2> err || rc=$?
    [ $rc = 2 ] || fail "--hot-key '$bad' exited $rc, expected 2: $(cat err)"
    grep -q -- "--hot-key: expected" err || fail "--hot-key '$bad': message does not name --hot-key: $(cat err)"
done
ok "8 bad --hot-key values exit 2 naming --hot-key"
rc=0
FW_GENERATE_HOT_KEY=account_id=2 "$FW_BIN" generate -q -n 10 -o /dev/null 2> err || rc=$?
[ $rc = 2 ] && grep -q "FW_GENERATE_HOT_KEY: expected a share in 0..1" err ||
    fail "FW_GENERATE_HOT_KEY=account_id=2 exited $rc: $(cat err)"
ok "a bad FW_GENERATE_HOT_KEY exits 2 naming it"

"$FW_BIN" generate --help > help
grep -q -- "--hot-key FIELD=SHARE" help && tr -s ' \n' ' ' < help | grep -q FW_GENERATE_HOT_KEY ||
    fail "generate --help lacks --hot-key with FW_GENERATE_HOT_KEY"
ok "generate --help lists --hot-key with FW_GENERATE_HOT_KEY"
