# Sourced by benches/e2e.sh, benches/e2e_instructions.sh and benches/ab.sh (from the
# repository root).

# Builds unless NO_BUILD is set; sets `bin`, the release binary, and `floor`, the end-to-end
# floor of benches/floor.rs (FLOOR= to give one built elsewhere).
bench_binaries() {
    [ -n "${NO_BUILD:-}" ] || cargo build --release --quiet
    bin="${CARGO_TARGET_DIR:-target}/release/twilio-export"
    floor=${FLOOR:-$(cargo bench --quiet --bench floor --no-run --message-format=json |
        python3 -c 'import json,sys; print([m["executable"] for m in map(json.loads, sys.stdin) if m.get("executable") and m["target"]["name"] == "floor"][0])')}
}

# start_sim DIR ACCOUNTS DAYS CALLS_PER_DAY: a simulator that keeps its pages (seed SEED, 42
# by default) and answers LATENCY_MS late (0 by default), logging to DIR/sim.log; sets `sim`
# (its pid), `sids` (its accounts) and exports TWILIO_API_BASE and TWILIO_AUTH_TOKEN.
start_sim() {
    local port
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    "$bin" sim --listen "127.0.0.1:$port" --seed "${SEED:-42}" --accounts "$2" --days "$3" \
        --calls-per-day "$4" --latency-ms "${LATENCY_MS:-0}" --cache-pages >"$1/sim.log" 2>&1 &
    sim=$!
    for _ in $(seq 100); do grep -q "simulator on" "$1/sim.log" && break; sleep 0.1; done
    grep -q "simulator on" "$1/sim.log" || { echo "the simulator did not start: $(cat "$1/sim.log")" >&2; return 1; }
    sids=$(sed -n 's/^  accounts: *//p' "$1/sim.log")
    export TWILIO_API_BASE="http://127.0.0.1:$port" TWILIO_AUTH_TOKEN=sim-auth-token
}

# start_stub DIR ACCOUNTS DAYS CALLS_PER_DAY: the independent stand-in instead
# (benches/independent/stub.py: numbers all but unique, no jitter, seed SEED), answering
# LATENCY_MS late, logging to DIR/stub.log; sets the same variables as start_sim.
start_stub() {
    python3 benches/independent/stub.py --token stub-token --accounts "$2" --days "$3" \
        --calls-per-day "$4" --jitter 0 --seed "${SEED:-42}" --latency-ms "${LATENCY_MS:-0}" \
        >"$1/stub.log" 2>&1 &
    sim=$!
    for _ in $(seq 600); do grep -q "generated in" "$1/stub.log" && break; sleep 0.2; done
    grep -q "generated in" "$1/stub.log" || { echo "the stand-in did not start: $(cat "$1/stub.log")" >&2; return 1; }
    local base
    base=$(sed -n 's/^stub on //p' "$1/stub.log")
    sids=$(python3 -c 'import json, sys, urllib.request
print(" ".join(json.load(urllib.request.urlopen(sys.argv[1] + "/_info"))["accounts"]))' "$base")
    export TWILIO_API_BASE="$base" TWILIO_AUTH_TOKEN=stub-token
}
