#!/bin/bash
# Runs the tap suites and ends with one plain line: "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp)
trap 'rm -f "$out"' EXIT
# tap compiles its runner for the plugin set in package.json (tsx instead of ts-node)
npx tap build >/dev/null
npx tap "$@" 2>&1 | tee "$out"
rc=${PIPESTATUS[0]}
node -e '
  const t = require("fs").readFileSync(process.argv[1], "utf8");
  const m = [...t.matchAll(/^# \{ total: (\d+)(?:, pass: (\d+))?(?:, fail: (\d+))?(?:, skip: (\d+))?.*\}/gm)].at(-1);
  const [total, pass, fail, skip] = m ? m.slice(1).map((x) => Number(x ?? 0)) : [0, 0, 0, 0];
  console.log(`${pass} passed, ${fail + (m ? 0 : 1)} failed` + (skip ? `, ${skip} skipped` : ""));
' "$out"
exit "$rc"
