#!/usr/bin/env bash
# The soak: unary calls at a fixed concurrency with long bidi streams alongside,
# all on one channel of ours, against our server (`benches serve ours`), with
# the server's and the client's RSS sampled on a period and fitted against calls
# done (benches/src/soak.rs). Fails on any error or, with MAX_GROWTH_KIB, when
# RSS grew by more than that after the warm-up (the first tenth of the calls).
#
#   nice -n 15 bash benches/soak.sh                  # the full soak: 1,000,000 calls, c=256, 4 streams, 10 s samples
#   bash benches/soak.sh 20000 256 4 500 16384       # CI's short one: 20,000 calls, 0.5 s samples, 16 MiB bound
#
# Arguments: CALLS CONCURRENCY STREAMS SAMPLE_MS MAX_GROWTH_KIB (all optional).
set -euo pipefail
cd "$(dirname "$0")/.."
calls=${1:-1000000} concurrency=${2:-256} streams=${3:-4} sample_ms=${4:-10000} max_growth=${5:-}
cargo build --release --quiet -p benches
# A copy: a rebuild while the soak runs must not rewrite the running binary.
work=$(mktemp -d)
cp "${CARGO_TARGET_DIR:-$PWD/target}/release/benches" "$work/benches"
bin="$work/benches"
announced="$work/announced"
"$bin" serve ours >"$announced" &
server=$!
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 300); do grep -q '^LISTENING ' "$announced" && break; sleep 0.1; done
addr=$(sed -n 's/^LISTENING //p' "$announced")
[ -n "$addr" ] || { echo "soak: the server did not start" >&2; exit 1; }
echo "== soak: $calls calls at concurrency $concurrency, $streams bidi streams, server $addr (pid $server)"
status=0
"$bin" soak "$addr" "$server" "calls=$calls" "concurrency=$concurrency" "streams=$streams" \
  "sample_ms=$sample_ms" ${max_growth:+"max_growth_kib=$max_growth"} || status=$?
if ! kill -0 "$server" 2>/dev/null; then
  wait "$server" && code=0 || code=$?
  echo "soak: the server exited during the soak (status $code)" >&2
  status=1
fi
exit "$status"
