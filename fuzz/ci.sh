#!/usr/bin/env bash
# CI's fuzzing step (FUZZING.md), called by .ci/run:
# 1. the generated-name fuzz: NAME_FUZZ_COUNT (500) random protos of hard
#    identifiers, generated and compiled with warnings denied (stable);
# 2. every cargo-fuzz target for FUZZ_SECONDS (10) each on nightly, after
#    replaying its committed seeds and regressions. Without nightly or
#    cargo-fuzz it says so loudly and replays the seeds and regressions on
#    stable instead (tests/replay.rs).
set -euo pipefail
cd "$(dirname "$0")"
root=$(cd .. && pwd)
seconds=${FUZZ_SECONDS:-10}
names=${NAME_FUZZ_COUNT:-500}
start=$(date +%s)
elapsed() { echo "$(( $(date +%s) - start ))s"; }

echo "== name fuzz: $names protos (seed 1), compiled with #![deny(warnings)]"
# A debug build in the workspace's target dir reuses what `cargo test` built.
CARGO_TARGET_DIR="$root/target" \
  cargo run --quiet --manifest-path names/Cargo.toml -- \
  --count "$names" --seed 1 --out "$root/target/name-fuzz"
echo "== name fuzz done ($(elapsed))"

nightly=1
if ! cargo +nightly --version >/dev/null 2>&1; then
  rustup toolchain install nightly --profile minimal >/dev/null 2>&1 || nightly=0
fi
if [ "$nightly" = 1 ] && ! command -v cargo-fuzz >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked --quiet || nightly=0
fi
if [ "$nightly" = 0 ]; then
  echo "!! SKIPPED: cargo-fuzz runs need a nightly toolchain and cargo-fuzz, and one could not be installed."
  echo "!! Replaying the committed seeds and regressions on stable instead."
  CARGO_TARGET_DIR="$root/target/fuzz-replay" \
    cargo test --quiet --manifest-path Cargo.toml --test replay
  echo "== fuzz replay done ($(elapsed))"
  exit 0
fi

export CARGO_TARGET_DIR="$root/target/fuzz-ci"
corpus="$root/target/fuzz-ci-corpus"
rm -rf "$corpus"
bash seeds.sh "$corpus"
cargo +nightly fuzz build -s none -a
echo "== fuzz targets built ($(elapsed))"
mapfile -t targets < <(sed -n 's/^name = "\(.*\)"$/\1/p' Cargo.toml | grep -v '^rust-grpc-fuzz$')
failed=()
for t in "${targets[@]}"; do
  if cargo +nightly fuzz run -s none -a "$t" "$corpus/$t" -- \
      -max_total_time="$seconds" -rss_limit_mb=2048 -malloc_limit_mb=512 \
      -print_final_stats=1 -artifact_prefix="$root/target/fuzz-ci-$t-" \
      >"$corpus/$t.log" 2>&1; then
    echo "   $t: $(sed -n 's/^stat::number_of_executed_units: *//p' "$corpus/$t.log") runs, clean"
  else
    tail -40 "$corpus/$t.log"
    echo "!! $t FAILED; the input is $root/target/fuzz-ci-$t-*: fix it, add it to fuzz/regressions/$t/"
    failed+=("$t")
  fi
done
echo "== fuzzing done ($(elapsed))"
[ ${#failed[@]} = 0 ] || { echo "!! fuzz targets with findings: ${failed[*]}"; exit 1; }
