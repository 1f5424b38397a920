#!/usr/bin/env bash
# Regenerates the runtime's own services (health, reflection) into src/generated
# with our generator, the well-known types' descriptors that reflection serves,
# and the crate guide's echo service (tests/guide); `generate.sh --check` fails
# when the checked-in files are stale.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run -q -p rust-grpc-codegen -- -I runtime/proto \
  runtime/proto/grpc/health/v1/health.proto \
  runtime/proto/grpc/reflection/v1/reflection.proto \
  runtime/proto/grpc/reflection/v1alpha/reflection.proto \
  runtime/proto/google/rpc/status.proto \
  runtime/proto/google/rpc/error_details.proto \
  --out runtime/src/generated "$@"
# protoc-gen-rust-grpc knows the well-known types; this only asks for their descriptors.
wkt=(any api duration empty field_mask source_context struct timestamp type wrappers descriptor)
cargo run -q -p rust-grpc-codegen -- -I runtime/proto \
  $(printf "google/protobuf/%s.proto " "${wkt[@]}") \
  --descriptor_set_out runtime/src/generated/well_known_types.bin "$@"
# The service the crate-level guide's examples call.
cargo run -q -p rust-grpc-codegen -- -I runtime/tests/guide runtime/tests/guide/echo.proto \
  --out runtime/tests/guide --opt include_file= --opt file_descriptor_set=false \
  --opt default_stubs=true "$@"
