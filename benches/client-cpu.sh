#!/usr/bin/env bash
# Client CPU per unary call (grpc-go's benchmark UnaryCall, 64 B each way): our
# generated client over our channel, over tonic's Channel and over one bare hyper
# connection (the floor under any channel on hyper), and grpc-go's benchmark
# client (GOMAXPROCS=1, when benches/peers/setup.sh installed it), side by side.
# Our bench server is pinned to core 0, the calling process (a current-thread
# runtime) to core 1; c=1 and c=64 on one connection, SECONDS measured per cell
# after a 1 s warm-up.
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
