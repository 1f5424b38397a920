#!/usr/bin/env bash
# Runs the connectrpc conformance suite (connectconformance) against our server
# and our client under test, gRPC protocol, as conformance/config-<mode>.yaml claim.
# Installs connectconformance into .cache/go-bin when missing, builds the two
# binaries, runs each mode with a time bound, prints each mode's counts and a
# total, and exits 1 if any case failed.
#
#   conformance/run.sh                 # every mode
#   conformance/run.sh server -- --run '**/unary/**'   # extra connectconformance flags
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
version=v1.0.7
bin="$root/.cache/go-bin/connectconformance"
modes=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do modes+=("$1"); shift; done
[ "${1:-}" = "--" ] && shift
[ ${#modes[@]} -gt 0 ] || modes=(server client)

if ! { [ -x "$bin" ] && "$bin" --version 2>/dev/null | grep -q "$version"; }; then
  echo "== go install connectrpc.com/conformance/cmd/connectconformance@$version"
  GOBIN="$root/.cache/go-bin" go install "connectrpc.com/conformance/cmd/connectconformance@$version"
fi

cargo build -q -p conformance --bins
target="${CARGO_TARGET_DIR:-$root/target}/debug"
logs="$root/.cache/conformance"
mkdir -p "$logs"

# Each known-failing file lists patterns with a one-line reason each; empty now.
status=0
passed=0 failed=0 skipped=0
for mode in "${modes[@]}"; do
  case "$mode" in
    server) program=("$target/conformance-server"); flags=(--parallel 4) ;;
    client) program=("$target/conformance-client" --parallel 8); flags=() ;;
    *) echo "unknown mode $mode (server or client)" >&2; exit 2 ;;
  esac
  log="$logs/$mode.log"
  echo "== conformance, $mode mode (log: $log)"
  set +e
  timeout 900 "$bin" --conf "conformance/config-$mode.yaml" --mode "$mode" "${flags[@]}" \
    --known-failing "@conformance/known-failing-$mode.txt" "$@" -- "${program[@]}" >"$log" 2>&1
  rc=$?
  set -e
  grep -E '^(FAILED|INFO):' -A6 "$log" | head -200 || true
  total=$(sed -n 's/^Total cases: \([0-9]*\)$/\1/p' "$log" | tail -1)
  read -r p f < <(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p' "$log" | tail -1) || true
  if [ -z "${total:-}" ] || [ -z "${p:-}" ]; then
    echo "connectconformance ($mode) gave no totals (exit $rc); the end of its log:"
    tail -20 "$log"
    status=1
    continue
  fi
  known=$(sed -n 's/^(\([0-9]*\) failed as expected.*/\1/p' "$log" | tail -1)
  known=${known:-0}
  # Known-failing cases count as failed here: the suite expects them to fail.
  s=$((total - p - f - known))
  echo "conformance $mode: $p passed, $((f + known)) failed, $s skipped (of $total; $known known-failing)"
  passed=$((passed + p)) failed=$((failed + f + known)) skipped=$((skipped + s))
  [ "$rc" = 0 ] || status=1
done
echo "conformance: $passed passed, $failed failed, $skipped skipped"
exit "$status"
