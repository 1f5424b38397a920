#!/usr/bin/env bash
# Server instructions per unary call, counted by callgrind: the same figure on a
# busy machine as on a quiet one, so small call-path changes show (cpu-per-call.sh's
# task-clock moves by +-10% between runs). One bench server under valgrind, h2load
# (4 connections x 64 streams, helloworld SayHello), counters zeroed after a warm-up.
#
#   cargo build --release -p benches
#   bash benches/instructions-per-call.sh ours [N]      # or ceiling, tonic
set -euo pipefail
kind=${1:?usage: instructions-per-call.sh ceiling|ours|tonic [calls]}
calls=${2:-20000}
root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/target/release/benches"
for tool in h2load valgrind callgrind_control; do
  command -v "$tool" >/dev/null || { echo "instructions-per-call.sh: $tool is not installed" >&2; exit 1; }
done
work=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
# HelloRequest{name: "world"} with its 5-byte gRPC prefix.
printf '\x00\x00\x00\x00\x07\x0a\x05world' > "$work/hello.bin"
valgrind --tool=callgrind --callgrind-out-file="$work/cg.out" "$bin" serve "$kind" \
  > "$work/serve.out" 2>&1 &
server=$!
for _ in $(seq 600); do grep -q LISTENING "$work/serve.out" && break; sleep 0.1; done
addr=$(awk '/LISTENING/ {print $2}' "$work/serve.out")
load() {
  h2load -t1 -c4 -m64 -d "$work/hello.bin" -H 'content-type: application/grpc' \
    -H 'te: trailers' -n "$1" "http://$addr/helloworld.Greeter/SayHello" > "$work/h2load.out"
}
load 2000 # warm-up
callgrind_control -z "$server" > /dev/null
load "$calls"
done_calls=$(awk '/^requests:/ {print $8}' "$work/h2load.out")
callgrind_control -d "$server" > /dev/null
for _ in $(seq 100); do ls "$work"/cg.out.* > /dev/null 2>&1 && break; sleep 0.1; done
sleep 0.5
total=$(awk '/^totals:/ {print $2}' "$work"/cg.out.*)
echo "$kind: $((total / done_calls)) server instructions per call over $done_calls calls"
