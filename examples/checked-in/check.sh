#!/usr/bin/env bash
# Fails (exit 1, naming each file) when the committed code in src/generated/ is
# not what the generator makes from proto/ today. Run from anywhere; CI runs it.
set -euo pipefail
cd "$(dirname "$0")/../.."
exec cargo run -q -p rust-grpc-codegen -- \
    -I examples/checked-in/proto examples/checked-in/proto/echo.proto \
    --out examples/checked-in/src/generated --check
