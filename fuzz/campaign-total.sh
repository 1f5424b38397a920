#!/usr/bin/env bash
# Adds up the campaign's runs (fuzz/campaign.sh logs): executions per target
# over every run that ended clean or was interrupted, and the runs that found
# something (those do not count: the finding is fixed and the target run again).
#   bash fuzz/campaign-total.sh [LOG_DIR]
set -euo pipefail
cd "$(dirname "$0")"
logs=${1:-../target/fuzz-logs}
targets=$(sed -n 's/^name = "\(.*\)"$/\1/p' Cargo.toml | grep -v '^rust-grpc-fuzz$')
echo "| target | executions | runs | findings |"
echo "|---|---:|---:|---:|"
for t in $targets; do
  total=0 runs=0 findings=0
  for log in "$logs/$t"-*.log; do
    [ -e "$log" ] || continue
    if grep -q 'deadly signal\|panicked at' "$log" && ! grep -q 'run interrupted' "$log"; then
      findings=$((findings + 1))
      continue
    fi
    # A run stopped from outside has no final stats: its last status line counts.
    n=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    [ -n "$n" ] || n=$(grep -ao '^#[0-9]*' "$log" | tail -1 | tr -d '#')
    total=$((total + ${n:-0}))
    runs=$((runs + 1))
  done
  printf '| %s | %s | %s | %s |\n' "$t" "$total" "$runs" "$findings"
done
