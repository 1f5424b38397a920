#!/usr/bin/env bash
# Client CPU per unary call, ours against tonic's Channel side by side: our bench
# server pinned to core 0, the calling process (our generated Greeter client over
# each channel, a current-thread runtime) pinned to core 1, c=1 and c=64 on one
# connection, SECONDS measured per cell after a 1 s warm-up.
#
#   cargo build --release -p benches
#   bash benches/client-cpu.sh [SECONDS]
set -euo pipefail
secs=${1:-5}
root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/target/release/benches"
work=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
taskset -c 0 "$bin" serve ours > "$work/serve.out" 2>&1 &
server=$!
for _ in $(seq 50); do grep -q LISTENING "$work/serve.out" && break; sleep 0.1; done
addr=$(awk '/LISTENING/ {print $2}' "$work/serve.out")
taskset -c 1 "$bin" client "$addr" "$secs"
