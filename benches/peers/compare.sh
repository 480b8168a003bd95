#!/usr/bin/env bash
# Side by side on the same simulated calls: twilio-export (release build, default limits),
# the plain Python exporter (plain_exporter.py: requests + pyarrow, one Parquet per
# account-day) and, when AIRBYTE_VENV names a virtualenv holding `airbyte-source-twilio`, the
# Airbyte source pointed at the simulator (airbyte_twilio.py). Each runs under
# `/usr/bin/time -v`; compare.py checks that every peer has exactly twilio-export's calls,
# with the same values, and prints CPU, peak RSS, wall time, requests and rows.
# Usage: [SEED=n AIRBYTE_VENV=dir] benches/peers/compare.sh [accounts] [days] [calls_per_day]
set -euo pipefail
cd "$(dirname "$0")/../.."
accounts=${1:-2}; days=${2:-10}; per_day=${3:-3000}
[ -n "${NO_BUILD:-}" ] || cargo build --release --quiet --bin twilio-export
bin="${CARGO_TARGET_DIR:-target}/release/twilio-export"
peers=benches/peers
work=$(mktemp -d); trap 'kill $sim 2>/dev/null || true; [ -n "${KEEP:-}" ] && echo "kept $work" || rm -rf "$work"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$bin" sim --listen "127.0.0.1:$port" --seed "${SEED:-42}" --accounts "$accounts" --days "$days" --calls-per-day "$per_day" >"$work/sim.log" 2>&1 &
sim=$!
for _ in $(seq 50); do grep -q "simulator on" "$work/sim.log" && break; sleep 0.1; done
read -r -a sids <<<"$(sed -n 's/^  accounts: *//p' "$work/sim.log")"
base="http://127.0.0.1:$port"
to=$(date -u +%F); from=$(date -u -d "$to - $((days - 1)) days" +%F)
export TWILIO_AUTH_TOKEN=sim-auth-token

# twilio-export, as a user runs it (default --rate-limit and --max-in-flight)
export DATABASE_URL="sqlite://$work/r.db" EXPORT_OUTPUT="$work/te" TWILIO_API_BASE="$base"
"$bin" accounts add "${sids[@]}" >/dev/null
/usr/bin/time -v -o "$work/te.time" "$bin" backfill --resource calls --from "$from" --to "$to" \
  --metrics-file "$work/te.prom" >/dev/null
te_requests=$(sed -n 's/^twilio_export_run_requests_total \([0-9]*\)$/\1/p' "$work/te.prom")

/usr/bin/time -v -o "$work/py.time" python3 "$peers/plain_exporter.py" --api-base "$base" \
  --from "$from" --to "$to" --output "$work/py" "${sids[@]}" >"$work/py.json"
py_requests=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["requests"])' "$work/py.json")
runs=("twilio-export:$work/te.time:$te_requests:$work/te" "plain Python (requests + pyarrow):$work/py.time:$py_requests:$work/py")

if [ -n "${AIRBYTE_VENV:-}" ]; then
  for sid in "${sids[@]}"; do
    /usr/bin/time -v -o "$work/ab-$sid.time" "$AIRBYTE_VENV/bin/python" "$peers/airbyte_twilio.py" \
      --api-base "$base" --account "$sid" --from "$from" --to "$to" >"$work/ab-$sid.jsonl" 2>"$work/ab-$sid.err" \
      || { echo "airbyte failed for $sid:"; tail -5 "$work/ab-$sid.err"; }
  done
  # One process per account (the source reads one account); summed.
  cat "$work"/ab-AC*.jsonl >"$work/ab.jsonl"
  python3 "$peers/sum_times.py" "$work"/ab-AC*.time >"$work/ab.time"
  ab_requests=$(cat "$work"/ab-AC*.err "$work"/ab-AC*.jsonl | grep -c '^REQUEST ' || true)
  runs+=("Airbyte source-twilio:$work/ab.time:$ab_requests:$work/ab.jsonl")
fi
python3 "$peers/compare.py" --truth "$work/te" "${runs[@]}"
