#!/usr/bin/env bash
# Client instructions per unary call, counted by callgrind: the calling process
# of one client cell (benches client ADDR SECONDS CLIENT:CONCURRENCY) under
# valgrind, against our bench server, divided by every call it made (warm-up
# and connection set-up included, a few hundred instructions per call at most).
# Steady to about +-1% on a busy machine, where client-cpu.sh's CPU time moves
# by +-10%: the figure to compare before and after a change to the client path.
#
#   cargo build --release -p benches
#   bash benches/client-instructions.sh [ours|tonic|hyper] [CONCURRENCY] [SECONDS]
set -euo pipefail
client=${1:-ours}
concurrency=${2:-64}
secs=${3:-4}
root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/target/release/benches"
command -v valgrind >/dev/null || { echo "client-instructions.sh: valgrind is not installed" >&2; exit 1; }
work=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
taskset -c 0 "$bin" serve ours > "$work/serve.out" 2>&1 &
server=$!
for _ in $(seq 50); do grep -q LISTENING "$work/serve.out" && break; sleep 0.1; done
addr=$(awk '/LISTENING/ {print $2}' "$work/serve.out")
taskset -c 1 valgrind --tool=callgrind --callgrind-out-file="$work/cg.out" \
  "$bin" client "$addr" "$secs" "$client:$concurrency" > /dev/null 2> "$work/err" \
  || { cat "$work/err" >&2; exit 1; }
calls=$(awk '/calls made/ {print $3}' "$work/err")
total=$(awk '/^totals:/ {print $2}' "$work/cg.out")
echo "$client c=$concurrency: $((total / calls)) client instructions per call over $calls calls"
