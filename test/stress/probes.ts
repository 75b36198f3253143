// The three stress probes (issue 10): a storm of concurrent chain ADD/DELs through the libcni
// client over two networks, SIGKILL of chain ADDs at random moments, and a structure-aware
// fuzzer of configs and environments. Each returns its figures and the failures it saw.
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { BIN, ROOT } from '../helpers/netns.ts';
import { World, diff, hasStack, prng, type Outcome } from './world.ts';

export interface Figures { name: string; calls: number; addsOk?: number; agentServed?: number; failed: number; stackTraces: number; duplicates: number; leftovers: number; slow: number; ms: number; notes: string[] }

const CNICTL = join(ROOT, 'build/cnictl');
const figures = (name: string): Figures => ({ name, calls: 0, failed: 0, stackTraces: 0, duplicates: 0, leftovers: 0, slow: 0, ms: 0, notes: [] });
const note = (f: Figures, s: string): void => { if (f.notes.length < 20) f.notes.push(s); };

function cnictl(w: World, op: string, net: string, netns: string, id: string, port: number): Promise<Outcome> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const p = spawn('ip', ['netns', 'exec', w.host, CNICTL, op, net, netns], {
      env: {
        PATH: process.env.PATH!, NETCONFPATH: join(w.dir, 'conf'), CNI_PATH: BIN, CNI_CACHE_DIR: join(w.dir, 'cache'), CNI_CONTAINERID: id,
        CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=stress;K8S_POD_NAME=${id}`,
        CAP_ARGS: JSON.stringify({ portMappings: [{ hostPort: port, containerPort: 80, protocol: 'tcp' }] }),
        ...w.agentEnv(),
      },
    });
    let stdout = '', stderr = '';
    p.stdout.on('data', (d) => { stdout += d; });
    p.stderr.on('data', (d) => { stderr += d; });
    const guard = setTimeout(() => p.kill('SIGKILL'), 60_000);
    p.on('close', (status, signal) => {
      clearTimeout(guard);
      let json: any;
      try { json = JSON.parse(stdout); } catch { json = undefined; }
      resolve({ status, signal, stdout, stderr, ms: performance.now() - t0, json });
    });
  });
}

export interface ProbeOptions {
  /** every call offered to a node agent in the world's host namespace */
  agent?: boolean;
}

/** Run a probe in a world of its own: figures timed, the world closed however it ends. */
async function probe(name: string, body: (f: Figures, w: World) => Promise<void>, o: ProbeOptions = {}): Promise<Figures> {
  const f = figures(name);
  const w = new World(o);
  const t0 = performance.now();
  try { await body(f, w); } finally {
    f.ms = performance.now() - t0;
    if (w.agent) f.agentServed = w.agent.served();
    w.close();
  }
  return f;
}

async function pool<T>(items: T[], width: number, fn: (x: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => { while (next < items.length) await fn(items[next++]!); }));
}

/** Concurrent ADD then DEL of `containers` containers, `width` at a time, alternating two networks. */
export function storm(containers: number, width = 12, o: ProbeOptions = {}): Promise<Figures> {
  return probe('storm', async (f, w) => {
    const before = w.snapshot();
    const live = [new Map<string, string>(), new Map<string, string>()];
    await pool([...Array(containers).keys()], width, async (i) => {
      const net = i % 2;
      const id = `storm${i}`;
      const ns = w.netns();
      const add = await cnictl(w, 'add', w.nets[net]!.name, ns.path, id, 20000 + i);
      f.calls++;
      if (add.status !== 0) { f.failed++; note(f, `ADD ${id}: ${add.stderr.trim()}`); }
      if (hasStack(add)) f.stackTraces++;
      const ip = add.json?.ips?.[0]?.address as string | undefined;
      if (ip) {
        const holder = live[net]!.get(ip);
        if (holder) { f.duplicates++; note(f, `${ip} given to ${id} while ${holder} holds it`); }
        live[net]!.set(ip, id);
      }
      const del = await cnictl(w, 'del', w.nets[net]!.name, ns.path, id, 20000 + i);
      f.calls++;
      if (ip) live[net]!.delete(ip);
      if (del.status !== 0) { f.failed++; note(f, `DEL ${id}: ${del.stderr.trim()}`); }
      if (hasStack(del)) f.stackTraces++;
      w.dropNetns(ns.name);
    });
    const left = diff(before, w.snapshot(), ['bridges']);
    f.leftovers = left.length;
    for (const l of left) note(f, `left: ${l}`);
  }, o);
}

/** SIGKILL a chain ADD at a random moment, then DEL the whole chain, then a fresh ADD and DEL: nothing may be left. */
export function kill(rounds: number, seed = 1, o: ProbeOptions = {}): Promise<Figures> {
  const rnd = prng(seed);
  return probe('kill', async (f, w) => {
    const before = w.snapshot();
    for (let i = 0; i < rounds; i++) {
      const net = w.nets[i % 2]!;
      const ns = w.netns();
      const id = `kill${i}`;
      const ports = [{ hostPort: 30000 + i, containerPort: 80, protocol: i % 3 ? 'tcp' : 'udp' }];
      const killAt = { plugin: Math.floor(rnd() * net.plugins.length), ms: Math.floor(rnd() * 25) };
      const killed = await w.chain(net, 'ADD', { id, netns: ns.path, ports, killAt });
      f.calls += killed.outcomes.length;
      const del = await w.chain(net, 'DEL', { id, netns: ns.path, ports });
      f.calls += del.outcomes.length;
      if (!del.ok) { f.failed++; note(f, `DEL after kill ${id} (${JSON.stringify(killAt)}): ${del.outcomes.at(-1)?.stdout.trim()}`); }
      const again = await w.chain(net, 'ADD', { id, netns: ns.path, ports });
      f.calls += again.outcomes.length;
      if (!again.ok) { f.failed++; note(f, `fresh ADD ${id}: ${again.outcomes.at(-1)?.stdout.trim()}`); }
      const del2 = await w.chain(net, 'DEL', { id, netns: ns.path, ports, prev: again.result });
      f.calls += del2.outcomes.length;
      if (!del2.ok) { f.failed++; note(f, `DEL ${id}: ${del2.outcomes.at(-1)?.stdout.trim()}`); }
      for (const o of [...killed.outcomes, ...del.outcomes, ...again.outcomes, ...del2.outcomes]) if (hasStack(o)) f.stackTraces++;
      const left = diff(before, w.snapshot(ns.name), ['bridges']);
      if (left.length) { f.leftovers += left.length; for (const l of left) note(f, `${id} (killed ${JSON.stringify(killAt)}) left: ${l}`); }
      w.dropNetns(ns.name);
    }
  }, o);
}

/**
 * The agent killed during a storm: `containers` chain ADDs, `width` at a time, through the
 * agent, whose supervisor and workers are SIGKILLed together at random moments and started
 * again; then every chain DELed (the runtime's answer to a failed ADD, and the end of every
 * container). Every ADD that succeeded holds an address of its own; nothing is left after.
 */
export function agentCrash(containers: number, width = 6, crashes = 3, seed = 3): Promise<Figures> {
  const rnd = prng(seed);
  return probe('agent crash', async (f, w) => {
    const before = w.snapshot();
    const held = new Map<string, string>();
    const done: { id: string; net: number; ns: { name: string; path: string }; ports: unknown[] }[] = [];
    let finished = false;
    const crasher = (async () => {
      for (let c = 0; c < crashes && !finished; c++) {
        await new Promise((r) => setTimeout(r, 150 + Math.floor(rnd() * 600)));
        if (finished) break;
        w.crashAgent();
        note(f, `agent crashed and restarted (${c + 1})`);
      }
    })();
    await pool([...Array(containers).keys()], width, async (i) => {
      const net = i % 2, id = `crash${i}`, ns = w.netns();
      const ports = [{ hostPort: 31000 + i, containerPort: 80, protocol: 'tcp' }];
      const add = await w.chain(w.nets[net]!, 'ADD', { id, netns: ns.path, ports });
      f.calls += add.outcomes.length;
      for (const o of add.outcomes) if (hasStack(o)) f.stackTraces++;
      if (add.ok) {
        f.addsOk = (f.addsOk ?? 0) + 1;
        const ip = (add.result as any)?.ips?.[0]?.address as string | undefined;
        const k = `${net} ${ip}`;
        if (ip && held.has(k)) { f.duplicates++; note(f, `${ip} given to ${id} while ${held.get(k)} holds it`); }
        if (ip) held.set(k, id);
      } else {
        note(f, `ADD ${id} failed: ${add.outcomes.at(-1)?.stdout.replace(/\s+/g, ' ').slice(0, 140)}`);
        // an ADD cut by the crash fails with the spec's error, never a stack trace or nothing
        const last = add.outcomes.at(-1)!;
        if (typeof last.json?.code !== 'number') { f.failed++; note(f, `ADD ${id} failed without a CNI error (exit ${last.status ?? last.signal}): ${last.stdout.slice(0, 160)}`); }
      }
      done.push({ id, net, ns, ports });
    });
    finished = true;
    await crasher;
    for (const c of done) {
      const del = await w.chain(w.nets[c.net]!, 'DEL', { id: c.id, netns: c.ns.path, ports: c.ports });
      f.calls += del.outcomes.length;
      if (!del.ok) { f.failed++; note(f, `DEL ${c.id}: ${del.outcomes.at(-1)?.stdout.trim().slice(0, 200)}`); }
      w.dropNetns(c.ns.name);
    }
    const left = diff(before, w.snapshot(), ['bridges']);
    f.leftovers = left.length;
    for (const l of left) note(f, `left: ${l}`);
  }, { agent: true });
}

// ---- the fuzzer ----

const PLUGINS = ['loopback', 'host-local', 'bridge', 'portmap', 'firewall', 'tuning', 'macvlan', 'ipvlan'];
const COMMANDS = ['ADD', 'ADD', 'ADD', 'ADD', 'DEL', 'DEL', 'CHECK', 'VERSION', 'GC', 'STATUS', 'BOGUS', ''];
const VERSIONS = ['1.1.0', '1.0.0', '0.4.0', '0.3.1', '0.3.0', '0.2.0', '0.1.0', '', '9.9.9', 'x'];

function baseConfig(w: World, plugin: string, version: string): Record<string, any> {
  const ipam = { type: 'host-local', dataDir: join(w.dir, 'ipam'), ranges: [[{ subnet: '10.123.0.0/24' }], [{ subnet: 'fd00:123::/64' }]], routes: [{ dst: '0.0.0.0/0' }] };
  const prevResult = { cniVersion: version || '1.0.0', interfaces: [{ name: 'cnits-fz' }, { name: 'vethfuzz' }, { name: 'eth0', sandbox: '/run/netns/x' }], ips: [{ interface: 2, address: '10.123.0.77/24', gateway: '10.123.0.1' }], routes: [{ dst: '0.0.0.0/0' }] };
  const base: Record<string, any> = { cniVersion: version, name: 'fuzz-net', type: plugin };
  switch (plugin) {
    case 'host-local': return { ...base, ipam };
    case 'bridge': return { ...base, bridge: 'cnits-fz', isGateway: true, ipMasq: true, hairpinMode: true, mtu: 1400, ipam };
    case 'portmap': return { ...base, snat: true, capabilities: { portMappings: true }, runtimeConfig: { portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp', hostIP: '' }] }, prevResult };
    case 'firewall': return { ...base, ingressPolicy: 'same-bridge', prevResult };
    case 'tuning': return { ...base, mtu: 1300, promisc: true, sysctl: { 'net.ipv4.conf.IFNAME.arp_notify': '1' }, dataDir: join(w.dir, 'tuning'), prevResult };
    case 'macvlan': return { ...base, master: 'fzup', mode: 'bridge', ipam };
    case 'ipvlan': return { ...base, master: 'fzup', mode: 'l2', ipam };
    default: return base;
  }
}

const WEIRD: unknown[] = [null, true, false, 0, -1, 1.5, 65536, 2 ** 53, '', ' ', 'x'.repeat(300), 'a"b', 'a,b', 'a\nb', '../../etc', 'all', 'default', 'lo', '0.0.0.0/0', '::', '10.123.0.1', 'fd00::/129', '\u212Aelvin', [], [1, 'a'], {}, { a: { b: [] } }];

function mutate(v: any, rnd: () => number, depth = 0): any {
  if (v && typeof v === 'object' && depth < 4 && (depth === 0 || rnd() < 0.7)) {
    const keys = Array.isArray(v) ? [...v.keys()] : Object.keys(v);
    if (keys.length) {
      const out = Array.isArray(v) ? [...v] : { ...v };
      const k = keys[Math.floor(rnd() * keys.length)]! as any;
      const r = rnd();
      if (r < 0.15 && !Array.isArray(out)) delete out[k];
      else if (r < 0.3 && !Array.isArray(out) && typeof k === 'string') { const x = out[k]; delete out[k]; out[k[0]!.toUpperCase() + k.slice(1)] = x; }   // Go-cased
      else out[k] = mutate(out[k], rnd, depth + 1);
      return out;
    }
  }
  return WEIRD[Math.floor(rnd() * WEIRD.length)];
}

/** A valid environment most of the time (so ADDs get far and their rollbacks run), else one field broken. */
function fuzzEnv(rnd: () => number, ctrPath: string, fifo: string): Record<string, string> {
  const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const env: Record<string, string> = { CNI_COMMAND: pick(COMMANDS), CNI_CONTAINERID: pick(['fz1', 'fz2', 'f'.repeat(64), `c${'9'.repeat(199)}`]), CNI_NETNS: ctrPath, CNI_IFNAME: pick(['eth0', 'eth1']) };
  if (rnd() < 0.4) {
    const broken: Record<string, string[]> = {
      CNI_CONTAINERID: ['', '-bad', 'a b', 'a/b', 'x'.repeat(300)],
      CNI_NETNS: ['', '/run/netns/missing-ns', '/dev/null', fifo, '/proc/self/ns/net', '/tmp', '/run/netns'],
      CNI_IFNAME: ['lo', '', 'x'.repeat(16), 'a/b', '..', 'eth 0'],
    };
    const k = pick(Object.keys(broken));
    env[k] = pick(broken[k]!);
  }
  if (rnd() < 0.3) env.CNI_ARGS = pick(['IgnoreUnknown=1;IP=10.123.0.50', 'IP=10.123.0.1', 'K8S_POD_NAME=x', 'IgnoreUnknown=1;K8S_POD_NAME=x', 'garbage', '=;=', 'IgnoreUnknown=true;MAC=zz']);
  if (rnd() < 0.05) delete env[pick(['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME'])];
  return env;
}

/** `calls` fuzzed plugin calls (fixed seed): CNI JSON, no stack trace, under `maxMs`, nothing left after a failed ADD or a DEL. */
export function fuzz(calls: number, seed = 7, maxMs = 1000, o: ProbeOptions = {}): Promise<Figures> {
  const rnd = prng(seed);
  return probe('fuzz', async (f, w) => {
    // a parent for macvlan/ipvlan, in the host namespace of the probe
    const ctr = w.netns();
    w.execIp('link', 'add', 'fzup', 'type', 'veth', 'peer', 'name', 'fzpeer');
    w.execIp('link', 'set', 'fzup', 'up');
    const fifo = join(w.dir, 'fifo');
    spawnSync('mkfifo', [fifo]);
    const base = w.snapshot(ctr.name);
    for (let i = 0; i < calls; i++) {
      const plugin = PLUGINS[Math.floor(rnd() * PLUGINS.length)]!;
      const version = VERSIONS[Math.floor(rnd() * VERSIONS.length)]!;
      let conf: unknown = baseConfig(w, plugin, version);
      const mutations = Math.floor(rnd() * 4);
      for (let m = 0; m < mutations; m++) conf = mutate(conf, rnd);
      const env = fuzzEnv(rnd, ctr.path, fifo);
      const stdin = rnd() < 0.03 ? ['', '{', 'null', '[]', '"x"', '{"a":'][Math.floor(rnd() * 6)]! : JSON.stringify(conf);
      const o = await w.exec(plugin, env, stdin, undefined, 5000);
      f.calls++;
      const where = `#${i} ${plugin} ${env.CNI_COMMAND} ${stdin.slice(0, 160)}`;
      if (hasStack(o)) { f.stackTraces++; note(f, `stack trace: ${where}: ${o.stderr.slice(0, 200)}`); }
      if (o.ms > maxMs) { f.slow++; note(f, `${Math.round(o.ms)} ms: ${where}`); }
      const okJson = o.status === 0 ? (o.stdout.trim() === '' || o.json !== undefined) : (o.json && typeof o.json.code === 'number' && typeof o.json.msg === 'string');
      if (!okJson) { f.failed++; note(f, `not CNI output (exit ${o.status ?? o.signal}): ${where}: ${o.stdout.slice(0, 200)}`); }
      // a successful ADD is taken down by its own DEL; then, as after any failed ADD or any DEL, nothing may be left
      if (env.CNI_COMMAND === 'ADD' && o.status === 0) {
        f.addsOk = (f.addsOk ?? 0) + 1;
        const d = await w.exec(plugin, { ...env, CNI_COMMAND: 'DEL' }, stdin, undefined, 5000);
        f.calls++;
        if (d.status !== 0) { f.failed++; note(f, `DEL after ADD failed: ${where}: ${d.stdout.slice(0, 200)}`); }
        base.bridges = w.snapshot().bridges!;   // a successful ADD may make its network's bridge
      }
      if (env.CNI_COMMAND === 'ADD' || env.CNI_COMMAND === 'DEL') {
        const left = diff(base, w.snapshot(ctr.name));
        if (left.length) {
          f.leftovers += left.length;
          note(f, `${where} (exit ${o.status}: ${o.stdout.slice(0, 120)}) left ${left.join('; ')}`);
          w.reset(ctr.name, base);
        }
      }
    }
  }, o);
}
