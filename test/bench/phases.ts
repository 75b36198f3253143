// Where a nerdctl-chain ADD's and DEL's time goes, per plugin and phase (docs/start-up.md, "Where a chain
// ADD's time goes"): `npm run phases [-- rounds]`. Each plugin is exec'd directly by this Node
// parent, as a runtime does, with CNI_TS_TRACE=1 (each phase mark: ms since the process
// started), inside a host namespace of its own; the reference chain runs between rounds of ours
// for the totals. Medians over the rounds; "exit" is from the last mark until the parent sees
// the process gone, the parent's own spawn cost included.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, REFERENCE_BIN } from '../helpers/netns.ts';
import { conflist, runChain, type Op } from './bridge.ts';
import { inOwnHost, quantile } from './lib.ts';

interface Call { wall: number; marks: [string, number][] }

const median = (xs: number[]): number => quantile(xs, 0.5);

/** One chain call (bridge.ts's runChain), each plugin traced: its wall time and phase marks. */
function chain(dir: string, list: ReturnType<typeof conflist>, op: Op, netns: string, id: string, cached: unknown): { calls: Call[]; result: unknown } {
  const calls: Call[] = [];
  const traced = (cmd: string, env: NodeJS.ProcessEnv, input: string): string => {
    const t0 = performance.now();
    const r = spawnSync(cmd, [], { env, input, encoding: 'utf8' });
    const wall = performance.now() - t0;
    if (r.status !== 0) throw new Error(`${cmd} ${op} failed: ${r.stdout}${r.stderr}`);
    const marks: [string, number][] = [];
    for (const line of r.stderr.split('\n')) {
      const m = /^cni-ts trace ([\d.]+) (.+)$/.exec(line);
      if (m) marks.push([m[2]!, Number(m[1])]);
    }
    calls.push({ wall, marks });
    return r.stdout;
  };
  const result = runChain(dir, list, op, netns, id, cached, traced, { CNI_TS_TRACE: '1' });
  return { calls, result };
}

/** One row per plugin call: medians of the wall time, the start, modules and config, each phase, the exit. */
function rows(op: Op, names: string[], rounds: Call[][]): string[] {
  return names.map((name, k) => {
    const calls = rounds.map((r) => r[k]!);
    const at = (c: Call, label: string) => c.marks.find(([l]) => l === label)?.[1];
    const start = median(calls.map((c) => at(c, 'main') ?? 0));
    const config = median(calls.map((c) => (at(c, 'config parsed') ?? 0) - (at(c, 'main') ?? 0)));
    // the phases after the config, in the order of the first call's marks
    const work: string[] = [];
    const labels = calls[0]!.marks.map(([l]) => l);
    for (let i = labels.indexOf('config parsed') + 1; i > 0 && i < labels.length; i++) {
      // (a label may come twice, as host-local's when its config is checked, then used: the
      // same occurrence in each call)
      const nth = labels.slice(0, i).filter((l) => l === labels[i]).length;
      const d = median(calls.map((c) => {
        const js = c.marks.flatMap(([l], j) => (l === labels[i] ? [j] : []));
        const j = js[nth] ?? -1;
        return j > 0 ? c.marks[j]![1] - c.marks[j - 1]![1] : 0;
      }));
      work.push(`${d.toFixed(1)} ${labels[i]}`);
    }
    const exit = median(calls.map((c) => c.wall - (c.marks.at(-1)?.[1] ?? 0)));
    return `| ${name} ${op} | ${median(calls.map((c) => c.wall)).toFixed(1)} | ${start.toFixed(1)} | ${config.toFixed(1)} | ${work.join(', ')} | ${exit.toFixed(1)} |`;
  });
}

const inside = process.argv.indexOf('--inside');
if (inside < 0) {
  process.exitCode = inOwnHost('cnits-phases');
} else {
  const n = Number(process.argv[inside + 2] ?? 20);
  const netns = `cnits-phases-c-${process.pid}`, dataDir = join(tmpdir(), `cnits-phases-${process.pid}`);
  execFileSync('ip', ['netns', 'add', netns]);
  mkdirSync(dataDir, { recursive: true });
  try {
    const ours = conflist('ours', dataDir, true), ref = conflist('reference', dataDir, true);
    const adds: Call[][] = [], dels: Call[][] = [], refTotals = { ADD: [] as number[], DEL: [] as number[] };
    const total = (calls: Call[]) => calls.reduce((s, c) => s + c.wall, 0);
    for (let i = -1; i < n; i++) {   // round -1: warm-up, not counted
      const a = chain(BIN, ours, 'ADD', `/run/netns/${netns}`, `p${i + 1}`, undefined);
      const d = chain(BIN, ours, 'DEL', `/run/netns/${netns}`, `p${i + 1}`, a.result);
      const ra = chain(REFERENCE_BIN, ref, 'ADD', `/run/netns/${netns}`, `r${i + 1}`, undefined);
      const rd = chain(REFERENCE_BIN, ref, 'DEL', `/run/netns/${netns}`, `r${i + 1}`, ra.result);
      if (i < 0) continue;
      adds.push(a.calls); dels.push(d.calls);
      refTotals.ADD.push(total(ra.calls)); refTotals.DEL.push(total(rd.calls));
    }
    const names = ours.plugins.map((p) => p.type as string);
    console.log('| call | wall ms | runtime start | addon, modules, config | the work | exit |\n|---|---|---|---|---|---|');
    for (const line of [...rows('ADD', names, adds), ...rows('DEL', [...names].reverse(), dels)]) console.log(line);
    console.log(`\nchain totals, medians of ${n}: ADD ours ${median(adds.map(total)).toFixed(1)} ms, reference ${median(refTotals.ADD).toFixed(1)} ms; DEL ours ${median(dels.map(total)).toFixed(1)} ms, reference ${median(refTotals.DEL).toFixed(1)} ms`);
  } finally {
    execFileSync('ip', ['netns', 'del', netns]);
    rmSync(dataDir, { recursive: true, force: true });
  }
}
