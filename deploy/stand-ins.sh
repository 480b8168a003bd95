#!/bin/sh
# Creates empty stand-ins for every target the workspace's manifests name (both crates'
# sources, the integration tests and each `[[bench]]` of Cargo.toml), in the current
# directory, which holds Cargo.toml and crates/twilio-sim/Cargo.toml. With them, Cargo builds
# the dependencies alone: deploy/Dockerfile caches that layer, and deploy/check replays it.
set -eu
mkdir -p src benches tests/it crates/twilio-sim/src
echo 'fn main() {}' > src/main.rs
echo 'fn main() {}' > crates/twilio-sim/src/main.rs
touch src/lib.rs tests/it/main.rs crates/twilio-sim/src/lib.rs
for bench in $(sed -n '/^\[\[bench\]\]/{n;s/^name = "\(.*\)"/\1/p}' Cargo.toml); do
    echo 'fn main() {}' > "benches/${bench}.rs"
done
