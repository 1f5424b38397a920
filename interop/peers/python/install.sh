#!/usr/bin/env bash
# Sets up the Python peer of the interop matrix: a venv with the latest grpcio,
# grpcio-tools and protobuf from PyPI, and Python stubs that grpcio-tools
# generates from the project's grpc.testing protos (interop/proto). The venv also
# has grpcio-health-checking, grpcio-reflection and grpcio-status, which the
# peer checks of testdata/tests/python_*.rs and tls.rs run (checks/).
#
#   bash interop/peers/python/install.sh            # idempotent; prints KEY=VALUE lines
#   bash interop/peers/python/install.sh --upgrade  # pip install -U again
#
# The venv is <repo>/.cache/venv; the stubs go to <repo>/.cache/interop-python
# (regenerated on every run: it takes a second, and the protos may have
# changed). Nothing here is committed. The last lines on stdout say where
# everything is (read by interop/run-matrix):
#   PY_PYTHON=... PY_GENERATED=... GRPCIO_VERSION=... PY_CLIENT=... PY_SERVER=...
# Set INTEROP_PROTO_DIR to generate from another proto root (default interop/proto).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
venv="$root/.cache/venv"
gen="$root/.cache/interop-python"
protos="${INTEROP_PROTO_DIR:-$root/interop/proto}"
marker="$venv/.interop-peer-installed"
packages="grpcio grpcio-tools protobuf grpcio-health-checking grpcio-reflection grpcio-status"

upgrade=0
[ "${1:-}" = "--upgrade" ] && upgrade=1

if [ ! -x "$venv/bin/python" ]; then
  echo "== creating venv $venv" >&2
  python3 -m venv "$venv" >&2
fi
# The marker holds the package list it was made for: a venv from before a
# package joined the list gets it on the next run.
if [ "$upgrade" = 1 ] || [ "$(cat "$marker" 2>/dev/null)" != "$packages" ]; then
  echo "== pip install -U $packages" >&2
  # shellcheck disable=SC2086 # one word per package
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -U $packages >&2
  echo "$packages" >"$marker"
fi

for f in empty messages test; do
  [ -f "$protos/grpc/testing/$f.proto" ] \
    || { echo "missing $protos/grpc/testing/$f.proto (the grpc.testing protos)" >&2; exit 1; }
done

tmp="$gen.tmp"
rm -rf "$tmp"
mkdir -p "$tmp"
"$venv/bin/python" -m grpc_tools.protoc -I "$protos" \
  --python_out="$tmp" --grpc_python_out="$tmp" \
  "$protos/grpc/testing/empty.proto" \
  "$protos/grpc/testing/messages.proto" \
  "$protos/grpc/testing/test.proto" >&2
rm -rf "$gen"
mv "$tmp" "$gen"

# The stubs must load with the venv's protobuf runtime.
INTEROP_PYTHON_GENERATED="$gen" PYTHONPATH="$here" "$venv/bin/python" -c \
  'import peer_common; peer_common.load()' >&2

echo "GRPCIO_VERSION=$("$venv/bin/python" -c 'import grpc; print(grpc.__version__)')"
echo "PY_PYTHON=$venv/bin/python"
echo "PY_GENERATED=$gen"
echo "PY_CLIENT=$here/client.py"
echo "PY_SERVER=$here/server.py"
