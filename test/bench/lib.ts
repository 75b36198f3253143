// The bench harness: every benchmark is a pair of implementations (ours, the reference Go
// plugins) run interleaved on one machine, timed per exec, with peak RSS from GNU time.
import { execFileSync, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, ROOT, netnsStateDirs, stopDaemons } from '../helpers/netns.ts';
import { EXEC_ENV, agentEnv, startAgent, type AgentHandle } from '../../conformance/agent.ts';

// The node agent's column: one agent in the bench's host namespace for the whole run; 'ours' is
// the exec path (the launcher told not to look for an agent), 'agent' the same calls through it.
let agent: AgentHandle | undefined;
export function startBenchAgent(host: string): AgentHandle {
  agent = startAgent(host, BIN);
  return agent;
}
export function stopBenchAgent(): void {
  agent?.stop();
  agent = undefined;
}
export const benchAgent = (): AgentHandle | undefined => agent;
/** What an exec'd call of ours adds to its environment. */
export const VIA_EXEC = EXEC_ENV;
/** What a call through the agent adds (the exec path when no agent runs). */
export const viaAgent = (): Record<string, string> => agentEnv(agent);
/** `make(label, extraEnv)` for ours exec'd, and for ours through the agent when one runs. */
export function oursBoth<T>(make: (label: string, env: Record<string, string>) => T): T[] {
  return agent ? [make('ours', { ...VIA_EXEC }), make('agent', viaAgent())] : [make('ours', { ...VIA_EXEC })];
}

export interface Impl {
  /** 'ours' and 'reference' make the ratio; a bench may add others ('none', 'netavark') */
  label: string;
  /**
   * one measured operation; throws on failure. It may return its own time (ms) when the wall
   * clock around it would count more than the operation (a client's start-up).
   */
  run(i: number): void | number;
  /** command whose peak RSS represents this implementation (run under /usr/bin/time) */
  rssProbe?: () => { cmd: string; args: string[]; env: NodeJS.ProcessEnv; input: string };
  /** before each measured operation, not timed */
  prepare?(i: number): void;
  /** undo between iterations, not timed */
  reset?(i: number): void;
}

export interface Bench {
  name: string;
  runs?: number;
  impls: Impl[];
  setup?(): void;
  teardown?(): void;
}

export interface Row { bench: string; impl: string; runs: number; mean: number; p50: number; p90: number; rssKb?: number }

/**
 * Run this script again inside a host namespace of its own (`<prefix>-<pid>`, with `--inside
 * <name>` before its arguments), so that nothing it makes reaches this machine's namespace;
 * afterwards the state plugins kept for that namespace, any daemon they left and the namespace
 * go. Returns the inner run's exit status.
 */
export function inOwnHost(prefix: string): number {
  const host = `${prefix}-${process.pid}`;
  execFileSync('ip', ['netns', 'add', host]);
  try {
    execFileSync('ip', ['-n', host, 'link', 'set', 'lo', 'up']);
    // (the machine's mount namespace, which `ip netns exec` leaves: podman's runc needs its cgroups)
    const r = spawnSync('ip', ['netns', 'exec', host, process.execPath, ...process.execArgv, process.argv[1]!, '--inside', host, ...process.argv.slice(2)], { stdio: 'inherit', env: { ...process.env, CNI_TS_BENCH_MNTNS: `/proc/${process.pid}/ns/mnt` } });
    return r.status ?? 1;
  } finally {
    for (const d of netnsStateDirs(host)) { stopDaemons(d); rmSync(d, { recursive: true, force: true }); }
    execFileSync('ip', ['netns', 'del', host]);
  }
}

/**
 * A command with the machine's mounts (the bench's outer process keeps its mount namespace
 * for us: podman's and containerd's runc need the machine's cgroups, and what they mount is there).
 */
export const inMachine = (host?: string): [string, ...string[]] =>
  ['nsenter', `--mount=${process.env.CNI_TS_BENCH_MNTNS ?? '/proc/self/ns/mnt'}`, ...(host ? [`--net=/run/netns/${host}`] : [])];
export function inMachineMounts(cmd: string, args: string[], o: { env?: NodeJS.ProcessEnv; host?: string } = {}): SpawnSyncReturns<string> {
  const [nsenter, ...prefix] = inMachine(o.host);
  return spawnSync(nsenter, [...prefix, cmd, ...args], { encoding: 'utf8', ...(o.env ? { env: o.env } : {}) });
}

/** Unmount whatever is mounted under `dir` in the machine's mounts (podman's storage makes its overlay directory a mount of its own), deepest first. */
export function unmountUnder(dir: string): void {
  inMachineMounts('sh', ['-c', `grep -o " ${dir}/[^ ]*" /proc/self/mounts | sort -r | xargs -r -n1 umount -l; true`]);
}

export const quantile = (xs: number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
};

function peakRss(p: NonNullable<Impl['rssProbe']>): number | undefined {
  if (!existsSync('/usr/bin/time')) return undefined;
  const { cmd, args, env, input } = p();
  const samples: number[] = [];
  for (let i = 0; i < 5; i++) {
    const r = spawnSync('/usr/bin/time', ['-f', '%M', cmd, ...args], { env, input, encoding: 'utf8' });
    const kb = Number(r.stderr.trim().split('\n').at(-1));
    if (Number.isFinite(kb)) samples.push(kb);
  }
  return samples.length ? Math.max(...samples) : undefined;
}

export function runBench(b: Bench): Row[] {
  const runs = b.runs ?? 40;   // a bench that sets fewer than 30 says why
  b.setup?.();
  try {
    const times = b.impls.map(() => [] as number[]);
    // warm-up, then interleave so drift and noise hit every implementation alike
    b.impls.forEach((impl, k) => { impl.prepare?.(-1 - k); impl.run(-1 - k); impl.reset?.(-1 - k); });
    // (each round in the other order: whichever runs first in a round was seen to gain up to ~6 ms at p50)
    const order = b.impls.map((_, k) => k);
    for (let i = 0; i < runs; i++) {
      (i % 2 ? [...order].reverse() : order).forEach((k) => {
        const impl = b.impls[k]!;
        impl.prepare?.(i);
        const h0 = harnessMs;
        const t0 = process.hrtime.bigint();
        const own = impl.run(i);
        // (less what the harness's own spawns of timed-exec cost: see execPlugin)
        times[k]!.push(typeof own === 'number' ? own : Number(process.hrtime.bigint() - t0) / 1e6 - (harnessMs - h0));
        impl.reset?.(i);
      });
    }
    return b.impls.map((impl, k) => {
      const xs = times[k]!;
      const row: Row = { bench: b.name, impl: impl.label, runs, mean: xs.reduce((a, x) => a + x, 0) / xs.length, p50: quantile(xs, 0.5), p90: quantile(xs, 0.9) };
      const rss = impl.rssProbe && peakRss(impl.rssProbe);
      if (rss !== undefined) row.rssKb = rss;
      return row;
    });
  } finally {
    b.teardown?.();
  }
}

/** For benches with a 'none' baseline: what each implementation adds to it (p50). */
export function overheads(rows: Row[]): string {
  const out: string[] = [];
  for (const base of rows.filter((r) => r.impl === 'none')) {
    const others = rows.filter((r) => r.bench === base.bench && r.impl !== 'none');
    out.push(`${base.bench}: over --network none (${base.p50.toFixed(1)} ms), p50: ${others.map((r) => `${r.impl} +${(r.p50 - base.p50).toFixed(1)} ms`).join(', ')}`);
  }
  return out.join('\n');
}

export function table(rows: Row[]): string {
  const lines = ['| benchmark | impl | runs | mean ms | p50 ms | p90 ms | peak RSS MiB | p50 ratio to reference |', '|---|---|---|---|---|---|---|---|'];
  for (const r of rows) {
    const ref = rows.find((x) => x.bench === r.bench && x.impl === 'reference');
    const ratio = (r.impl === 'ours' || r.impl === 'agent') && ref ? (r.p50 / ref.p50).toFixed(2) : '';
    const rss = r.rssKb !== undefined ? (r.rssKb / 1024).toFixed(1) : '';
    lines.push(`| ${r.bench} | ${r.impl} | ${r.runs} | ${r.mean.toFixed(2)} | ${r.p50.toFixed(2)} | ${r.p90.toFixed(2)} | ${rss} | ${ratio} |`);
  }
  return lines.join('\n');
}

const TIMED_EXEC = join(ROOT, 'build/timed-exec');
let timedExecReady = false;
/** build/timed-exec, built from test/bench/timed-exec.c when missing or older than its source. */
function timedExec(): string {
  if (!timedExecReady) {
    const src = join(ROOT, 'test/bench/timed-exec.c');
    if (!existsSync(TIMED_EXEC) || statSync(src).mtimeMs > statSync(TIMED_EXEC).mtimeMs) execFileSync('cc', ['-O2', '-Wall', '-o', TIMED_EXEC, src]);
    timedExecReady = true;
  }
  return TIMED_EXEC;
}

/** What the bench's own spawns of timed-exec have cost beyond the execs they timed (ms, running total). */
let harnessMs = 0;

/**
 * A plugin exec as a runtime does it: env, stdin, and the expected exit status. Timed as a Go
 * runtime's exec (timed-exec.c): what Node's spawnSync adds around it is not the plugin's and
 * is left out of the row's time.
 */
export function execPlugin(cmd: string, env: NodeJS.ProcessEnv, input: string): string {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(timedExec(), [cmd], { env, input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe', 'pipe'] });
  const wall = Number(process.hrtime.bigint() - t0) / 1e6;
  const took = Number(String(r.output[3] ?? '').trim()) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd} ${env.CNI_COMMAND} failed (${r.status}): ${r.stdout}${r.stderr}`);
  if (!Number.isFinite(took) || took <= 0 || took > wall) throw new Error(`timed-exec told no time for ${cmd}: ${r.output[3]}`);
  harnessMs += wall - took;
  return r.stdout;
}
