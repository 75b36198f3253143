// npx tsx conformance/run.ts [label=plugin-dir ...] [--only group]
// Default: ours (build/bin) and the reference (/usr/lib/cni). Prints the scenario x
// implementation table; exits non-zero when the first implementation fails a scenario.
import { join } from 'node:path';
import { loadScenarios, runScenario, table, type Outcome } from './runner.ts';

const root = join(import.meta.dirname, '..');
const argv = process.argv.slice(2);
const only = argv.includes('--only') ? argv[argv.indexOf('--only') + 1] : undefined;
const pairs = argv.filter((a) => a.includes('='));
const impls = pairs.length ? pairs.map((p) => p.split('=') as [string, string]) : [['ours', join(root, 'build/bin')], ['reference', '/usr/lib/cni']] as [string, string][];

const outcomes: Outcome[] = [];
let id = 0;
for (const s of loadScenarios()) {
  if (only && s.group !== only) continue;
  for (const [label, dir] of impls) outcomes.push(runScenario(s, label, dir, id++));
}
console.log(table(outcomes, impls.map(([l]) => l)));
const first = impls[0]![0];
process.exitCode = outcomes.some((o) => o.impl === first && !o.pass && !o.skipped) ? 1 : 0;
