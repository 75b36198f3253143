// `cni-ts agent`: the node agent, one per host (it holds agent.lock in its directory for its
// life). It owns the listening socket (<dir>/<build>.sock, a root-only directory, mode 0600) and
// keeps a pool of workers (worker.ts) that take calls from it; it starts a worker again when one
// leaves, adds one (up to the most) when every worker is busy, and keeps what it serves in
// <dir>/status.json for `cni-ts agent status`. SIGTERM or SIGINT: the socket goes first (new
// calls are exec'd by their launchers), the calls in flight finish, then it leaves.
import type { ChildProcess } from 'node:child_process';
import { chmodSync, lstatSync, mkdirSync, readdirSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { leaveCgroups, ownCgroup } from '../shared/os/cgroup.ts';
import { tryFileLock } from '../shared/os/files.ts';
import { native } from '../shared/os/native.ts';
import { selfCommand } from '../shared/os/self.ts';
import { STATE_DIRS } from '../shared/os/state.ts';
import { giveBackIdleMemory } from './memory.ts';
import { childProcess } from '../shared/util/lazy.ts';
import { join } from '../shared/util/path.ts';
import { RESOLVER_FLAG } from '../plugins/dns-hosts/modes.ts';
import { spawnResolver } from '../plugins/dns-hosts/client.ts';

export { AGENT_DIR, DEFAULT_DEADLINE_S } from './defaults.ts';
const IDLE_COLLECT_MS = 5000;
const RESTART_MS = 50, RESTART_MAX_MS = 2000, YOUNG_MS = 2000;
/** How long a worker added for a burst stays without a call, unless told. */
export const BURST_IDLE_S = 20;

export interface AgentOptions {
  dir: string;
  build: string;
  workers: number;
  maxWorkers: number;
  deadlineS: number;
  maxCalls: number;
  /** run vxlan-overlay's sync process under the agent (default: yes) */
  sync: boolean;
  /** seconds a worker added for a burst stays without a call */
  burstIdleS: number;
}

export interface AgentStatus {
  pid: number;
  build: string;
  socket: string;
  started: string;
  deadlineSeconds: number;
  workers: { running: number; ready: number; busy: number; min: number; max: number };
  calls: { served: number; failed: number; byPlugin: Record<string, number> };
  workerExits: number;
  /** the long-running modes it runs under itself: the overlay's sync process, dns-hosts' resolvers */
  children: { sync?: number; resolvers: number[] };
}

export const socketPath = (dir: string, build: string): string => join(dir, `${build}.sock`);
export const statusPath = (dir: string): string => join(dir, 'status.json');
/** The agent's cgroup (in each hierarchy it can write): named after its directory. */
export const agentCgroupName = (dir: string): string => `cni-ts-agent-${dir.replace(/[^A-Za-z0-9_.-]/g, '_').slice(-60)}`;

const log = (msg: string): void => { process.stderr.write(`${new Date().toISOString()} cni-ts agent[${process.pid}]: ${msg}\n`); };

/** The agent's directory: made root-only, and refused when it is anything else (a link, another owner's, open to others). */
function rootOnlyDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = lstatSync(dir);
  if (!st.isDirectory() || st.uid !== 0) throw new Error(`${dir} is not a directory of root's`);
  if ((st.mode & 0o077) !== 0) chmodSync(dir, 0o700);
}

export function defaultWorkers(): number {
  return Math.max(2, cpus().length);
}

export async function runAgent(o: AgentOptions): Promise<never> {
  process.umask(0o077);
  rootOnlyDir(o.dir);
  if (tryFileLock(join(o.dir, 'agent.lock')) === undefined) {
    log(`another agent serves ${o.dir}: leaving`);
    process.exit(1);
  }
  // (under systemd its unit is its cgroup: moving out of it would leave systemd tracking nothing)
  const cgroups = process.env.INVOCATION_ID ? [] : ownCgroup(agentCgroupName(o.dir), log);
  // sockets of an earlier agent here (this one holds the lock: none of them is served)
  for (const f of readdirSync(o.dir)) if (f.endsWith('.sock')) try { unlinkSync(join(o.dir, f)); } catch { /* gone */ }
  const path = socketPath(o.dir, o.build);
  const lfd = native().agentListen(path);

  const status: AgentStatus = {
    pid: process.pid, build: o.build, socket: path, started: new Date().toISOString(), deadlineSeconds: o.deadlineS,
    workers: { running: 0, ready: 0, busy: 0, min: o.workers, max: o.maxWorkers },
    calls: { served: 0, failed: 0, byPlugin: {} }, workerExits: 0, children: { resolvers: [] },
  };
  let dirty = true, queued = false;
  const writeStatus = (): void => {
    queued = false;
    if (!dirty) return;
    dirty = false;
    const tmp = `${statusPath(o.dir)}.tmp`;
    try { writeFileSync(tmp, `${JSON.stringify(status, null, 2)}\n`, { mode: 0o600 }); renameSync(tmp, statusPath(o.dir)); } catch (e) { log(`status: ${(e as Error).message}`); }
  };
  // written soon after a change (bounded: at most one write pending), and on a timer
  const changed = (): void => { dirty = true; if (!queued) { queued = true; setTimeout(writeStatus, 20); } };
  // (and, once calls have stopped for a while, what hearing them gathered is given back)
  let heardAt = 0, collected = true;
  const statusTimer = setInterval(() => {
    writeStatus();
    if (!collected && Date.now() - heardAt > IDLE_COLLECT_MS) { collected = true; giveBackIdleMemory(); }
  }, 1000);

  const workers = new Map<ChildProcess, { busy: boolean; ready: boolean; born: number }>();
  let stopping = false, pause = RESTART_MS;
  const [cmd, ...args] = selfCommand('cni-ts', ['agent', '--worker', `--dir=${o.dir}`, `--deadline=${o.deadlineS}`, `--max-calls=${o.maxCalls}`]);
  // the workers' environment: the agent's own, less what would slow or change a warm process
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && k !== 'BUN_JSC_useJIT') env[k] = v;

  const busyCount = (): number => { let n = 0; for (const w of workers.values()) if (w.busy) n++; return n; };
  const readyCount = (): number => { let n = 0; for (const w of workers.values()) if (w.ready) n++; return n; };
  // the pool's own workers stay; one added for a burst leaves after burstIdleS without a call
  const spawnWorker = (burst = false): void => {
    const child = childProcess().spawn(cmd!, burst ? [...args, `--idle-exit=${o.burstIdleS}`] : args, { cwd: '/', stdio: ['ignore', 'ignore', 'ignore', lfd, 'pipe'], env });
    const state = { busy: false, ready: false, born: Date.now() };
    workers.set(child, state);
    status.workers.running = workers.size;
    changed();
    let buffered = '';
    (child.stdio[4] as NodeJS.ReadableStream).on('data', (d: Buffer) => {
      buffered += d.toString();
      if (buffered.length > 65536) buffered = buffered.slice(-65536);   // (a worker that talks without end is bounded)
      for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        heard(state, line);
      }
    });
    child.on('exit', (code, signal) => {
      workers.delete(child);
      status.workers.running = workers.size;
      status.workers.busy = busyCount();
      status.workers.ready = readyCount();
      status.workerExits++;
      changed();
      if (stopping) { if (workers.size === 0) leave('stopped'); return; }
      if (signal || code) log(`worker ${child.pid} left (${signal ?? `exit ${code}`})${state.busy ? ' during a call' : ''}`);
      else if (workers.size >= o.workers) return;   // a burst's worker, idle: not replaced
      // a worker that keeps dying young waits longer each time (bounded)
      pause = Date.now() - state.born < YOUNG_MS ? Math.min(pause * 2, RESTART_MAX_MS) : RESTART_MS;
      setTimeout(() => { if (!stopping && workers.size < o.workers) spawnWorker(); }, pause);
    });
  };
  const heard = (state: { busy: boolean; ready: boolean }, line: string): void => {
    const [what, plugin, , code] = line.split(' ');
    if (what === 'ready') {
      state.ready = true;
    } else if (what === 'busy') {
      state.busy = true;
      // every worker busy: one more, up to the most (a burst, or calls waiting on locks)
      if (!stopping && busyCount() >= workers.size && workers.size < o.maxWorkers) spawnWorker(true);
    } else if (what === 'done') {
      state.busy = false;
      heardAt = Date.now();
      collected = false;
      status.calls.served++;
      if (code !== '0') status.calls.failed++;
      if (plugin) status.calls.byPlugin[plugin] = (status.calls.byPlugin[plugin] ?? 0) + 1;
    } else if (what === 'start') {
      startResolver(line.slice(6));
    } else if (what === 'error') {
      state.busy = false;
      log(`worker: ${line.slice(6)}`);
    }
    status.workers.busy = busyCount();
    status.workers.ready = readyCount();
    changed();
  };

  // dns-hosts' resolver, when a call in a worker needs one started: run here, under the agent
  // and in its cgroup (its own supervisor makes none), its output to its log. What a
  // worker asks is checked: that name and flag, a state directory of dns-hosts' and nothing else.
  const dnsRoot = join(STATE_DIRS.run, 'dns-hosts');
  const startResolver = (request: string): void => {
    const [name, flag, extra] = request.split(' ');
    const dir = flag?.startsWith(RESOLVER_FLAG) ? flag.slice(RESOLVER_FLAG.length) : '';
    const leaf = dir.slice(dnsRoot.length + 1);
    if (name !== 'dns-hosts' || extra !== undefined || !dir.startsWith(`${dnsRoot}/`) || !/^[A-Za-z0-9_-]{1,64}$/.test(leaf)) { log(`refused to start: ${request.slice(0, 200)}`); return; }
    try {
      const child = spawnResolver(dir, { detached: false, inScope: true });
      status.children.resolvers.push(child.pid!);
      changed();
      child.on('exit', () => { status.children.resolvers = status.children.resolvers.filter((p) => p !== child.pid); changed(); });
    } catch (e) { log(`resolver of ${dir}: ${(e as Error).message}`); }
  };

  // vxlan-overlay's sync process, one per host: started again when it dies (bounded pauses);
  // when another one already serves the host (started by hand, or a unit of its own), it leaves
  // at once with status 0 and is not started again
  let sync: ChildProcess | undefined, syncPause = RESTART_MS;
  const startSync = (): void => {
    const [c, ...a] = selfCommand('vxlan-overlay', ['--sync']);
    const born = Date.now();
    sync = childProcess().spawn(c!, a, { cwd: '/', stdio: ['ignore', 'inherit', 'inherit'], env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' } });
    status.children.sync = sync.pid;
    changed();
    sync.on('exit', (code, signal) => {
      sync = undefined;
      delete status.children.sync;
      changed();
      if (stopping || (code === 0 && !signal)) return;
      syncPause = Date.now() - born < YOUNG_MS ? Math.min(syncPause * 2, RESTART_MAX_MS) : RESTART_MS;
      log(`the sync process left (${signal ?? `exit ${code}`}): again in ${syncPause} ms`);
      setTimeout(() => { if (!stopping) startSync(); }, syncPause);
    });
  };

  const leave = (why: string): never => {
    log(`exiting: ${why}`);
    clearInterval(statusTimer);
    try { unlinkSync(statusPath(o.dir)); } catch { /* gone */ }
    leaveCgroups(cgroups);
    process.exit(0);
  };
  const stop = (sig: string): void => {
    if (stopping) return;
    stopping = true;
    log(`${sig}: no new calls; finishing ${busyCount()} in flight`);
    // new calls find no socket (their launchers exec them); workers waiting in accept wake
    // with EINVAL and leave, busy ones leave after their call
    try { unlinkSync(path); } catch { /* gone */ }
    try { native().agentShutdown(lfd); } catch (e) { log(`shutdown: ${(e as Error).message}`); }
    // the sync process stops with the agent; resolvers go on serving their containers' names
    // (each has its own supervisor; the next agent, or call, finds them running)
    sync?.kill('SIGTERM');
    if (workers.size === 0) leave(sig);
    setTimeout(() => {
      for (const w of workers.keys()) w.kill('SIGKILL');
      setTimeout(() => leave(`${sig}: calls past their deadline were ended`), 1000).unref();
    }, (o.deadlineS + 5) * 1000).unref();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  for (let i = 0; i < o.workers; i++) spawnWorker();
  if (o.sync) startSync();
  log(`serving ${path} with ${o.workers} workers (at most ${o.maxWorkers}), deadline ${o.deadlineS} s${cgroups.length ? `, in ${cgroups.length} cgroups of its own` : ''}`);
  for (;;) await sleep(3_600_000);
}
