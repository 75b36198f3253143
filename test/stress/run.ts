// npm run stress: the stress probes at full size (storm 200, kill 100, fuzz 5,000), figures
// printed as a table; exit 1 on any failed call, duplicate IP, leftover, stack trace or slow call.
//   npm run stress [-- storm=N kill=N fuzz=N]
import { fuzz, kill, storm, type Figures } from './probes.ts';

const size: Record<string, number> = { storm: 200, kill: 100, fuzz: 5000 };
for (const a of process.argv.slice(2)) { const [k, v] = a.split('='); if (k && v && k in size) size[k] = Number(v); }

const rows: Figures[] = [];
for (const [name, probe] of [['storm', storm], ['kill', kill], ['fuzz', fuzz]] as const) {
  if (!size[name]) continue;
  process.stderr.write(`stress: ${name} ${size[name]}...\n`);
  const f = await probe(size[name]!);
  rows.push(f);
  for (const n of f.notes) process.stderr.write(`  ${name}: ${n}\n`);
}
const cols = ['name', 'calls', 'addsOk', 'failed', 'duplicates', 'leftovers', 'stackTraces', 'slow', 'ms'] as const;
console.log(`| ${cols.join(' | ')} |\n|${cols.map(() => '---').join('|')}|`);
for (const r of rows) console.log(`| ${cols.map((c) => (c === 'ms' ? `${(r.ms / 1000).toFixed(1)} s` : String(r[c] ?? ''))).join(' | ')} |`);
const bad = rows.reduce((n, r) => n + r.failed + r.duplicates + r.leftovers + r.stackTraces + r.slow, 0);
process.exitCode = bad ? 1 : 0;
