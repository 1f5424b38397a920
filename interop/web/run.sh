#!/usr/bin/env bash
# The browser test: headless Chromium loads a page (app.ts, bundled with esbuild,
# with @bufbuild/protoc-gen-es code for corpus/echo.proto and Connect's gRPC-Web
# transport) from one origin, and the page calls our grpc-web-peer server on
# another origin: unary with metadata both ways, server streaming, an error
# status, grpc-web-text by hand, and a second server that does not allow the
# page's origin, which CORS must refuse. Fails unless every check passes.
#
#   bash interop/web/run.sh
#
# Installs Chromium (Debian's chromium) when missing and the npm packages into
# .cache/browser-test; skips, saying so loudly, only if Chromium cannot be installed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cache="$root/.cache/browser-test"
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

if ! command -v chromium >/dev/null 2>&1; then
  echo "== installing chromium"
  if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
  if ! { $sudo apt-get update -qq && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }; then
    echo "!! SKIPPED: the browser test (interop/web): chromium cannot be installed here" >&2
    exit 0
  fi
fi

# npm packages, pinned in package.json, installed once into .cache/.
mkdir -p "$cache"
if ! cmp -s "$here/package.json" "$cache/package.json" || [ ! -x "$cache/node_modules/.bin/esbuild" ]; then
  echo "== installing the browser test's npm packages"
  cp "$here/package.json" "$cache/package.json"
  npm install --silent --no-audit --no-fund --prefix "$cache"
fi

# The page: generated code, the bundle, the HTML.
mkdir -p "$work/src/gen" "$work/site"
cp "$here/app.ts" "$work/src/"
protoc --plugin=protoc-gen-es="$cache/node_modules/.bin/protoc-gen-es" \
  --es_out="$work/src/gen" --es_opt=target=ts -I "$root/testdata/protos" \
  "$root/testdata/protos/corpus/echo.proto"
NODE_PATH="$cache/node_modules" "$cache/node_modules/.bin/esbuild" "$work/src/app.ts" \
  --bundle --format=esm --target=es2022 --log-level=warning --outfile="$work/site/app.js"
cp "$here/index.html" "$work/site/"

# Two servers: one allows the page's origin, one allows none.
cargo build -q -p rust-grpc-testdata --bin grpc-web-peer
peer="${CARGO_TARGET_DIR:-$root/target}/debug/grpc-web-peer"

# The page's own origin: a static file server on another port.
python3 -u -m http.server --bind 127.0.0.1 0 --directory "$work/site" >"$work/site.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do grep -q "port" "$work/site.log" && break; sleep 0.1; done
site_port=$(sed -n 's/.*port \([0-9]*\).*/\1/p' "$work/site.log" | head -1)
origin="http://127.0.0.1:$site_port"

start_peer() {
  local out=$1
  shift
  "$peer" "$@" >"$out" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do grep -q LISTENING "$out" && break; sleep 0.1; done
  awk '/LISTENING/ {print $2}' "$out"
}
allowing=$(start_peer "$work/allowing.log" --allow-origin "$origin")
refusing=$(start_peer "$work/refusing.log")
[ -n "$site_port" ] && [ -n "$allowing" ] && [ -n "$refusing" ] || {
  echo "browser test: a server did not start" >&2
  cat "$work"/*.log >&2
  exit 1
}

url="$origin/index.html?server=http://$allowing&refusing=http://$refusing"
# A first start of a fresh Chromium (profile, font cache) on a loaded machine
# can use up the virtual time budget before the page's calls end, leaving the
# page at RUNNING. That is a slow start, not a result: warm up once, and load
# the page again (at most 3 times) only while it has not finished; any FAIL
# line still fails the test.
timeout 60 chromium --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
  --no-first-run --user-data-dir="$work/profile" --dump-dom about:blank >/dev/null 2>&1 || true
for attempt in 1 2 3; do
  echo "== chromium --headless loads $url (attempt $attempt)"
  timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
    --no-first-run --user-data-dir="$work/profile" --virtual-time-budget=30000 \
    --dump-dom "$url" >"$work/dom.html" 2>"$work/chromium.log" || true
  results=$(python3 - "$work/dom.html" <<'PY'
import html, re, sys
dom = open(sys.argv[1], encoding="utf-8", errors="replace").read()
match = re.search(r'<pre id="results">(.*?)</pre>', dom, re.S)
print(html.unescape(match.group(1)) if match else "NO RESULTS in the page")
PY
)
  grep -qx RUNNING <<<"$results" || break
  echo "the page had not finished (RUNNING)"
done
echo "$results"
passed=$(grep -c '^PASS ' <<<"$results" || true)
if grep -q '^FAIL ' <<<"$results" || ! grep -qx DONE <<<"$results" || [ "$passed" != 5 ]; then
  echo "== browser test: FAILED ($passed of 5 checks passed)" >&2
  tail -20 "$work/chromium.log" >&2
  exit 1
fi
echo "== browser test: 5 of 5 checks passed (Chromium $(chromium --version 2>/dev/null | awk '{print $2}'))"
