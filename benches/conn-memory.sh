#!/usr/bin/env bash
# Server memory per idle connection: for our server, tonic's (both `benches
# serve`, current-thread runtimes) and grpc-go's benchmark server, opens N
# HTTP/2 connections that each finish the handshake and one UnaryCall, holds
# them idle and prints (server RSS after - RSS before) / N (benches/src/conns.rs).
#
#   bash benches/conn-memory.sh [N] [ours tonic grpc-go]     # N defaults to 10000
#
# Needs grpc-go's benchmark server (bash benches/peers/setup.sh) for grpc-go.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-10000}
shift || true
kinds=("$@")
[ ${#kinds[@]} -gt 0 ] || kinds=(ours tonic grpc-go)
# Each connection is a descriptor on both sides; where the hard limit is below
# 65536 (a container), take the hard limit and say so when N will not fit.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((n + 100)) ]; then
  echo "conn-memory: the descriptor limit $(ulimit -n) is below N=$n plus a margin" >&2
  exit 1
fi
cargo build --release --quiet -p benches
# A copy: a rebuild while this runs must not rewrite the running binary.
work=$(mktemp -d)
cp "${CARGO_TARGET_DIR:-$PWD/target}/release/benches" "$work/benches"
bin="$work/benches"
grpc_go="$PWD/.cache/go-bin/grpc-go-benchmark/server"
announced="$work/announced"
server=
cleanup() { [ -z "$server" ] || kill "$server" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
for kind in "${kinds[@]}"; do
  : >"$announced"
  case "$kind" in
    ours|tonic)
      "$bin" serve "$kind" >"$announced" &
      server=$!
      for _ in $(seq 300); do grep -q '^LISTENING ' "$announced" && break; sleep 0.1; done
      addr=$(sed -n 's/^LISTENING //p' "$announced")
      ;;
    grpc-go)
      [ -x "$grpc_go" ] || { echo "$kind: no $grpc_go (bash benches/peers/setup.sh)" >&2; exit 1; }
      port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
      (cd "${TMPDIR:-/tmp}" && exec "$grpc_go" -port "$port" -test_name rust-grpc-conn-memory) >/dev/null 2>&1 &
      server=$!
      addr="127.0.0.1:$port"
      for _ in $(seq 300); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
      ;;
    *) echo "unknown server $kind (ours, tonic or grpc-go)" >&2; exit 2 ;;
  esac
  [ -n "$addr" ] || { echo "$kind: the server did not start" >&2; exit 1; }
  printf '%-8s ' "$kind"
  "$bin" conns "$addr" "$server" "$n"
  kill "$server"; wait "$server" 2>/dev/null || true
  server=
done
