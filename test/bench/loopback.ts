// loopback ADD: ours vs /usr/lib/cni/loopback.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { BIN, REFERENCE_BIN } from '../helpers/netns.ts';
import { VIA_EXEC, execPlugin, oursBoth, type Bench, type Impl } from './lib.ts';

export function loopbackAdd(): Bench {
  const ns = `cnits-bench-lo-${process.pid}`;
  const conf = JSON.stringify({ cniVersion: '1.0.0', name: 'bench', type: 'loopback', nerdctlID: 'x'.repeat(64), nerdctlLabels: { a: 'b'.repeat(900) } });
  const env = { PATH: process.env.PATH, CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'bench1', CNI_NETNS: `/run/netns/${ns}`, CNI_IFNAME: 'lo', CNI_PATH: BIN };
  const impl = (label: Impl['label'], dir: string, extra: Record<string, string> = {}): Impl => ({
    label,
    run: () => { execPlugin(join(dir, 'loopback'), { ...env, ...extra }, conf); },
    rssProbe: () => ({ cmd: join(dir, 'loopback'), args: [], env: { ...env, ...extra }, input: conf }),
  });
  return {
    name: 'loopback ADD',
    runs: 50,
    impls: [...oursBoth((label, extra) => impl(label, BIN, extra)), impl('reference', REFERENCE_BIN)],
    setup: () => { execFileSync('ip', ['netns', 'add', ns]); },
    teardown: () => { execFileSync('ip', ['netns', 'del', ns]); },
  };
}

/**
 * What the launcher's look for an agent costs when none listens (socket, connect: ENOENT), the
 * price every exec'd call pays where no agent runs: loopback ADD exec'd with the look turned off
 * (CNI_TS_AGENT=off) and with a directory where no agent listens. Target: within +2 ms.
 */
export function noAgentLook(): Bench {
  const ns = `cnits-bench-lo2-${process.pid}`;
  const conf = JSON.stringify({ cniVersion: '1.0.0', name: 'bench', type: 'loopback' });
  const env = { PATH: process.env.PATH, CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'bench2', CNI_NETNS: `/run/netns/${ns}`, CNI_IFNAME: 'lo', CNI_PATH: BIN };
  const impl = (label: string, extra: Record<string, string>): Impl => ({ label, run: () => { execPlugin(join(BIN, 'loopback'), { ...env, ...extra }, conf); } });
  return {
    name: 'loopback ADD exec\'d: no look for an agent, and a look where none listens (target +2 ms); /bin/true for an exec\'s floor',
    runs: 50,
    impls: [
      impl('no agent', { CNI_TS_AGENT_DIR: `/run/cni-ts-bench-no-agent-${process.pid}` }), impl('ours', { ...VIA_EXEC }),
      // an exec's own cost as a runtime pays it (spawned, stdin fed and stdout read, waited for): the floor under every exec'd row
      { label: '/bin/true', run: () => { execPlugin('/bin/true', env, conf); } },
    ],
    setup: () => { execFileSync('ip', ['netns', 'add', ns]); },
    teardown: () => { execFileSync('ip', ['netns', 'del', ns]); },
  };
}
