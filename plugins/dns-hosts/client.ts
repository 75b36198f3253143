// The plugin's side of the resolver: tell it the records changed and wait until it serves them
// (bounded), start it when it is not running, replace it when it does not answer.
import { utf8 } from '../../shared/util/bytes.ts';
import { CniError, ErrCode } from '../../shared/cni/errors.ts';
import { O, closeFile, exists, isExecutable, openFile, readFile, readStateFile } from '../../shared/os/fs.ts';
import { basename } from '../../shared/util/path.ts';
import { ensureDir, sleepSync } from '../../shared/os/files.ts';
import { childProcess } from '../../shared/util/lazy.ts';
import { native } from '../../shared/os/native.ts';
import { handOverStart, selfCommand } from '../../shared/os/self.ts';
import type { ChildProcess } from 'node:child_process';
import { IN_SCOPE, RESOLVER_FLAG, SERVER_FLAG } from './modes.ts';
import { paths } from './records.ts';

/** How long one exchange with the resolver may take, and how long a start may take in all. */
const REPLY_MS = 2000;
const START_MS = 5000;
const SYSTEMD_RUN = '/usr/bin/systemd-run';

type Reply = { ok: true; text: string } | { ok: false; down: boolean };

function exchange(dir: string, request: string, timeoutMs = REPLY_MS): Reply {
  try {
    return { ok: true, text: native().unixExchange(paths(dir).control, utf8(`${request}\n`), timeoutMs).toString() };
  } catch (e) {
    const code = (e as { code?: string }).code;
    // no socket, or nobody behind it: not running; anything else (a timeout): not answering
    return { ok: false, down: code === 'ENOENT' || code === 'ECONNREFUSED' };
  }
}

/** The resolver's pid (not its supervisor's), when the pid file names a live resolver of this directory. */
function resolverPid(dir: string): number | undefined {
  try {
    const pid = Number(readStateFile(paths(dir).pid, 32).trim());
    if (!Number.isInteger(pid) || pid <= 1) return undefined;
    const cmdline = readFile(`/proc/${pid}/cmdline`).split('\0');
    return cmdline.includes(`${SERVER_FLAG}${dir}`) ? pid : undefined;
  } catch { return undefined; }
}

function answered(text: string): void {
  if (!text.startsWith('ok')) throw new CniError(ErrCode.Plugin, `dns-hosts: the resolver could not take the change: ${text.trim().slice(0, 200)}`);
}

function start(dir: string): void {
  ensureDir(dir);
  // in a node agent's worker: the agent runs it, under itself (docs/agent.md)
  if (handOverStart('dns-hosts', [`${RESOLVER_FLAG}${dir}`])) return;
  // where systemd runs, in a scope of its own (its cgroup, which stopping the caller's unit
  // leaves alone); elsewhere the supervisor makes its own cgroups (supervisor.ts)
  const scope = exists('/run/systemd/system') && isExecutable(SYSTEMD_RUN);
  // its own session, no terminal: nothing ties it to the runtime's pipes
  spawnResolver(dir, { detached: true, inScope: scope, ...(scope ? { wrap: [SYSTEMD_RUN, '--scope', '--quiet', '--collect', `--unit=cni-ts-dns-${basename(dir)}`, '--'] } : {}) }).unref();
}

/**
 * The resolver's supervisor for `dir`, started with its log (never followed through a link) for
 * output: by a call (detached, `wrap`ped in a systemd scope where there is one), or by the node
 * agent as its child in its own cgroup (`inScope`: the supervisor then makes no cgroups of its own).
 */
export function spawnResolver(dir: string, o: { detached: boolean; inScope: boolean; wrap?: string[] }): ChildProcess {
  const log = openFile(paths(dir).log, O.WRONLY | O.CREAT | O.APPEND | O.NOFOLLOW, 0o600);
  try {
    const self = selfCommand('dns-hosts', [`${RESOLVER_FLAG}${dir}`]);
    const [cmd, ...args] = o.wrap ? [...o.wrap, ...self] : self;
    // (child_process loaded here, not at every call's start: only a call that starts the resolver needs it)
    // (BUN_GC_TIMER_DISABLE: Bun's once-a-second collection of an idle heap takes the resolver's
    // main thread and its helpers each second, a tail of the UDP thread's answers; its heaps
    // are still collected when they grow)
    const env = { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', BUN_GC_TIMER_DISABLE: '1', ...(o.inScope ? { [IN_SCOPE]: '1' } : {}) };
    return childProcess().spawn(cmd!, args, { detached: o.detached, cwd: '/', stdio: ['ignore', log, log], env });
  } finally {
    closeFile(log);
  }
}

/**
 * The records changed (all, or the one `key` names): the resolver serves exactly them when this
 * returns. With `start`, a resolver that is not running is started (it loads every record);
 * without, a resolver that is not running is left so (DEL: nothing to serve). A resolver that
 * does not answer is killed (it must not go on serving a record that is gone); its supervisor,
 * or with `start` a new one, replaces it. `nsFd`: this process's descriptor of the container's
 * namespace, which the resolver opens through /proc while this call waits, whatever mount
 * namespace either lives in.
 */
export function syncResolver(dir: string, startIt: boolean, key?: string, nsFd?: number): void {
  const request = key ? `sync ${key}${nsFd !== undefined ? ` ${process.pid}:${nsFd}` : ''}` : 'sync';
  let r = exchange(dir, request);
  if (r.ok) return answered(r.text);
  if (!r.down) {
    const pid = resolverPid(dir);
    if (pid) try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
  }
  if (!startIt) return;
  start(dir);
  const deadline = Date.now() + START_MS;
  for (let pause = 2; Date.now() < deadline; pause = Math.min(pause * 2, 50)) {
    r = exchange(dir, request);
    if (r.ok) return answered(r.text);
    sleepSync(pause);
  }
  throw new CniError(ErrCode.TryAgainLater, `dns-hosts: the resolver did not start within ${START_MS} ms (see ${paths(dir).log})`);
}

/** One DNS query sent from inside the container's namespace to the resolver there; the reply or null. */
export function queryFrom(nsFd: number, server: string, query: Buffer, timeoutMs = REPLY_MS): Buffer | null {
  return native().udpExchange(nsFd, server, 53, query, timeoutMs);
}
