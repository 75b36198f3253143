// The stress probes' world: one host namespace of their own with two nerdctl-style networks
// (bridge, portmap, firewall, tuning) whose state lives in a temporary directory, container
// namespaces made and removed per container, and a snapshot of everything a plugin call can
// leave behind: links, nft elements, leases, tuning files, firewall membership.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Conflist } from '../helpers/chain.ts';
import { pluginConf } from '../helpers/chain.ts';
import { BIN, netnsKey, nftElements } from '../helpers/netns.ts';
import { agentEnv, startAgent, type AgentHandle } from '../../conformance/agent.ts';

export interface Outcome { status: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string; ms: number; json?: any }

export class World {
  readonly host = `cnits-stress-${process.pid.toString(36)}-${randomBytes(2).toString('hex')}`;
  readonly dir = mkdtempSync(join(tmpdir(), 'cnits-stress-'));
  readonly nets: Conflist[];
  private readonly made = new Set<string>();
  private stateKey?: string;
  /** a node agent in the host namespace (agent/), when the world has one */
  agent?: AgentHandle;

  constructor(o: { agent?: boolean } = {}) {
    spawnSync('ip', ['netns', 'add', this.host]);
    spawnSync('ip', ['-n', this.host, 'link', 'set', 'lo', 'up']);
    if (o.agent) this.agent = startAgent(this.host, BIN);
    this.nets = [0, 1].map((i) => ({
      cniVersion: '1.0.0', name: `stress-${i}`,
      plugins: [
        { type: 'bridge', bridge: `cnits-s${i}`, isGateway: true, ipMasq: true, hairpinMode: true, ipam: { type: 'host-local', dataDir: join(this.dir, 'ipam'), ranges: [[{ subnet: `10.${120 + i}.0.0/22` }]], routes: [{ dst: '0.0.0.0/0' }] } },
        { type: 'portmap', capabilities: { portMappings: true } },
        { type: 'firewall', ingressPolicy: 'same-bridge' },
        { type: 'tuning', mtu: 1400, dataDir: join(this.dir, 'tuning') },
      ],
    }));
    mkdirSync(join(this.dir, 'conf'));
    this.nets.forEach((n, i) => writeFileSync(join(this.dir, 'conf', `1${i}-${n.name}.conflist`), JSON.stringify(n)));
  }

  /** A container namespace (removed by dropNetns or close). */
  netns(): { name: string; path: string } {
    const name = `cnits-sc-${randomBytes(5).toString('hex')}`;
    spawnSync('ip', ['netns', 'add', name]);
    this.made.add(name);
    return { name, path: `/run/netns/${name}` };
  }

  dropNetns(name: string): void {
    spawnSync('ip', ['netns', 'del', name]);
    this.made.delete(name);
  }

  /** The host namespace's shared state (firewall members, route_localnet holders). */
  private stateDirs(): string[] {
    this.stateKey ??= netnsKey(this.host);
    return ['firewall', 'portmap-localnet'].map((k) => `/run/cni-ts/${k}/${this.stateKey}`);
  }

  /** What the plugins' environment needs: the agent's directory, or (none) the exec path for certain. */
  agentEnv(): Record<string, string> {
    return agentEnv(this.agent);
  }

  /** SIGKILL the agent's processes, then start a new one on the same directory (a crash and a restart). */
  crashAgent(): void {
    if (!this.agent) return;
    this.agent.kill();
    this.agent = startAgent(this.host, BIN, { dir: this.agent.dir });
  }

  close(): void {
    this.agent?.stop();
    for (const d of this.stateDirs()) rmSync(d, { recursive: true, force: true });
    for (const n of this.made) spawnSync('ip', ['netns', 'del', n]);
    spawnSync('ip', ['netns', 'del', this.host]);
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** `ip` inside the host namespace. */
  execIp(...args: string[]): void {
    const r = spawnSync('ip', ['-n', this.host, ...args], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr}`);
  }

  /** Back to a snapshot after a leftover was counted, so that the next call is judged alone. */
  reset(ctrNs: string, base: Record<string, string[]>): void {
    for (const [ns, key] of [[this.host, 'hostLinks'], [ctrNs, 'containerLinks']] as const) {
      const keep = new Set(base[key]!.map((l) => l.split(' ')[0]));
      for (const l of this.snapshot(ctrNs)[key]!) { const n = l.split(' ')[0]!.split('@')[0]!; if (!keep.has(n)) spawnSync('ip', ['-n', ns, 'link', 'del', n]); }
    }
    spawnSync('ip', ['netns', 'exec', this.host, 'nft', 'flush', 'ruleset']);
    for (const d of ['ipam', 'tuning']) rmSync(join(this.dir, d), { recursive: true, force: true });
    for (const d of this.stateDirs()) rmSync(d, { recursive: true, force: true });
  }

  /** Exec one plugin inside the host namespace, asynchronously; `killAfterMs` sends SIGKILL then. */
  exec(plugin: string, env: Record<string, string>, stdin: string, killAfterMs?: number, timeoutMs = 10_000): Promise<Outcome> {
    const t0 = performance.now();
    return new Promise((resolve) => {
      const p = spawn('ip', ['netns', 'exec', this.host, join(BIN, plugin)], { cwd: this.dir, env: { PATH: process.env.PATH!, CNI_PATH: BIN, ...this.agentEnv(), ...env } });
      let stdout = '', stderr = '';
      p.stdout.on('data', (d) => { stdout += d; });
      p.stderr.on('data', (d) => { stderr += d; });
      const kill = killAfterMs !== undefined ? setTimeout(() => p.kill('SIGKILL'), killAfterMs) : undefined;
      const guard = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
      p.on('error', () => undefined);
      p.stdin.on('error', () => undefined);
      p.stdin.end(stdin);
      p.on('close', (status, signal) => {
        clearTimeout(kill); clearTimeout(guard);
        let json: any;
        try { json = stdout.trim() ? JSON.parse(stdout) : undefined; } catch { json = undefined; }
        resolve({ status, signal, stdout, stderr, ms: performance.now() - t0, json });
      });
    });
  }

  /** ADD (or DEL, in reverse) of a whole network's chain, libcni's way: on a failed ADD, DEL of the whole list. */
  async chain(net: Conflist, command: 'ADD' | 'DEL', c: { id: string; netns: string; ports?: unknown[]; prev?: unknown; killAt?: { plugin: number; ms: number } }): Promise<{ ok: boolean; result?: unknown; outcomes: Outcome[] }> {
    const plugins = command === 'ADD' ? net.plugins : [...net.plugins].reverse();
    const outcomes: Outcome[] = [];
    let prev = c.prev;
    for (const [i, p] of plugins.entries()) {
      const conf = pluginConf(net, p, c.ports ? { portMappings: c.ports } : {}, command === 'ADD' ? prev : c.prev);
      const env = { CNI_COMMAND: command, CNI_CONTAINERID: c.id, CNI_NETNS: c.netns, CNI_IFNAME: 'eth0', CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAME=${c.id}` };
      const o = await this.exec(p.type, env, JSON.stringify(conf), c.killAt?.plugin === i ? c.killAt.ms : undefined);
      outcomes.push(o);
      if (o.status !== 0) return { ok: false, outcomes };
      if (command === 'ADD') prev = o.json;
    }
    return { ok: true, result: prev, outcomes };
  }

  /**
   * Everything plugin calls can leave: compared before and after. Bridges apart: a network's
   * bridge stays after its DELs (as the reference's does), only a failed ADD must not leave one.
   */
  snapshot(ctrNs?: string): Record<string, string[]> {
    const all = (ns: string) => JSON.parse(spawnSync('ip', ['-n', ns, '-d', '-j', 'link', 'show'], { encoding: 'utf8' }).stdout || '[]') as any[];
    const hostAll = all(this.host);
    const links = (ls: any[]) => ls.filter((l) => l.linkinfo?.info_kind !== 'bridge').map((l) => `${l.ifname} ${l.linkinfo?.info_kind ?? ''}`).sort();
    // files only (directories may stay), but for locks and host-local's round-robin position
    const files = (d: string): string[] => (existsSync(d) ? readdirSync(d, { recursive: true, withFileTypes: true })
      .filter((e) => !e.isDirectory() && !/^(lock|last_reserved_ip\.\d+)$/.test(e.name) && !e.name.endsWith('.lock'))
      .map((e) => join(e.parentPath, e.name).slice(d.length + 1)).sort() : []);
    return {
      hostLinks: links(hostAll),
      bridges: hostAll.filter((l) => l.linkinfo?.info_kind === 'bridge').map((l) => l.ifname).sort(),
      ...(ctrNs ? { containerLinks: links(all(ctrNs)) } : {}),
      nft: nftElements(this.host).map((e) => `${e.set} ${e.key}${e.comment ? ` # ${e.comment}` : ''}`).sort(),
      leases: files(join(this.dir, 'ipam')),
      tuning: files(join(this.dir, 'tuning')),
      shared: this.stateDirs().flatMap((d) => files(d).map((f) => `${d}/${f}`)),
    };
  }
}


/** What differs between two snapshots, as lines; a container namespace must hold nothing but lo. */
export function diff(before: Record<string, string[]>, after: Record<string, string[]>, ignore: string[] = []): string[] {
  const out: string[] = [];
  if (!before.containerLinks) for (const l of after.containerLinks ?? []) if (!/^lo /.test(l)) out.push(`containerLinks: + ${l}`);
  for (const k of Object.keys(after)) {
    if (!before[k] || ignore.includes(k)) continue;
    const b = new Set(before[k] ?? []);
    for (const x of after[k]!) if (!b.has(x)) out.push(`${k}: + ${x}`);
  }
  return out;
}

/** A fixed-seed PRNG (mulberry32): the same seed, the same run. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A stack trace anywhere in a plugin's output. */
export const hasStack = (o: Outcome): boolean => /\n\s+at .+(\(|:\d+)/.test(o.stdout + o.stderr) || /Error: .*\n\s+at /.test(o.stderr);
