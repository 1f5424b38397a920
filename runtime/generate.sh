#!/usr/bin/env bash
# Regenerates the runtime's own services (health, reflection) into src/generated
# with our generator; `generate.sh --check` fails when the checked-in code is stale.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run -q -p protoc-gen-rust-grpc -- -I runtime/proto \
  runtime/proto/grpc/health/v1/health.proto \
  runtime/proto/grpc/reflection/v1/reflection.proto \
  runtime/proto/grpc/reflection/v1alpha/reflection.proto \
  --out runtime/src/generated "$@"
