#!/usr/bin/env bash
# Installs grpc-go's official interop client and server (the peers of the
# interop matrix) from the Go module proxy, built with the machine's Go, and
# builds our own grpc-go test server for the client channel's tests
# (channel-peer/, see the top of its main.go) against the same grpc-go.
#
#   bash interop/peers/go/install.sh      # idempotent; prints KEY=VALUE lines
#
# Binaries go to <repo>/.cache/go-bin/{client,server,channel-peer}. The TLS test files come
# from the same module's testdata/ in the module cache: server1.pem and
# server1.key (the server's certificate, valid for *.test.google.fr, so clients
# use the host override foo.test.google.fr) and ca.pem (the CA that signed it).
# These are the files grpc-go's interop binaries use by default. (testdata/x509
# holds a different set, for *.test.example.com.) The last lines on
# stdout say where everything is (read by interop/run-matrix):
#   GO_CLIENT=... GO_SERVER=... CHANNEL_PEER=... GO_TESTDATA=... GRPC_GO_VERSION=...
#
# If the module proxy ever refused this module, the fallback (not needed so far)
# would be grpc-go 1.33.3 from Debian's source package golang-google-grpc (the
# binary package leaves interop/ out): `apt-get source` through a private apt
# configuration with a deb-src entry, delete the shipped *.pb.go, run the
# package's regenerate.sh (needs Debian's protoc-gen-go-1-3 and
# protoc-gen-go-grpc) and build in GOPATH mode with GO111MODULE=off.
set -euo pipefail
GRPC_GO_VERSION=v1.85.0
root="$(cd "$(dirname "$0")/../../.." && pwd)"
bin="$root/.cache/go-bin"
mkdir -p "$bin"

# A binary is current when `go version -m` names the pinned module version.
is_current() {
  [ -x "$1" ] && go version -m "$1" 2>/dev/null \
    | grep -qE "^[[:space:]]+mod[[:space:]]+google.golang.org/grpc[[:space:]]+$GRPC_GO_VERSION([[:space:]]|$)"
}

for tool in client server; do
  if is_current "$bin/$tool"; then
    echo "grpc-go interop $tool $GRPC_GO_VERSION: already installed" >&2
  else
    echo "== go install google.golang.org/grpc/interop/$tool@$GRPC_GO_VERSION" >&2
    GOBIN="$bin" GOFLAGS=-buildvcs=false go install "google.golang.org/grpc/interop/$tool@$GRPC_GO_VERSION" >&2
  fi
done

# channel-peer pins grpc-go in its own go.mod; it is rebuilt when its sources
# change (a hash of them is kept beside the binary).
peer_src="$root/interop/peers/go/channel-peer"
grep -q "google.golang.org/grpc $GRPC_GO_VERSION\$" "$peer_src/go.mod" \
  || { echo "channel-peer/go.mod does not require grpc $GRPC_GO_VERSION" >&2; exit 1; }
peer_hash="$(cat "$peer_src/main.go" "$peer_src/go.mod" "$peer_src/go.sum" | sha256sum | cut -d' ' -f1)"
if [ -x "$bin/channel-peer" ] && [ "$(cat "$bin/channel-peer.sha256" 2>/dev/null)" = "$peer_hash" ]; then
  echo "channel-peer: already built" >&2
else
  echo "== go build channel-peer" >&2
  (cd "$peer_src" && GOFLAGS=-buildvcs=false go build -o "$bin/channel-peer" .) >&2
  echo "$peer_hash" > "$bin/channel-peer.sha256"
fi

# go install left the module in the module cache; `go mod download` names its
# folder (and fetches it again if the cache was cleaned since).
moddir="$(cd / && go mod download -json "google.golang.org/grpc@$GRPC_GO_VERSION" \
  | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
testdata="$moddir/testdata"
for f in server1.pem server1.key ca.pem; do
  [ -f "$testdata/$f" ] || { echo "missing TLS test file $testdata/$f" >&2; exit 1; }
done

echo "GRPC_GO_VERSION=$GRPC_GO_VERSION"
echo "GO_CLIENT=$bin/client"
echo "GO_SERVER=$bin/server"
echo "CHANNEL_PEER=$bin/channel-peer"
echo "GO_TESTDATA=$testdata"
