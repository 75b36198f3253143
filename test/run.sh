#!/bin/bash
# Runs every suite and ends with one plain line: "N passed, N failed".
#  1. tap: unit tests and integration tests (each in namespaces of its own) on this kernel;
#  2. node --test test/vm/ inside the User-Mode Linux guest (../shared/vm/run-in-vm.sh) for
#     what this kernel lacks (ipvlan, 802.1q, dummy), all in one guest boot.
# Arguments go to tap; with arguments the guest suite is skipped (a focused run).
set -uo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp) vmout=$(mktemp)
trap 'rm -f "$out" "$vmout"' EXIT
# tap compiles its runner for the plugin set in package.json (tsx instead of ts-node)
npx tap build >/dev/null
npx tap "$@" 2>&1 | tee "$out"
rc=${PIPESTATUS[0]}
vmrc=0
if [ $# -eq 0 ]; then
  vm=../shared/vm/run-in-vm.sh
  if [ -x "$vm" ]; then
    "$vm" -m 512M -t 900 -- node --test test/vm/ 2>&1 | tee "$vmout"
    vmrc=${PIPESTATUS[0]}
  else
    echo "guest suite: $vm is missing (it lives in shared/ beside the project)" | tee "$vmout"
    vmrc=1
  fi
fi
node -e '
  const fs = require("fs");
  const t = fs.readFileSync(process.argv[1], "utf8");
  const m = [...t.matchAll(/^# \{ total: (\d+)(?:, pass: (\d+))?(?:, fail: (\d+))?(?:, skip: (\d+))?.*\}/gm)].at(-1);
  let [pass, fail, skip] = m ? m.slice(2, 5).map((x) => Number(x ?? 0)) : [0, 1, 0];
  const vm = fs.readFileSync(process.argv[2], "utf8");
  const vp = /^# pass (\d+)/m.exec(vm), vf = /^# fail (\d+)/m.exec(vm);
  if (vp) pass += Number(vp[1]);
  if (vf) fail += Number(vf[1]);
  if (process.argv[3] !== "0" && !(vf && Number(vf[1]) > 0)) fail += 1;   // the guest broke before reporting
  console.log(`${pass} passed, ${fail} failed` + (skip ? `, ${skip} skipped` : ""));
' "$out" "$vmout" "$vmrc"
[ "$rc" = 0 ] && [ "$vmrc" = 0 ]
