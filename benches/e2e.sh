#!/usr/bin/env bash
# End-to-end figures: the release binary exports calls from the simulator (a separate process)
# over real HTTP; prints calls/s, CPU µs per call (the exporter's own: perf's task clock where
# perf can count it, else user + system time from /usr/bin/time), the cores it kept busy (CPU over wall) and peak memory, and the same for the floor (benches/floor.rs:
# the same days' pages fetched and parsed into IgnoredAny, nothing else), and their ratio.
# The simulator keeps every page it renders (`sim --cache-pages`) and each program runs once
# unmeasured first, so that the measured runs read pages the simulator no longer renders.
# The rate limit is out of the way (RATE, default 10000/s); IN_FLIGHT is --max-in-flight (default 4).
# FLOOR_IN_FLIGHT=n makes the floor fetch n account-days at once on two threads (default 1:
# one request at a time), to compare with as many windows of the exporter in flight.
# LATENCY_MS=n makes the simulator answer every request n ms late (default 0).
# ROUNDS=n measures each program n times, taking turns, and prints each round and the
# medians (default 1): the machine's mood moves one run by a few percent (and without perf,
# `/usr/bin/time` counts in 10 ms steps, so one run of the floor moves by a tenth).
# Usage: [SEED=n RATE=n IN_FLIGHT=n FLOOR_IN_FLIGHT=n LATENCY_MS=n ROUNDS=n KEEP=1 NO_BUILD=1 FLOOR=path] benches/e2e.sh [accounts] [days] [calls_per_day]
# A day of a million calls: benches/e2e.sh 1 1 1000000 (the simulator needs about 3 GB).
set -euo pipefail
cd "$(dirname "$0")/.."
accounts=${1:-2}; days=${2:-10}; per_day=${3:-3000}
# shellcheck source=benches/common.sh
. benches/common.sh
bench_binaries
sim=
work=$(mktemp -d); trap 'kill $sim 2>/dev/null || true; [ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
start_sim "$work" "$accounts" "$days" "$per_day"
export TWILIO_EXPORT_RATE_LIMIT=${RATE:-10000} TWILIO_EXPORT_MAX_IN_FLIGHT=${IN_FLIGHT:-4}
to=$(date -u +%F); from=$(date -u -d "$to - $((days - 1)) days" +%F)

rounds=${ROUNDS:-1}
# shellcheck disable=SC2086
"$floor" "$TWILIO_API_BASE" "$from" "$to" $sids >/dev/null
# shellcheck disable=SC2086
DATABASE_URL="sqlite://$work/warm.db" EXPORT_OUTPUT="$work/warm" "$bin" accounts add $sids >/dev/null
DATABASE_URL="sqlite://$work/warm.db" EXPORT_OUTPUT="$work/warm" "$bin" backfill --resource calls --from "$from" --to "$to" >/dev/null
# CPU time is perf's task clock where perf can count it (to the microsecond), else user +
# system time from /usr/bin/time (in 10 ms steps); stat NAME.I prints the wrapper for run I.
counted=
perf stat -x, -e task-clock -o /dev/null true 2>/dev/null && counted=1
stat() { [ -z "$counted" ] || echo "perf stat -x, -e task-clock -o $work/$1.$2.stat"; }
# The two programs take turns, so that the machine's moods fall on both.
for i in $(seq "$rounds"); do
    # shellcheck disable=SC2086,SC2046
    /usr/bin/time -f "%e %U %S %M" -o "$work/floor.$i.time" $(stat floor "$i") "$floor" "$TWILIO_API_BASE" "$from" "$to" $sids >"$work/floor.txt"
    # shellcheck disable=SC2086
    DATABASE_URL="sqlite://$work/r$i.db" EXPORT_OUTPUT="$work/out$i" "$bin" accounts add $sids >/dev/null
    # shellcheck disable=SC2046
    DATABASE_URL="sqlite://$work/r$i.db" EXPORT_OUTPUT="$work/out$i" /usr/bin/time -f "%e %U %S %M" -o "$work/exporter.$i.time" \
        $(stat exporter "$i") "$bin" backfill --resource calls --from "$from" --to "$to" | tee "$work/out.txt"
done
calls=$(sed -n 's/.*: \([0-9]*\) rows in.*/\1/p' "$work/out.txt")
floor_calls=$(sed -n 's/^floor: \([0-9]*\) calls.*/\1/p' "$work/floor.txt")
[ "$calls" = "$floor_calls" ] || { echo "the floor read $floor_calls calls, the exporter $calls" >&2; exit 1; }
python3 - "$calls" "$rounds" "$work" <<'PY'
import statistics
import sys
calls, rounds, work = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
def figures(name, i):
    wall, user, sys_, rss = open(f"{work}/{name}.{i}.time").read().split()
    return float(wall), float(user), float(sys_), int(rss)
def task_clock(name, i):
    # perf's task clock in seconds, or None without it.
    try:
        lines = open(f"{work}/{name}.{i}.stat").read().splitlines()
    except FileNotFoundError:
        return None
    fields = [line.split(",") for line in lines]
    return next(float(f[0]) / 1000 for f in fields if len(f) > 2 and f[2] == "task-clock")
runs = {name: [figures(name, i) for i in range(1, rounds + 1)] for name in ("exporter", "floor")}
cpu = {name: [task_clock(name, i) or u + s for i, (_, u, s, _) in enumerate(runs[name], 1)]
       for name in runs}
print("CPU time: " + ("perf's task clock" if task_clock("floor", 1) is not None
                      else "user + system time (10 ms steps)"))
if rounds > 1:
    for i in range(rounds):
        e, f = cpu["exporter"][i], cpu["floor"][i]
        ratio = f"{e / f:.2f}" if f > 0 else "-"
        print(f"round {i + 1}: exporter {e * 1e6 / calls:.2f} µs/call, "
              f"floor {f * 1e6 / calls:.2f} µs/call, ratio {ratio}")
def median_run(name):
    # The run whose CPU is the median (the lower middle one for an even count).
    order = sorted(range(rounds), key=lambda i: cpu[name][i])
    return runs[name][order[(rounds - 1) // 2]]
for name in ("exporter", "floor"):
    wall, user, sys_, rss = median_run(name)
    of = f" (median of {rounds})" if rounds > 1 else ""
    c = statistics.median_low(cpu[name])
    print(f"{name}: {calls} calls in {wall:.2f} s wall ({calls / wall:,.0f} calls/s), "
          f"CPU {c * 1e6 / calls:.2f} µs/call (user {user:.2f} s, sys {sys_:.2f} s), "
          f"{c / wall:.2f} cores busy, peak RSS {rss / 1024:.1f} MiB{of}")
e, f = statistics.median_low(cpu["exporter"]), statistics.median_low(cpu["floor"])
if f > 0:
    print(f"exporter CPU / floor CPU: {e / f:.2f}")
else:
    print("exporter CPU / floor CPU: the floor took under 10 ms (time's resolution); use more calls")
PY
