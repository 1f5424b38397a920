#!/usr/bin/env bash
# Fills a corpus directory per target (default target/fuzz-corpus/) with the
# committed seeds and regressions plus seeds made from the repository's test
# data: every .proto of testdata/ for proto_text, and compression bombs (10 MB
# of zeros, gzip and zstd) for decompress. Usage: bash fuzz/seeds.sh [DIR]
set -euo pipefail
cd "$(dirname "$0")"
out=${1:-../target/fuzz-corpus}
targets=$(sed -n 's/^name = "\(.*\)"$/\1/p' Cargo.toml | grep -v '^rust-grpc-fuzz$')
for t in $targets; do
  mkdir -p "$out/$t"
  for dir in seeds regressions; do
    [ -d "$dir/$t" ] && cp "$dir/$t"/* "$out/$t/" 2>/dev/null || true
  done
done
find ../testdata -name '*.proto' | while read -r proto; do
  cp "$proto" "$out/proto_text/$(echo "$proto" | tr '/.' '__')"
done
# decompress: the first byte picks the encoding (bit 0: zstd) and the limit.
for limit in 0 4 7; do
  { printf "\\x$(printf %02x $((limit << 1)))"; head -c 10000000 /dev/zero | gzip -9; } > "$out/decompress/gzip-bomb-$limit"
  if command -v zstd >/dev/null; then
    { printf "\\x$(printf %02x $((limit << 1 | 1)))"; head -c 10000000 /dev/zero | zstd -19 -q -c; } > "$out/decompress/zstd-bomb-$limit"
  fi
done
echo "seeds in $out: $(find "$out" -type f | wc -l) files"
