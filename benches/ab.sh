#!/usr/bin/env bash
# A/B of release binaries on the same data: each backfills the same accounts and days from one
# simulator that keeps its pages (`sim --cache-pages`), the binaries taking turns, ROUNDS
# rounds (default 4, the first unmeasured); prints each measured run's page faults and task
# clock (`perf stat`), user and system time and peak RSS (`/usr/bin/time`). Use it for
# changes too small for one run to show: compare the ranges, not single figures.
# The simulator is the first binary's. The rate limit is out of the way (RATE, default
# 10000/s); IN_FLIGHT is --max-in-flight (default 4).
# LATENCY_MS=n makes the simulator answer every request n ms late (default 0).
# STUB=1 serves the independent stand-in's data instead (benches/independent/stub.py, whose
# phone numbers are all but unique). Ends with each binary's medians.
# Usage: [SEED=n RATE=n IN_FLIGHT=n ROUNDS=n LATENCY_MS=n STUB=1] benches/ab.sh accounts days calls_per_day bin...
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 4 ] || { sed -n 's/^# Usage: //p' "$0" >&2; exit 2; }
accounts=$1; days=$2; per_day=$3; shift 3
command -v perf >/dev/null || { echo "needs perf (Debian: linux-perf)" >&2; exit 2; }
# shellcheck source=benches/common.sh
. benches/common.sh
bin=$1
sim=
work=$(mktemp -d); trap 'kill $sim 2>/dev/null || true; rm -rf "$work"' EXIT
if [ -n "${STUB:-}" ]; then
    start_stub "$work" "$accounts" "$days" "$per_day"
else
    start_sim "$work" "$accounts" "$days" "$per_day"
fi
export TWILIO_EXPORT_RATE_LIMIT=${RATE:-10000} TWILIO_EXPORT_MAX_IN_FLIGHT=${IN_FLIGHT:-4}
to=$(date -u +%F); from=$(date -u -d "$to - $((days - 1)) days" +%F)
n=0
for round in $(seq 0 $((${ROUNDS:-4} - 1))); do
    for b in "$@"; do
        n=$((n + 1)); d="$work/r$n"; mkdir -p "$d"
        # shellcheck disable=SC2086
        DATABASE_URL="sqlite://$d/r.db" EXPORT_OUTPUT="$d/out" "$b" accounts add $sids >/dev/null
        rc=0
        DATABASE_URL="sqlite://$d/r.db" EXPORT_OUTPUT="$d/out" \
            perf stat -x, -e page-faults,task-clock -o "$d/stat" \
            /usr/bin/time -f "%M %U %S" -o "$d/time" \
            "$b" backfill --resource calls --from "$from" --to "$to" >"$d/out.txt" 2>&1 || rc=$?
        if [ "$rc" != 0 ]; then
            # A run that did not export everything is no measure: say so and show why.
            echo "$b: backfill exited $rc (round $round); its last lines:" >&2
            tail -n 5 "$d/out.txt" >&2
            exit 1
        fi
        if [ "$round" != 0 ]; then
            python3 - "$b" "$d/stat" "$d/time" "$work/figures" <<'PY'
import sys
stat = {}
for line in open(sys.argv[2]):
    p = line.strip().split(",")
    if len(p) > 3 and p[0][:1].isdigit():
        stat[p[2]] = float(p[0])
rss, user, system = open(sys.argv[3]).read().split()
print(f"{sys.argv[1]}: page faults {stat.get('page-faults', 0):,.0f}, task clock "
      f"{stat.get('task-clock', 0):,.0f} ms, user {user} s, system {system} s, "
      f"peak RSS {int(rss) / 1024:.1f} MiB")
with open(sys.argv[4], "a") as f:
    print(sys.argv[1], stat.get("task-clock", 0), stat.get("page-faults", 0), rss, file=f)
PY
        fi
        rm -rf "$d"
    done
done
python3 - "$work/figures" <<'PY'
import statistics
import sys
runs = {}
for line in open(sys.argv[1]):
    b, clock, faults, rss = line.split()
    runs.setdefault(b, []).append((float(clock), float(faults), int(rss)))
for b, r in runs.items():
    med = [statistics.median(x[i] for x in r) for i in range(3)]
    print(f"{b}: median of {len(r)}: task clock {med[0]:,.0f} ms, page faults {med[1]:,.0f}, "
          f"peak RSS {med[2] / 1024:.1f} MiB")
PY
