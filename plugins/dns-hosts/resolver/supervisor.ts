// The resolver's supervisor: what a call starts (`dns-hosts --resolver=<state dir>`), one per
// host network namespace (it holds resolver.lock for its life). It runs the resolver
// (`--resolver-serve=<dir>`) as its child and starts it again when it dies while records remain,
// so a crashed or killed resolver is back without waiting for the next CNI call; it leaves when
// the resolver leaves with no record left.
//
// It first moves itself (and so the resolver) into a cgroup of its own in every hierarchy it can
// write, found in its own view of the file system or, where that has no cgroupfs (a runtime may
// call plugins from a mount namespace of its own, as `ip netns exec` does), in the view of the
// caller's ancestors or of PID 1: stopping the runtime, or the service or login scope that made
// the first ADD, then stops nothing of DNS.
import type { ChildProcess } from 'node:child_process';
import { isExecutable, readFile, rmdir, unlink, writeFd } from '../../../shared/os/fs.ts';
import { MAX_TCP } from './forward.ts';
import { MAX_TCP_TOTAL } from './listeners.ts';
import { tryFileLock, writeFileAtomic } from '../../../shared/os/files.ts';
import { exitCall } from '../../../shared/os/native.ts';
import { selfCommand } from '../../../shared/os/self.ts';
import { childProcess } from '../../../shared/util/lazy.ts';
import { basename, join } from '../../../shared/util/path.ts';
import { setTimeout as sleep } from 'node:timers/promises';
import { IN_SCOPE, SERVER_FLAG } from '../modes.ts';
import { paths, readAll } from '../records.ts';
import { hierarchies, leaveCgroups, ownCgroup } from '../../../shared/os/cgroup.ts';

const START_LOCK_MS = 3000;
/**
 * Descriptors the resolver may need: every TCP connection it takes and makes, two listeners a
 * container (thousands), its own; the soft limit is raised to this, within the hard one.
 */
const WANTED_FDS = 16384;
const PRLIMIT = '/usr/bin/prlimit';
/** The first restart's pause; doubled while the resolver keeps dying young, up to the most. */
const RESTART_MS = 50, RESTART_MAX_MS = 800, YOUNG_MS = 2000;

const log = (msg: string): void => { try { writeFd(2, `${new Date().toISOString()} supervisor[${process.pid}]: ${msg}\n`); } catch { /* no log */ } };

/** The resolver's cgroup in each hierarchy: named after its state directory (the host namespace). */
export const cgroupName = (dir: string): string => `cni-ts-dns-${basename(dir)}`;

/** "Max open files" of this process: [soft, hard] (Infinity for unlimited). */
function nofile(): [number, number] {
  const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(readFile('/proc/self/limits'));
  const n = (s: string | undefined) => (s === 'unlimited' ? Infinity : Number(s));
  return m ? [n(m[1]), n(m[2])] : [NaN, NaN];
}

/**
 * The resolver's descriptors checked against its own limit at start (it does not keep the
 * caller's: a runtime's limit may be low), the soft limit raised towards WANTED_FDS, and what
 * it has logged: past it, the per-container bounds still hold, the total ones may bind first.
 */
function descriptors(): void {
  let [soft, hard] = nofile();
  const want = Math.min(hard, WANTED_FDS);
  if (soft < want && isExecutable(PRLIMIT)) {
    childProcess().spawnSync(PRLIMIT, ['--pid', String(process.pid), `--nofile=${want}:${Number.isFinite(hard) ? hard : 'unlimited'}`], { stdio: 'ignore' });
    [soft, hard] = nofile();
  }
  const need = MAX_TCP_TOTAL + MAX_TCP + 256;
  log(`descriptors: ${soft} of ${hard} (${WANTED_FDS} wanted${soft < need ? `; fewer than the ${need} its connection bounds assume: new connections may be refused before those bounds` : ''})`);
}

export async function runSupervisor(dir: string): Promise<void> {
  process.umask(0o077);
  // one per directory: a second one started by a racing call waits briefly, then leaves
  const deadline = Date.now() + START_LOCK_MS;
  // (the lock's fd stays open, and the lock held, for the life of the process)
  while (tryFileLock(paths(dir).resolverLock) === undefined) {
    if (Date.now() > deadline) { log('another supervisor holds the lock: leaving'); process.exit(0); }
    await sleep(20);
  }
  const cgroups = process.env[IN_SCOPE] ? [] : ownCgroup(cgroupName(dir), log);
  delete process.env[IN_SCOPE];
  descriptors();
  writeFileAtomic(paths(dir).supervisorPid, `${process.pid}\n`, paths(dir).tmp);
  const [cmd, ...args] = selfCommand('dns-hosts', [`${SERVER_FLAG}${dir}`]);

  let child: ChildProcess | undefined, stopping = false, pause = RESTART_MS;
  const leave = (why: string): never => {
    log(`exiting: ${why}`);
    try { unlink(paths(dir).supervisorPid); } catch { /* gone */ }
    leaveCgroups(cgroups);
    exitCall(0);
  };
  const run = (): void => {
    const born = Date.now();
    // the resolver inherits this process's output (the log), environment and cgroups
    child = childProcess().spawn(cmd!, args, { cwd: '/', stdio: ['ignore', 'inherit', 'inherit'], env: process.env });
    child.on('error', (e) => log(`cannot start the resolver: ${e.message}`));
    child.on('exit', (code, signal) => {
      child = undefined;
      if (stopping) leave('stopped');
      // it leaves with code 0 when no record remains (checked under the state lock); a record
      // written since is served by a new one
      if (code === 0 && readAll(dir).length === 0) leave('no records left');
      pause = Date.now() - born < YOUNG_MS ? Math.min(pause * 2, RESTART_MAX_MS) : RESTART_MS;
      log(`the resolver ended (${signal ?? `exit ${code}`}): starting it again in ${pause} ms`);
      setTimeout(run, pause);
    });
  };
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    process.on(sig, () => {
      stopping = true;
      const c = child;
      if (!c) return leave(sig);
      c.kill('SIGTERM');
      setTimeout(() => { child?.kill('SIGKILL'); leave(`${sig}, the resolver did not stop`); }, 2000).unref();
    });
  }
  log(`supervising the resolver of ${dir}${cgroups.length ? ` in ${cgroups.length} cgroups of its own` : ''}`);
  run();
}

/** What a test or an operator tearing a host namespace's state down removes after the processes: the empty cgroups. */
export function removeCgroups(dir: string): void {
  for (const h of hierarchies()) { try { rmdir(join(h, cgroupName(dir))); } catch { /* in use or gone */ } }
}
