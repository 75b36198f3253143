// `cni-ts agent [--dir=D] [--workers=N] [--max-workers=N] [--deadline=S]`, `cni-ts agent status`,
// and (started by the agent itself) `cni-ts agent --worker`.
import { existsSync, readFileSync } from 'node:fs';
import type { Plugin } from '../shared/cni/plugin.ts';
import { AGENT_DIR, BURST_IDLE_S, DEFAULT_DEADLINE_S, defaultWorkers, runAgent, socketPath, statusPath, type AgentStatus } from './supervisor.ts';
import { runWorker } from './worker.ts';
import { BUILD_ID } from './build-id.ts';

const USAGE = `usage: cni-ts agent [--dir=DIR] [--workers=N] [--max-workers=N] [--deadline=SECONDS] [--burst-idle=SECONDS] [--no-sync]
       cni-ts agent status [--dir=DIR] [--json]
Runs plugin calls warm for the launchers of this build (docs/agent.md). DIR: ${AGENT_DIR}, or
CNI_TS_AGENT_DIR. Runs in the foreground; SIGTERM finishes the calls in flight, then stops.
`;

function usage(msg?: string): never {
  process.stderr.write(`${msg ? `cni-ts agent: ${msg}\n` : ''}${USAGE}`);
  process.exit(2);
}

function option(args: string[], name: string): string | undefined {
  let v: string | undefined;
  for (const a of args) if (a.startsWith(`--${name}=`)) v = a.slice(name.length + 3);
  return v;
}

function count(args: string[], name: string, fallback: number, min: number, max: number): number {
  const v = option(args, name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) usage(`--${name} must be a whole number from ${min} to ${max}`);
  return n;
}

const KNOWN = ['--dir=', '--workers=', '--max-workers=', '--deadline=', '--max-calls=', '--idle-exit=', '--burst-idle=', '--worker', '--json', '--no-sync'];

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (e) { return (e as NodeJS.ErrnoException).code === 'EPERM'; }
}

function status(dir: string, json: boolean): number {
  let s: AgentStatus | undefined;
  try { s = JSON.parse(readFileSync(statusPath(dir), 'utf8')) as AgentStatus; } catch { /* none */ }
  const running = !!s && alive(s.pid) && existsSync(s.socket);
  const mine = running && s!.build === BUILD_ID;
  if (json) {
    process.stdout.write(`${JSON.stringify({ running, thisBuild: mine, build: BUILD_ID, socket: socketPath(dir, BUILD_ID), ...(running ? { agent: s } : {}) }, null, 2)}\n`);
    return running ? 0 : 3;
  }
  if (!running) {
    process.stdout.write(`no agent serves ${dir}: plugin calls are exec'd\n`);
    return 3;
  }
  const a = s!;
  const plugins = Object.entries(a.calls.byPlugin).map(([k, v]) => `${k} ${v}`).join(', ') || 'none yet';
  process.stdout.write([
    `agent ${a.pid}, since ${a.started}: ${a.socket}`,
    mine ? 'serves this build\'s launchers' : `serves build ${a.build}; this build (${BUILD_ID}) execs its calls`,
    `workers: ${a.workers.running} running (${a.workers.busy} busy), ${a.workers.min} to ${a.workers.max}; ${a.workerExits} exits`,
    `calls: ${a.calls.served} served, ${a.calls.failed} of them failed; by plugin: ${plugins}`,
    `deadline: ${a.deadlineSeconds} s a call`,
    '',
  ].join('\n'));
  return 0;
}

export async function agentCommand(args: string[], plugins: Record<string, () => Promise<Plugin<any>>>): Promise<never> {
  for (const a of args) if (a !== 'status' && !KNOWN.some((k) => (k.endsWith('=') ? a.startsWith(k) : a === k))) usage(`unknown argument ${a}`);
  const dir = option(args, 'dir') ?? (process.env.CNI_TS_AGENT_DIR || AGENT_DIR);
  if (!dir.startsWith('/')) usage('--dir must be an absolute path');
  if (args[0] === 'status') process.exit(status(dir, args.includes('--json')));
  if (process.getuid?.() !== 0) usage('the agent runs as root (as the plugins do)');
  const deadlineS = count(args, 'deadline', DEFAULT_DEADLINE_S, 1, 3600);
  const maxCalls = count(args, 'max-calls', 10000, 1, 1e9);
  if (args.includes('--worker')) {
    const loaded: Record<string, Plugin<any>> = {};
    for (const [name, load] of Object.entries(plugins)) loaded[name] = await load();
    const idle = option(args, 'idle-exit');
    return runWorker({ build: BUILD_ID, dir, deadlineS, maxCalls, plugins: loaded, ...(idle !== undefined ? { idleExitS: count(args, 'idle-exit', 30, 1, 86400) } : {}) });
  }
  const workers = count(args, 'workers', defaultWorkers(), 1, 256);
  const maxWorkers = count(args, 'max-workers', Math.max(workers, 4 * workers), workers, 1024);
  return runAgent({ dir, build: BUILD_ID, workers, maxWorkers, deadlineS, maxCalls, sync: !args.includes('--no-sync'), burstIdleS: count(args, 'burst-idle', BURST_IDLE_S, 1, 86400) });
}
