// bridge+IPAM and the nerdctl chain (bridge with ipMasq, portmap, firewall same-bridge, tuning):
// ADD and DEL, ours vs the reference (whose bridge execs host-local and whose rules are iptables).
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pluginConf, type Conflist } from '../helpers/chain.ts';
import { BIN, REFERENCE_BIN } from '../helpers/netns.ts';
import { execPlugin, oursBoth, type Bench, type Impl } from './lib.ts';

export type Op = 'ADD' | 'DEL';

export function conflist(label: string, dataDir: string, full: boolean): Conflist {
  const br = `cnitsb-${label.slice(0, 3)}${full ? 'c' : 'b'}`;
  const bridge = { type: 'bridge', bridge: br, isGateway: true, ipMasq: full, hairpinMode: true, ipam: { type: 'host-local', dataDir, ranges: [[{ subnet: full ? '10.210.0.0/16' : '10.211.0.0/16' }]], routes: [{ dst: '0.0.0.0/0' }] } };
  return {
    cniVersion: '1.0.0', name: `bench-${label}`,
    plugins: full ? [bridge, { type: 'portmap', capabilities: { portMappings: true } }, { type: 'firewall', ingressPolicy: 'same-bridge' }, { type: 'tuning' }] : [bridge],
  };
}

const runtime = { portMappings: [{ hostPort: 18080, containerPort: 80, protocol: 'tcp' }] };

/**
 * One chain call as libcni makes it (DEL in reverse with the cached result); each plugin through
 * `exec` (command, environment, stdin -> stdout), execPlugin unless the caller records more.
 * Returns the last ADD result (or the cached one for DEL).
 */
export function runChain(dir: string, list: Conflist, op: Op, ns: string, id: string, cached: unknown,
  exec: (cmd: string, env: NodeJS.ProcessEnv, input: string) => string = execPlugin, extraEnv: NodeJS.ProcessEnv = {}): unknown {
  const env = { PATH: process.env.PATH, CNI_COMMAND: op, CNI_CONTAINERID: id, CNI_NETNS: ns, CNI_IFNAME: 'eth0', CNI_PATH: dir, ...extraEnv };
  let prev: unknown = op === 'DEL' ? cached : undefined;
  const plugins = op === 'DEL' ? [...list.plugins].reverse() : list.plugins;
  for (const p of plugins) {
    const out = exec(join(dir, p.type), env, JSON.stringify(pluginConf(list, p, runtime, prev)));
    if (op === 'ADD') prev = JSON.parse(out);
  }
  return prev;
}

function chainBench(name: string, op: Op, full: boolean): () => Bench {
  return () => {
    const dataDir = join(tmpdir(), `cnits-bench-br-${process.pid}-${name.replace(/\W+/g, '-')}`);   // made by setup
    const nsNames: string[] = [];
    const impl = (label: Impl['label'], dir: string, env: NodeJS.ProcessEnv = {}): Impl => {
      const list = conflist(label, dataDir, full);
      const ns = `cnits-bench-${label}-${process.pid}-${full ? 'c' : 'b'}`;
      nsNames.push(ns);
      let cached: unknown;
      const path = `/run/netns/${ns}`;
      const add = (i: number) => { cached = runChain(dir, list, 'ADD', path, `b${i}`, undefined, execPlugin, env); };
      const del = (i: number) => { runChain(dir, list, 'DEL', path, `b${i}`, cached, execPlugin, env); };
      const id = (i: number) => (i < 0 ? 1000 - i : i);
      return op === 'ADD'
        ? { label, run: (i) => add(id(i)), reset: (i) => del(id(i)) }
        : { label, prepare: (i) => add(id(i)), run: (i) => del(id(i)) };
    };
    const impls = [...oursBoth((label, env) => impl(label, BIN, env)), impl('reference', REFERENCE_BIN)];
    return {
      name, runs: full ? 30 : 60, impls,   // bridge+host-local: the tightest target, cheap runs
      setup: () => { mkdirSync(dataDir, { recursive: true }); for (const n of nsNames) execFileSync('ip', ['netns', 'add', n]); },
      teardown: () => { for (const n of nsNames) execFileSync('ip', ['netns', 'del', n]); rmSync(dataDir, { recursive: true, force: true }); },
    };
  };
}

export const bridgeBenches = [
  chainBench('bridge+host-local ADD', 'ADD', false),
  chainBench('bridge+host-local DEL', 'DEL', false),
  chainBench('nerdctl chain ADD', 'ADD', true),
  chainBench('nerdctl chain DEL', 'DEL', true),
];
