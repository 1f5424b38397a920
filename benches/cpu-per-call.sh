#!/usr/bin/env bash
# Server CPU per unary call, the steadiest before/after number for a runtime change:
# one bench server pinned to core 0, h2load on core 1 (4 connections x 64 streams,
# helloworld SayHello), `perf stat -e task-clock` on the server over N calls.
#
#   cargo build --release -p benches
#   bash benches/cpu-per-call.sh ours [N]      # or ceiling, tonic
set -euo pipefail
kind=${1:?usage: cpu-per-call.sh ceiling|ours|tonic [calls]}
calls=${2:-300000}
root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/target/release/benches"
work=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
for tool in h2load perf taskset; do
  command -v "$tool" >/dev/null || { echo "cpu-per-call.sh: $tool is not installed" >&2; exit 1; }
done
# HelloRequest{name: "world"} with its 5-byte gRPC prefix.
printf '\x00\x00\x00\x00\x07\x0a\x05world' > "$work/hello.bin"
taskset -c 0 "$bin" serve "$kind" > "$work/serve.out" 2>&1 &
server=$!
for _ in $(seq 50); do grep -q LISTENING "$work/serve.out" && break; sleep 0.1; done
addr=$(awk '/LISTENING/ {print $2}' "$work/serve.out")
load() {
  taskset -c 1 h2load -t1 -c4 -m64 -d "$work/hello.bin" -H 'content-type: application/grpc' \
    -H 'te: trailers' -n "$1" "http://$addr/helloworld.Greeter/SayHello"
}
load 50000 > /dev/null # warm-up
perf stat -e task-clock -p "$server" -o "$work/stat" -- sleep 1000 2>/dev/null &
perf=$!
sleep 0.2
load "$calls" > "$work/h2load.out"
pkill -P "$perf" sleep || true
wait "$perf" 2>/dev/null || true
ms=$(awk '/task-clock/ {gsub(",", "", $1); print $1}' "$work/stat")
done_calls=$(awk '/^requests:/ {print $8}' "$work/h2load.out")
echo "$kind: $(python3 -c "print(f'{$ms * 1000 / $done_calls:.2f}')") us server CPU per call over $done_calls calls"
