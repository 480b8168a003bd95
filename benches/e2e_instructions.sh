#!/usr/bin/env bash
# Instructions per call, end to end, of the exporter and of the floor (benches/floor.rs),
# counted by callgrind (Debian's valgrind; user space only) on two days of one account, of
# SMALL and LARGE calls on average; the difference of the two runs divided by the difference
# in calls is the cost per call without the start-up. The simulator keeps its pages
# (`sim --cache-pages`) and each program reads them once unmeasured first. STUB=1 serves the
# independent stand-in's data instead (benches/independent/stub.py).
# Usage: [SMALL=10000 LARGE=40000 NO_BUILD=1 FLOOR=path STUB=1] benches/e2e_instructions.sh
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/.."
# shellcheck source=benches/common.sh
. benches/common.sh
bench_binaries
today=$(date -u +%F)
# counts PER_DAY: prints "calls floor_instructions exporter_instructions".
counts() {
    local work sim sids
    work=$(mktemp -d)
    if [ -n "${STUB:-}" ]; then start_stub "$work" 1 1 "$1"; else start_sim "$work" 1 1 "$1"; fi
    export TWILIO_EXPORT_RATE_LIMIT=10000
    "$floor" "$TWILIO_API_BASE" "$today" "$today" "$sids" >"$work/floor.txt"
    valgrind --tool=callgrind --callgrind-out-file="$work/floor.cg" \
        "$floor" "$TWILIO_API_BASE" "$today" "$today" "$sids" >/dev/null 2>"$work/floor.err"
    for run in warm measured; do
        DATABASE_URL="sqlite://$work/$run.db" EXPORT_OUTPUT="$work/$run" "$bin" accounts add "$sids" >/dev/null
    done
    DATABASE_URL="sqlite://$work/warm.db" EXPORT_OUTPUT="$work/warm" \
        "$bin" backfill --resource calls --from "$today" --to "$today" >/dev/null 2>&1
    DATABASE_URL="sqlite://$work/measured.db" EXPORT_OUTPUT="$work/measured" \
        valgrind --tool=callgrind --callgrind-out-file="$work/export.cg" \
        "$bin" backfill --resource calls --from "$today" --to "$today" >"$work/export.txt" 2>"$work/export.err"
    kill "$sim"
    local floor_calls export_calls
    floor_calls=$(sed -n 's/^floor: \([0-9]*\) calls.*/\1/p' "$work/floor.txt")
    export_calls=$(sed -n 's/.*: \([0-9]*\) rows in.*/\1/p' "$work/export.txt")
    [ "$floor_calls" = "$export_calls" ] ||
        { echo "the floor read $floor_calls calls, the exporter $export_calls" >&2; exit 1; }
    echo "$floor_calls" \
         "$(sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$work/floor.err")" \
         "$(sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$work/export.err")"
    rm -rf "$work"
}
small=$(counts "${SMALL:-10000}")
large=$(counts "${LARGE:-40000}")
# shellcheck disable=SC2086
python3 - $small $large <<'PY'
import sys
c1, f1, e1, c2, f2, e2 = map(int, sys.argv[1:])
calls = c2 - c1
floor, export = (f2 - f1) / calls, (e2 - e1) / calls
print(f"days of {c1} and {c2} calls: floor {floor:,.0f} instructions per call, "
      f"exporter {export:,.0f}: {export / floor:.2f}x")
PY
