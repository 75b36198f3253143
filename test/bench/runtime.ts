// What a runtime's calls cost beyond one ADD: VERSION (podman asks every plugin before every ADD
// and DEL), 50 pods started at once through the whole nerdctl chain (kubelet after a node
// restart; each pod through libcni, as containerd does), and the chain ADD on a host that
// already has 500 containers with a published port each.
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, REFERENCE_BIN, ROOT } from '../helpers/netns.ts';
import { VIA_EXEC, execPlugin, oursBoth, type Bench, type Impl } from './lib.ts';
import type { AgentHandle } from '../../conformance/agent.ts';

const CNICTL = join(ROOT, 'build/cnictl');

export function versionBench(): Bench {
  const env = { PATH: process.env.PATH, CNI_COMMAND: 'VERSION' };
  const impl = (label: Impl['label'], dir: string): Impl => ({
    label,
    run: () => { execPlugin(join(dir, 'bridge'), env, '{"cniVersion":"1.0.0"}'); },
    rssProbe: () => ({ cmd: join(dir, 'bridge'), args: [], env, input: '{"cniVersion":"1.0.0"}' }),
  });
  return { name: 'VERSION', runs: 60, impls: [impl('ours', BIN), impl('reference', REFERENCE_BIN)] };
}

/** nerdctl's chain: its bridge and subnet `k`'s unless told. */
export const nerdctlList = (label: string, dataDir: string, k: number, net = { bridge: `cnitsr${k}`, subnet: `10.${230 + k}.0.0/16` }) => ({
  cniVersion: '1.0.0', name: `rt-${label}`,
  plugins: [
    { type: 'bridge', bridge: net.bridge, isGateway: true, ipMasq: true, hairpinMode: true, ipam: { type: 'host-local', dataDir, ranges: [[{ subnet: net.subnet }]], routes: [{ dst: '0.0.0.0/0' }] } },
    { type: 'portmap', capabilities: { portMappings: true } },
    { type: 'firewall', ingressPolicy: 'same-bridge' },
    { type: 'tuning' },
  ],
});

/** A shell line running cnictl for one container (libcni: the whole chain, prevResult passed along). */
function cnictlLine(dir: string, confDir: string, cmd: string, net: string, netns: string, id: string, ifname: string, port: number, env: Record<string, string> = VIA_EXEC): string {
  const caps = JSON.stringify({ portMappings: [{ hostPort: port, containerPort: 80, protocol: 'tcp' }] });
  const extra = Object.entries(env).map(([k, v]) => `${k}=${v}`).join(' ');
  return `${extra} NETCONFPATH=${confDir} CNI_PATH=${dir} CNI_CACHE_DIR=${confDir}/cache CNI_CONTAINERID=${id} CNI_IFNAME=${ifname} CAP_ARGS='${caps}' ${CNICTL} ${cmd} ${net} ${netns} >/dev/null || echo FAIL`;
}

function runScript(lines: string[], what: string, width = lines.length): void {
  // `width` at a time: xargs-style batches of background jobs
  const chunks: string[] = [];
  for (let i = 0; i < lines.length; i += width) chunks.push(`${lines.slice(i, i + width).map((l) => `(${l}) &`).join('\n')}\nwait`);
  const r = spawnSync('bash', ['-s'], { input: `${chunks.join('\n')}\n`, encoding: 'utf8', maxBuffer: 16 << 20 });
  if (r.error || r.status !== 0 || r.stdout.includes('FAIL')) throw new Error(`${what} failed: ${r.error?.message ?? ''}${r.stdout?.slice(0, 500)}${r.stderr?.slice(0, 500)}`);
}

export function concurrentChainAdd(n = 50): Bench {
  const base = join(tmpdir(), `cnits-bench-cc-${process.pid}`);
  const confs: (() => void)[] = [];
  const namespaces: string[] = [];
  const impl = (label: Impl['label'], dir: string, k: number, env: Record<string, string> = VIA_EXEC): Impl => {
    const confDir = join(base, label);
    const list = nerdctlList(label, join(confDir, 'ipam'), k);
    confs.push(() => { mkdirSync(confDir, { recursive: true }); writeFileSync(join(confDir, '10.conflist'), JSON.stringify(list)); });
    const ns = Array.from({ length: n }, (_, i) => `cnits-cc-${label.slice(0, 3)}-${process.pid}-${i}`);
    namespaces.push(...ns);
    const batch = (cmd: string) => runScript(ns.map((x, i) => cnictlLine(dir, confDir, cmd, list.name, `/run/netns/${x}`, `cc${i}`, 'eth0', 21000 + 100 * k + i, env)), `${label} concurrent chain ${cmd}`);
    return { label, run: () => batch('add'), reset: () => batch('del') };
  };
  const impls = [...oursBoth((label, env) => impl(label, BIN, label === 'ours' ? 0 : 2, env)), impl('reference', REFERENCE_BIN, 1)];
  return {
    name: `${n} concurrent nerdctl-chain ADDs via libcni (wall time of the batch)`,
    runs: 10,   // a batch is seconds long (and its DEL more): its own spread is small
    impls,
    setup: () => { for (const c of confs) c(); for (const x of namespaces) execFileSync('ip', ['netns', 'add', x]); },
    teardown: () => { for (const x of namespaces) spawnSync('ip', ['netns', 'del', x]); rmSync(base, { recursive: true, force: true }); },
  };
}

/** The chain ADD (and its DEL, untimed) with `attached` containers already on the network, each with a published port. */
export function chainAddAtScale(attached = 500): Bench {
  const base = join(tmpdir(), `cnits-bench-sc-${attached}-${process.pid}`);
  const namespaces: string[] = [];
  const preps: (() => void)[] = [];
  const impl = (label: Impl['label'], dir: string, k: number): Impl => {
    const confDir = join(base, label);
    const list = nerdctlList(`s${label}`, join(confDir, 'ipam'), 2 + k);
    const ns = `cnits-sc-${label.slice(0, 3)}-${attached}-${process.pid}`;
    const residents = Array.from({ length: attached }, (_, i) => `${ns}-${i}`);
    namespaces.push(ns, ...residents);
    preps.push(() => { mkdirSync(confDir, { recursive: true }); writeFileSync(join(confDir, '10.conflist'), JSON.stringify(list)); });
    // the residents, each in a namespace of its own as containers are
    preps.push(() => runScript(residents.map((r, i) => cnictlLine(dir, confDir, 'add', list.name, `/run/netns/${r}`, `res${i}`, 'eth0', 30000 + i)), `${label} residents`, 8));
    // and DELed at the end: removing their namespaces alone would leave their rules in the
    // bench's host namespace (the reference's thousands of iptables chains slowed every later
    // iptables peer: podman's row measured the reference at +675 ms over --network none)
    cleanups.push(() => runScript(residents.map((r, i) => cnictlLine(dir, confDir, 'del', list.name, `/run/netns/${r}`, `res${i}`, 'eth0', 30000 + i)), `${label} residents' DEL`, 8));
    const one = (cmd: string) => runScript([cnictlLine(dir, confDir, cmd, list.name, `/run/netns/${ns}`, 'probe', 'eth0', 29999)], `${label} chain ${cmd}`);
    return { label, run: () => one('add'), reset: () => one('del') };
  };
  const cleanups: (() => void)[] = [];
  const impls = [impl('ours', BIN, 0), impl('reference', REFERENCE_BIN, 1)];
  return {
    name: `nerdctl chain ADD via libcni, ${attached} containers attached`,
    runs: 20,
    impls,
    setup: () => { netnsBatch('add', namespaces); for (const p of preps) p(); },
    teardown: () => {
      try { for (const c of cleanups) c(); } finally { netnsBatch('del', namespaces); rmSync(base, { recursive: true, force: true }); }
    },
  };
}

/** `ip -batch`: hundreds of namespaces made or removed in one process. */
function netnsBatch(op: 'add' | 'del', names: string[]): void {
  spawnSync('ip', ['-force', '-batch', '-'], { input: names.map((n) => `netns ${op} ${n}`).join('\n') });
}

/** The same chain ADD with nothing attached: the baseline the growth row is read against. */
export const chainAddBaseline = (): Bench => ({ ...chainAddAtScale(0), name: 'nerdctl chain ADD via libcni, 0 containers attached' });



/**
 * What containerd's CRI asks of the network for a pod's life: go-cni's Setup (loopback, then the
 * nerdctl chain with a published port) and its Remove, timed together, through build/gocnictl
 * (containerd's own CNI library). The rest of a CRI pod run+stop+remove (image, sandbox, shim) is
 * the runtime's and the same whichever plugins run.
 */
export function goCniPod(): Bench {
  const base = join(tmpdir(), `cnits-bench-gocni-${process.pid}`);
  const GOCNICTL = join(ROOT, 'build/gocnictl');
  const setups: (() => void)[] = [];
  const names: string[] = [];
  const impl = (label: Impl['label'], dir: string, k: number, extra: Record<string, string> = VIA_EXEC): Impl => {
    const confDir = join(base, label);
    const list = nerdctlList(`g${label}`, join(confDir, 'ipam'), 5 + k);
    setups.push(() => { mkdirSync(confDir, { recursive: true }); writeFileSync(join(confDir, '10.conflist'), JSON.stringify(list)); });
    const ns = `cnits-gocni-${label.slice(0, 3)}-${process.pid}`;
    names.push(ns);
    const env = { PATH: process.env.PATH!, CONF_DIR: confDir, CNI_PATH: dir, CONTAINER_ID: `pod${k}${'0'.repeat(60)}`, PORTS: JSON.stringify([{ HostPort: 18300 + k, ContainerPort: 80, Protocol: 'tcp', HostIP: '' }]), ...extra };
    const go = (op: string) => { const r = spawnSync(GOCNICTL, [op, `/run/netns/${ns}`], { env, encoding: 'utf8' }); if (r.status !== 0) throw new Error(`gocnictl ${op} (${label}): ${r.stderr}`); };
    return { label, run: () => { go('setup'); go('remove'); } };
  };
  const impls = [...oursBoth((label, env) => impl(label, BIN, label === 'ours' ? 0 : 2, env)), impl('reference', REFERENCE_BIN, 1)];
  return {
    name: "go-cni pod Setup+Remove: containerd CRI's network calls for a pod run+stop+remove",
    runs: 30,
    impls,
    setup: () => { for (const s of setups) s(); for (const n of names) execFileSync('ip', ['netns', 'add', n]); },
    teardown: () => { for (const n of names) spawnSync('ip', ['netns', 'del', n]); rmSync(base, { recursive: true, force: true }); },
  };
}

/** A set of processes' memory: as one resident set, proportional sets summed, resident sets summed (memoryOf). */
export interface AgentMemory { residentMiB: number; rssMiB: number; pssMiB: number; processes: number }

/**
 * The pages resident in any of `pid`'s mappings, by page frame (/proc/<pid>/pagemap, root
 * only): a page the processes share (the executable's code, mapped by every one) is one page.
 */
function framesOf(pid: number, into: Set<number>): void {
  const fd = openSync(`/proc/${pid}/pagemap`, 'r');
  try {
    const buf = Buffer.alloc(8 * 4096);
    for (const line of readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n')) {
      const m = /^([0-9a-f]+)-([0-9a-f]+) (\S+)/.exec(line);
      if (!m || m[3]!.startsWith('---') || m[1]!.length > 12) continue;   // (reserved, never resident; [vsyscall], above user space)
      const [lo, hi] = [parseInt(m[1]!, 16) / 4096, parseInt(m[2]!, 16) / 4096];
      for (let page = lo; page < hi; page += 4096) {
        const n = Math.min(4096, hi - page);
        const got = readSync(fd, buf, 0, n * 8, page * 8);
        for (let i = 0; i + 8 <= got; i += 8) {
          const e = buf.readBigUInt64LE(i);
          if (e >> 63n) into.add(Number(e & ((1n << 55n) - 1n)));
        }
      }
    }
  } finally { closeSync(fd); }
}

/**
 * The memory of a set of processes three ways: their resident set as one (each page once, the
 * agent's RSS), their proportional sets summed (a page shared with processes outside the set,
 * as the executable's code with a resolver, counts only in part), and their resident sets summed
 * (each process counts the executable's shared code again).
 */
export function memoryOf(pids: number[]): AgentMemory {
  let rss = 0, pss = 0, processes = 0;
  const frames = new Set<number>();
  for (const p of pids) {
    try {
      const r = readFileSync(`/proc/${p}/smaps_rollup`, 'utf8');
      framesOf(p, frames);
      rss += Number(/^Rss:\s+(\d+)/m.exec(r)?.[1] ?? 0);
      pss += Number(/^Pss:\s+(\d+)/m.exec(r)?.[1] ?? 0);
      processes++;
    } catch { /* gone */ }
  }
  return { residentMiB: (frames.size * 4) / 1024, rssMiB: rss / 1024, pssMiB: pss / 1024, processes };
}

/**
 * The agent's memory with `n` attachments made through it (bridge+host-local, each container in
 * a namespace of its own), of the supervisor and its workers together, measured twice: right
 * after the burst of ADDs (8 at a time: the pool grew for it), and once the burst's workers have
 * left (the pool's steady size). Target: <= 100 MB.
 */
export function agentMemory(agent: AgentHandle, n = 1000): { n: number; ms: number; burst: AgentMemory; steady: AgentMemory } {
  const base = join(tmpdir(), `cnits-bench-mem-${process.pid}`);
  const ns = Array.from({ length: n }, (_, i) => `cnits-mem-${process.pid}-${i}`);
  const list = nerdctlList('mem', join(base, 'ipam'), 9);
  list.plugins = [{ ...list.plugins[0]!, ipMasq: false }] as typeof list.plugins;
  mkdirSync(base, { recursive: true });
  writeFileSync(join(base, '10.conflist'), JSON.stringify(list));
  const env = { ...agent.env };
  spawnSync('ip', ['-force', '-batch', '-'], { input: ns.map((x) => `netns add ${x}`).join('\n') });
  const t0 = Date.now();
  try {
    runScript(ns.map((x, i) => cnictlLine(BIN, base, 'add', list.name, `/run/netns/${x}`, `mem${i}`, 'eth0', 40000 + i, env)), 'agent memory ADDs', 8);
    const ms = Date.now() - t0;
    const burst = memoryOf([agent.pid, ...agent.workers()]);
    const min = agent.status()?.workers.min ?? 2;
    for (const end = Date.now() + 60_000; agent.workers().length > min && Date.now() < end;) spawnSync('sleep', ['1']);
    return { n, ms, burst, steady: memoryOf([agent.pid, ...agent.workers()]) };
  } finally {
    try { runScript(ns.map((x, i) => cnictlLine(BIN, base, 'del', list.name, `/run/netns/${x}`, `mem${i}`, 'eth0', 40000 + i, env)), 'agent memory DELs', 8); } finally {
      spawnSync('ip', ['-force', '-batch', '-'], { input: ns.map((x) => `netns del ${x}`).join('\n') });
      rmSync(base, { recursive: true, force: true });
    }
  }
}
