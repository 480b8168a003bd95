#!/usr/bin/env bash
# End-to-end figures: the release binary exports calls from the simulator (a separate process)
# over real HTTP; prints calls/s, CPU µs per call (user+sys of the exporter only) and peak
# memory. Usage: [SEED=n RATE=n IN_FLIGHT=n] benches/e2e.sh [accounts] [days] [calls_per_day]
# A day of a million calls: benches/e2e.sh 1 1 1000000 (the simulator needs about 1 GB).
set -euo pipefail
cd "$(dirname "$0")/.."
accounts=${1:-2}; days=${2:-10}; per_day=${3:-3000}
[ -n "${NO_BUILD:-}" ] || cargo build --release --quiet
bin="${CARGO_TARGET_DIR:-target}/release/twilio-export"
work=$(mktemp -d); trap 'kill $sim 2>/dev/null || true; rm -rf "$work"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$bin" sim --listen "127.0.0.1:$port" --seed "${SEED:-42}" --accounts "$accounts" --days "$days" --calls-per-day "$per_day" >"$work/sim.log" 2>&1 &
sim=$!
for _ in $(seq 50); do grep -q "simulator on" "$work/sim.log" && break; sleep 0.1; done
sids=$(sed -n 's/^  accounts: *//p' "$work/sim.log")
export DATABASE_URL="sqlite://$work/r.db" EXPORT_OUTPUT="$work/out" TWILIO_API_BASE="http://127.0.0.1:$port" \
       TWILIO_AUTH_TOKEN=sim-auth-token TWILIO_EXPORT_RATE_LIMIT=${RATE:-100} TWILIO_EXPORT_MAX_IN_FLIGHT=${IN_FLIGHT:-8}
# shellcheck disable=SC2086
"$bin" accounts add $sids >/dev/null
to=$(date -u +%F); from=$(date -u -d "$to - $((days - 1)) days" +%F)
/usr/bin/time -f "%e %U %S %M" -o "$work/time" "$bin" backfill --resource calls --from "$from" --to "$to" | tee "$work/out.txt"
read -r wall user sys rss <"$work/time"
calls=$(sed -n 's/.*: \([0-9]*\) rows in.*/\1/p' "$work/out.txt")
python3 - "$calls" "$wall" "$user" "$sys" "$rss" <<'PY'
import sys
calls, wall, user, sys_, rss = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
print(f"{calls} calls in {wall:.2f} s wall: {calls / wall:,.0f} calls/s")
print(f"exporter CPU: {(user + sys_) * 1e6 / calls:.2f} µs/call (user {user:.2f} s, sys {sys_:.2f} s)")
print(f"exporter peak RSS: {rss / 1024:.1f} MiB")
PY
