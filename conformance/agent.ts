// A node agent (agent/) for a test's or a scenario's host namespace: started inside it with a
// directory of its own, waited for until its workers are ready, stopped (SIGTERM, then SIGKILL
// past a bound) and its cgroups removed in teardown. Synchronous, as the conformance runner is.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hierarchies } from '../shared/os/cgroup.ts';
import { agentCgroupName, statusPath, type AgentStatus } from '../agent/supervisor.ts';
import { childrenOf, gone, pause } from './processes.ts';

export interface AgentHandle {
  pid: number;
  dir: string;
  /** what the plugins' environment needs for their launchers to find it */
  env: { CNI_TS_AGENT_DIR: string; CNI_TS_AGENT: 'on' };
  status(): AgentStatus | undefined;
  /** calls served, once the count has settled (the status file follows the workers' reports) */
  served(): number;
  /** the pids of its workers, from the process table */
  workers(): number[];
  /** SIGTERM and wait (SIGKILL after boundMs); true when it left on SIGTERM. Its directory and cgroups go. */
  stop(boundMs?: number): boolean;
  /** SIGKILL the supervisor and every worker at once (its directory stays, as a crash leaves it) */
  kill(): void;
}

/** (`sync`: with the overlay's sync process under it, as by default; tests leave it out unless they test it) */
export function startAgent(hostNs: string, bin: string, o: { workers?: number; deadlineS?: number; log?: boolean; dir?: string; sync?: boolean; burstIdleS?: number } = {}): AgentHandle {
  const dir = o.dir ?? join(mkdtempSync(join(tmpdir(), 'cnits-agent-')), 'agent');
  const args = ['netns', 'exec', hostNs, join(bin, 'cni-ts'), 'agent', `--dir=${dir}`, `--workers=${o.workers ?? 2}`, ...(o.deadlineS ? [`--deadline=${o.deadlineS}`] : []), ...(o.sync ? [] : ['--no-sync']), ...(o.burstIdleS ? [`--burst-idle=${o.burstIdleS}`] : [])];
  const child = spawn('ip', args, { stdio: ['ignore', 'ignore', o.log ? 'pipe' : 'ignore'], detached: false });
  let log = '';
  child.stderr?.on('data', (d: Buffer) => { log += d.toString(); });
  child.unref();
  const pid = child.pid!;
  const status = (): AgentStatus | undefined => { try { return JSON.parse(readFileSync(statusPath(dir), 'utf8')) as AgentStatus; } catch { return undefined; } };
  const want = o.workers ?? 2;
  const deadline = Date.now() + 15_000;
  // (its own status: a directory an earlier agent left holds that one's)
  while (status()?.pid !== pid || (status()?.workers.ready ?? 0) < want) {
    if (Date.now() > deadline || gone(pid)) {
      try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
      throw new Error(`the agent in ${hostNs} did not start: ${JSON.stringify(status())} ${log}`);
    }
    pause(20);
  }
  return {
    pid, dir, env: { CNI_TS_AGENT_DIR: dir, CNI_TS_AGENT: 'on' }, status,
    workers: () => childrenOf(pid),
    served() {
      let last = -1;
      for (let i = 0; i < 20; i++) {
        const n = status()?.calls.served ?? 0;
        if (n === last) return n;
        last = n;
        pause(60);
      }
      return last;
    },
    kill() {
      const all = [pid, ...childrenOf(pid)];
      for (const p of all) try { process.kill(p, 'SIGKILL'); } catch { /* gone */ }
      const end = Date.now() + 3000;
      while (all.some((p) => !gone(p)) && Date.now() < end) pause(10);
    },
    stop(boundMs = 15_000) {
      const ws = childrenOf(pid);
      try { process.kill(pid, 'SIGTERM'); } catch { /* gone */ }
      const end = Date.now() + boundMs;
      while (!gone(pid) && Date.now() < end) pause(20);
      const clean = gone(pid);
      for (const p of [pid, ...ws]) if (!gone(p)) try { process.kill(p, 'SIGKILL'); } catch { /* gone */ }
      const end2 = Date.now() + 3000;
      while ([pid, ...ws].some((p) => !gone(p)) && Date.now() < end2) pause(20);
      for (const h of hierarchies()) { try { spawnSync('rmdir', [join(h, agentCgroupName(dir))]); } catch { /* in use or gone */ } }
      rmSync(join(dir, '..'), { recursive: true, force: true });
      return clean;
    },
  };
}

/** What a call's environment needs to be exec'd for certain (the launcher looks for no agent). */
export const EXEC_ENV = { CNI_TS_AGENT: 'off' } as const;
/** What a call's environment needs: to go through `agent`, or (none) to be exec'd for certain. */
export const agentEnv = (agent: AgentHandle | undefined): Record<string, string> => (agent ? { ...agent.env } : { ...EXEC_ENV });
