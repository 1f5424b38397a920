#!/usr/bin/env bash
# The recorded campaign (FUZZING.md): runs each target given (default: all),
# one at a time under nice, until RUNS executions or SECONDS_EACH seconds, on
# the corpus of fuzz/seeds.sh, and prints one row per target. Each run keeps
# its own log (target/fuzz-logs/<target>-<time>.log), so a campaign can be
# spread over several sittings: fuzz/campaign-total.sh adds them up.
#   RUNS=10000000 SECONDS_EACH=1800 bash fuzz/campaign.sh [TARGET...]
set -euo pipefail
cd "$(dirname "$0")"
root=$(cd .. && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target/fuzz}
corpus=$root/target/fuzz-corpus
logs=$root/target/fuzz-logs
runs=${RUNS:-10000000}
seconds=${SECONDS_EACH:-1800}
mkdir -p "$logs" "$root/target/fuzz-artifacts"
[ -d "$corpus" ] || bash seeds.sh "$corpus" >/dev/null
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(sed -n 's/^name = "\(.*\)"$/\1/p' Cargo.toml | grep -v '^rust-grpc-fuzz$')
for t in "${targets[@]}"; do
  mkdir -p "$corpus/$t"
  log="$logs/$t-$(date -u +%Y%m%dT%H%M%S).log"
  echo "# commit $(git -C "$root" rev-parse --short HEAD)" >"$log"
  set +e
  nice -n 19 cargo +nightly fuzz run -s none -a "$t" "$corpus/$t" -- \
    -runs="$runs" -max_total_time="$seconds" -rss_limit_mb=2048 -malloc_limit_mb=512 \
    -print_final_stats=1 -artifact_prefix="$root/target/fuzz-artifacts/$t-" \
    >>"$log" 2>&1
  status=$?
  set -e
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
  rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log")
  files=$(find "$corpus/$t" -type f | wc -l)
  result=clean
  if [ "$status" != 0 ]; then
    if grep -q 'run interrupted' "$log"; then result=interrupted; else result="FINDING (exit $status, see $log)"; fi
  fi
  echo "| $t | $execs | $rate | $files | ${rss} MB | $result |"
done
