#!/usr/bin/env bash
# Installs the load generators and builds the non-Rust peers the benchmark harness
# drives, into <repo>/.cache (nothing prebuilt is committed). Idempotent: a tool or
# binary already there is kept. Each step is independent: one that fails prints
# "SETUP-FAILED <name>: <why>" and the others still run; the harness reports the
# missing peer or generator (and `--quick` fails if it is one that should work).
#
#   bash benches/peers/setup.sh
#
# ghz, protoc-gen-go and protoc-gen-go-grpc come from the Go module proxy into
# .cache/go-bin, grpc-go's benchmark client and server into
# .cache/go-bin/grpc-go-benchmark (their binaries are named `client` and `server`,
# as are grpc-go's interop client and server that interop/peers/go/install.sh
# puts in .cache/go-bin); h2load is Debian's
# nghttp2-client; the grpc-go greeter
# (benches/peers/go, grpc-go v1.85.0) and the connect-rust greeter
# (benches/peers/connect, connectrpc 0.9) are built into .cache/benches/bin.
set -uo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
export GOBIN="$root/.cache/go-bin"
export GOFLAGS=-buildvcs=false
out="$root/.cache/benches"
mkdir -p "$GOBIN" "$out/bin"

fail() { echo "SETUP-FAILED $1: $2"; }

go_install() { # name module@version [directory binary]: into $GOBIN, or directory
  local dir="${3:-$GOBIN}" binary="${4:-$1}"
  [ -x "$dir/$binary" ] && return 0
  if ! command -v go >/dev/null 2>&1; then fail "$1" "go is not installed"; return 1; fi
  echo "== go install $2" >&2
  GOBIN="$dir" go install "$2" >&2 || { fail "$1" "go install $2 failed"; return 1; }
}

# Load generators.
go_install ghz github.com/bojand/ghz/cmd/ghz@latest
go_install grpc-go-bench-client google.golang.org/grpc/benchmark/client@v1.85.0 \
  "$GOBIN/grpc-go-benchmark" client
go_install grpc-go-bench-server google.golang.org/grpc/benchmark/server@v1.85.0 \
  "$GOBIN/grpc-go-benchmark" server
if ! command -v h2load >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "== apt-get install nghttp2-client (h2load)" >&2
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nghttp2-client; } >/dev/null 2>&1 \
      || fail h2load "apt-get install nghttp2-client failed"
  else
    fail h2load "not installed and not root to apt-get install nghttp2-client"
  fi
fi

# The grpc-go greeter: stubs generated from benches/proto, built in a scratch copy.
build_go_greeter() {
  local bin="$out/bin/greeter-go" src="$out/go-src"
  local stamp
  stamp=$(cat benches/peers/go/* benches/proto/*.proto | sha256sum | cut -c1-16)
  if [ -x "$bin" ] && [ "$(cat "$out/greeter-go.stamp" 2>/dev/null)" = "$stamp" ]; then return 0; fi
  go_install protoc-gen-go google.golang.org/protobuf/cmd/protoc-gen-go@latest || return 1
  go_install protoc-gen-go-grpc google.golang.org/grpc/cmd/protoc-gen-go-grpc@latest || return 1
  command -v protoc >/dev/null 2>&1 || { fail greeter-go "protoc is not installed"; return 1; }
  echo "== building the grpc-go greeter" >&2
  rm -rf "$src" && mkdir -p "$src/pb" && cp benches/peers/go/* "$src/"
  PATH="$GOBIN:$PATH" protoc -I benches/proto \
    --go_out="$src/pb" --go_opt=paths=source_relative \
    --go-grpc_out="$src/pb" --go-grpc_opt=paths=source_relative \
    --go_opt=Mhelloworld.proto=benchpeer/pb --go-grpc_opt=Mhelloworld.proto=benchpeer/pb \
    --go_opt=Mbenchmark.proto=benchpeer/pb --go-grpc_opt=Mbenchmark.proto=benchpeer/pb \
    helloworld.proto benchmark.proto >&2 || { fail greeter-go "protoc-gen-go failed"; return 1; }
  (cd "$src" && go build -o "$bin" .) >&2 || { fail greeter-go "go build failed"; return 1; }
  echo "$stamp" >"$out/greeter-go.stamp"
}
if command -v go >/dev/null 2>&1; then
  build_go_greeter
else
  fail greeter-go "go is not installed"
fi

# The connect-rust greeter (benches/peers/connect, its own Cargo.lock): cargo build
# into .cache; a warm build is a no-op.
build_connect_greeter() {
  echo "== building the connect-rust greeter (cargo build --release, cold: a few minutes)" >&2
  cargo build --release --locked --quiet --manifest-path benches/peers/connect/Cargo.toml \
    --target-dir "$out/connect-target" >&2 || { fail greeter-connect "cargo build failed"; return 1; }
  cp "$out/connect-target/release/greeter-connect" "$out/bin/greeter-connect"
}
build_connect_greeter
exit 0
