// What plugins keep per host network namespace, found from outside: the conformance runner and
// the tests remove it (and stop the long-running processes it names) with the namespace.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { native } from '../shared/os/native.ts';
import { NetNS } from '../shared/os/netns.ts';
import { STATE_DIRS } from '../shared/os/state.ts';
import { removeCgroups } from '../plugins/dns-hosts/resolver/supervisor.ts';
import { gone, pause } from './processes.ts';

/** The name plugins give a namespace's shared state (shared/os/members.ts: its cookie). */
export function netnsKey(name: string): string {
  const ns = NetNS.open(`/run/netns/${name}`);
  try { return `c${ns.run(() => native().netnsCookie())}`; } finally { ns.close(); }
}

/** Where plugins keep state shared by the attachments of a host namespace, one directory per kind. */
export function netnsStateDirs(name: string): string[] {
  const key = netnsKey(name);
  let kinds: string[] = [];
  try { kinds = readdirSync(STATE_DIRS.run); } catch { /* none yet */ }
  return kinds.map((k) => join(STATE_DIRS.run, k, key)).filter((d) => existsSync(d));
}

/** Stop the long-running processes of this state directory (dns-hosts' resolver, vxlan-overlay's sync process). */
export function stopDaemons(stateDir: string): void {
  let files: string[] = [];
  try { files = readdirSync(stateDir).filter((f) => f.endsWith('.pid')); } catch { return; }
  // supervisors first (one would start its resolver again), then what they ran
  files.sort((a, b) => Number(b.startsWith('supervisor')) - Number(a.startsWith('supervisor')));
  const killed: number[] = [];
  for (const f of files) {
    try {
      const pid = Number(readFileSync(join(stateDir, f), 'utf8').trim());
      if (pid > 1 && /--(resolver=|resolver-serve=|sync)/.test(readFileSync(`/proc/${pid}/cmdline`, 'utf8'))) { process.kill(pid, 'SIGKILL'); killed.push(pid); }
    } catch { /* none running */ }
  }
  // the resolver's own cgroups go once its processes are gone: those killed here, and those a
  // test killed itself (a supervisor killed by SIGKILL never leaves its cgroups)
  const deadline = Date.now() + 2000;
  while (!killed.every(gone) && Date.now() < deadline) pause(20);
  removeCgroups(stateDir);
}

