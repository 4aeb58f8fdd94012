#!/usr/bin/env bash
# Quick start, command 2: install what is needed, build, and run the whole test suite
# (unit tests, plus integration tests with real plugins in real network namespaces: needs root).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/toolchain-path.sh
report=$(mktemp)
trap 'rm -f "$report"' EXIT
status=0
npm test -- --reporter=default --reporter=json --outputFile.json="$report" || status=$?
# One plain summary line for tools that read only the last lines.
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped`);
' "$report" || true
exit "$status"
