#!/usr/bin/env bash
# Codegen speed and the cost of the generated code, ours against tonic's, for the
# googleapis-common-protos corpus and a synthetic file of 500 services:
#
#   1. time to generate (best of 3, wall clock):
#      - protoc + protoc-gen-rust-grpc (our plugin)
#      - protoc-gen-rust-grpc standalone (protox parser, no protoc)
#      - rust-grpc-build (our build.rs path; example codegen_ours)
#      - protoc + protoc-gen-prost + protoc-gen-tonic (cargo install into .cache)
#      - tonic-prost-build (example codegen_tonic)
#   2. lines of generated Rust, ours (rust-grpc-build) against tonic-prost-build's
#   3. time to compile the generated code alone (dependencies built beforehand),
#      in a scratch crate, debug profile, best of 3
#
#   bash benches/codegen.sh
#
# Prints a markdown table; benches/RESULTS.md quotes it. Needs protoc and cargo;
# fetches the corpus as .ci/test does when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
work="$root/.cache/benches/codegen"
mkdir -p "$work"
TIMEFORMAT=%R

corpus="${RUST_GRPC_GOOGLEAPIS:-$root/.cache/googleapis}"
if [ ! -d "$corpus/google" ]; then
  echo "== fetching googleapis-common-protos from PyPI" >&2
  mkdir -p "$work/wheel" "$corpus"
  python3 -m pip download --quiet --no-deps --only-binary=:all: --dest "$work/wheel" googleapis-common-protos
  (cd "$corpus" && python3 -m zipfile -e "$work"/wheel/googleapis_common_protos-*.whl .)
  find "$corpus" -type f ! -name '*.proto' -delete
fi

# The synthetic corpus: one file, 500 services of 4 rpcs each (one per kind).
synthetic="$work/synthetic"
mkdir -p "$synthetic"
{
  echo 'syntax = "proto3";'
  echo 'package synthetic;'
  for i in $(seq 1 500); do
    echo "message Request$i { string name = 1; int64 id = 2; repeated string tags = 3; }"
    echo "message Reply$i { string message = 1; bytes body = 2; }"
    echo "service Service$i {"
    echo "  rpc Unary(Request$i) returns (Reply$i);"
    echo "  rpc ServerStream(Request$i) returns (stream Reply$i);"
    echo "  rpc ClientStream(stream Request$i) returns (Reply$i);"
    echo "  rpc Bidi(stream Request$i) returns (stream Reply$i);"
    echo "}"
  done
} >"$synthetic/synthetic.proto"

echo "== building the generators" >&2
cargo build --release -q -p rust-grpc-codegen
cargo build --release -q -p benches --examples
ours_bin="$root/target/release/protoc-gen-rust-grpc"
cargo_bin="$root/.cache/cargo-bin/bin"
if [ ! -x "$cargo_bin/protoc-gen-prost" ] || [ ! -x "$cargo_bin/protoc-gen-tonic" ]; then
  echo "== cargo install protoc-gen-prost protoc-gen-tonic (into .cache/cargo-bin)" >&2
  cargo install --locked --quiet --root "$root/.cache/cargo-bin" \
    --target-dir "$root/.cache/cargo-install-target" protoc-gen-prost protoc-gen-tonic ||
    echo "!! cargo install protoc-gen-prost protoc-gen-tonic failed: that row is missing" >&2
fi

# best_of_3 CMD...: the fastest of three runs' wall-clock seconds.
best_of_3() {
  local best="" t
  for _ in 1 2 3; do
    t=$({ time "$@" >/dev/null 2>"$work/last.err"; } 2>&1) || { echo "failed"; return; }
    if [ -z "$best" ] || awk "BEGIN{exit !($t < $best)}"; then best=$t; fi
  done
  echo "$best"
}
# Same, for the examples, which time themselves (excluding process start-up).
best_of_3_self() {
  local best="" t
  for _ in 1 2 3; do
    t=$("$@" 2>"$work/last.err") || { echo "failed"; return; }
    if [ -z "$best" ] || awk "BEGIN{exit !($t < $best)}"; then best=$t; fi
  done
  echo "$best"
}
fresh() { rm -rf "$1" && mkdir -p "$1"; }
lines() { cat "$1"/*.rs | wc -l; }

# compile_time NAME DIR DEPENDENCIES: a scratch crate whose lib.rs includes the
# generated mod.rs; dependencies built first, then the crate alone, best of 3.
compile_time() {
  local name=$1 dir=$2 deps=$3 crate="$work/crates/$1"
  rm -rf "$crate" && mkdir -p "$crate/src"
  cp "$dir"/*.rs "$crate/src/"
  cat >"$crate/Cargo.toml" <<EOF
[package]
name = "generated-$name"
version = "0.0.0"
edition = "2021"
publish = false

[workspace]

[dependencies]
$deps
EOF
  printf '#![allow(warnings)]\ninclude!("mod.rs");\n' >"$crate/src/lib.rs"
  (cd "$crate" && CARGO_TARGET_DIR="$work/crates/target" cargo build -q 2>"$work/last.err") ||
    { echo "failed"; return; }
  local best="" t
  for _ in 1 2 3; do
    touch "$crate/src/lib.rs"
    t=$({ time (cd "$crate" && CARGO_TARGET_DIR="$work/crates/target" cargo build -q); } 2>&1)
    if [ -z "$best" ] || awk "BEGIN{exit !($t < $best)}"; then best=$t; fi
  done
  echo "$best"
}

ours_deps="rust-grpc = { path = \"$root/runtime\" }"
tonic_deps='tonic = { version = "0.14.9", default-features = false, features = ["codegen", "transport"] }
tonic-prost = "0.14.9"
prost = "0.14"
prost-types = "0.14"'

echo
echo "| corpus | files | protoc + our plugin s | our standalone s | rust-grpc-build s | protoc + protoc-gen-prost + protoc-gen-tonic s | tonic-prost-build s | lines ours | lines tonic-prost-build | compile ours s | compile tonic-prost-build s | compile ratio ours / tonic |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for name in googleapis synthetic; do
  if [ "$name" = googleapis ]; then inc=$corpus; else inc=$synthetic; fi
  mapfile -t files < <(cd "$inc" && find . -name '*.proto' | sed 's#^\./##' | sort)
  out="$work/out/$name"
  echo "== $name: ${#files[@]} files" >&2

  fresh "$out/plugin"
  t_plugin=$(cd "$inc" && best_of_3 protoc --plugin=protoc-gen-rust-grpc="$ours_bin" \
    --rust-grpc_out="$out/plugin" -I . "${files[@]}")
  fresh "$out/standalone"
  t_standalone=$(cd "$inc" && best_of_3 "$ours_bin" -I . "${files[@]}" --out "$out/standalone")
  fresh "$out/build"
  t_build=$(cd "$inc" && best_of_3_self "$root/target/release/examples/codegen_ours" "$out/build" . "${files[@]}")
  if [ -x "$cargo_bin/protoc-gen-tonic" ]; then
    fresh "$out/prost-tonic"
    t_prost_tonic=$(cd "$inc" && best_of_3 protoc \
      --plugin=protoc-gen-prost="$cargo_bin/protoc-gen-prost" --prost_out="$out/prost-tonic" \
      --plugin=protoc-gen-tonic="$cargo_bin/protoc-gen-tonic" --tonic_out="$out/prost-tonic" \
      -I . "${files[@]}")
  else
    t_prost_tonic="missing"
  fi
  fresh "$out/tonic"
  t_tonic=$(cd "$inc" && best_of_3_self "$root/target/release/examples/codegen_tonic" "$out/tonic" . "${files[@]}")

  l_ours=$(lines "$out/build")
  l_tonic=$(lines "$out/tonic")
  echo "== $name: compiling the generated code" >&2
  c_ours=$(compile_time "$name-ours" "$out/build" "$ours_deps")
  c_tonic=$(compile_time "$name-tonic" "$out/tonic" "$tonic_deps")
  ratio=$(awk "BEGIN{ if (\"$c_ours\" ~ /^[0-9.]+$/ && \"$c_tonic\" ~ /^[0-9.]+$/) printf \"%.2f\", $c_ours / $c_tonic; else print \"-\" }")
  echo "| $name | ${#files[@]} | $t_plugin | $t_standalone | $t_build | $t_prost_tonic | $t_tonic | $l_ours | $l_tonic | $c_ours | $c_tonic | $ratio |"
done
