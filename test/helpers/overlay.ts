// vxlan-overlay tests: "hosts" are network namespaces on an underlay bridge in a namespace of
// the test's own (192.168.77.0/24 there, nowhere else); etcd (Debian's etcd-server) runs in
// that underlay namespace, started and stopped by the test; containers are namespaces of
// their own; plugins run through the libcni client with a conflist per network.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, ROOT, ipIn, makeNetns, tempDir } from './netns.ts';

type Teardown = { teardown(fn: () => void): void };
const CNICTL = join(ROOT, 'build/cnictl');
export const UNDERLAY_GW = '192.168.77.254';
export const haveEtcd = (): boolean => spawnSync('etcd', ['--version']).status === 0;

export interface Host { name: string; path: string; address: string }
export interface Ctr { name: string; path: string; id: string }

export class Cluster {
  readonly dir: string;
  readonly underlay: { name: string; path: string };
  private etcds = new Map<string, ChildProcess>();
  private watchers = new Map<string, ChildProcess>();
  private hostCount = 0;
  endpoints: string[] = [];

  constructor(private t: Teardown) {
    this.dir = tempDir(t, 'cnits-ov-');
    this.underlay = makeNetns(t, 'cnits-ovu');
    ipIn(this.underlay.name, 'link', 'add', 'ubr', 'type', 'bridge');
    ipIn(this.underlay.name, 'link', 'set', 'ubr', 'up');
    ipIn(this.underlay.name, 'addr', 'add', `${UNDERLAY_GW}/24`, 'dev', 'ubr');
    t.teardown(() => {
      for (const p of this.watchers.values()) p.kill('SIGKILL');
      for (const p of this.etcds.values()) p.kill('SIGKILL');
    });
  }

  /** etcd members, each on an address of its own on the underlay bridge; waits until they answer. */
  async startEtcd(names: string[], tls?: { ca: string; cert: string; key: string }): Promise<void> {
    const ip = (i: number) => `192.168.77.${250 - i}`;
    names.forEach((_, i) => spawnSync('ip', ['-n', this.underlay.name, 'addr', 'add', `${ip(i)}/24`, 'dev', 'ubr']));
    const scheme = tls ? 'https' : 'http';
    const cluster = names.map((n, i) => `${n}=http://${ip(i)}:2380`).join(',');
    this.endpoints = names.map((_, i) => `${scheme}://${ip(i)}:2379`);
    this.tls = tls;
    names.forEach((n, i) => this.startMember(n, ip(i), cluster, scheme, tls));
    await this.waitHealthy();
  }

  private memberArgs = new Map<string, string[]>();
  private tls?: { ca: string; cert: string; key: string };
  private startMember(n: string, ip: string, cluster: string, scheme: string, tls?: { ca: string; cert: string; key: string }): void {
    const args = ['netns', 'exec', this.underlay.name, 'etcd', '--name', n, '--data-dir', join(this.dir, `etcd-${n}`),
      '--listen-client-urls', `${scheme}://${ip}:2379`, '--advertise-client-urls', `${scheme}://${ip}:2379`,
      '--listen-peer-urls', `http://${ip}:2380`, '--initial-advertise-peer-urls', `http://${ip}:2380`,
      '--initial-cluster', cluster, '--initial-cluster-state', 'new', '--heartbeat-interval', '50', '--election-timeout', '500',
      ...(tls ? ['--cert-file', tls.cert, '--key-file', tls.key, '--client-cert-auth', '--trusted-ca-file', tls.ca] : [])];
    this.memberArgs.set(n, args);
    this.etcds.set(n, spawn('ip', args, { stdio: ['ignore', 'ignore', 'ignore'] }));
  }

  stopEtcd(name: string): void { this.etcds.get(name)?.kill('SIGKILL'); this.etcds.delete(name); }
  restartEtcd(name: string): void { this.etcds.set(name, spawn('ip', this.memberArgs.get(name)!, { stdio: 'ignore' })); }
  stopAllEtcd(): void { for (const n of [...this.etcds.keys()]) this.stopEtcd(n); }

  async waitHealthy(): Promise<void> {
    for (let i = 0; i < 100; i++) {
      const r = spawnSync('ip', ['netns', 'exec', this.underlay.name, 'etcdctl', '--endpoints', this.endpoints.join(','), '--dial-timeout', '1s', '--command-timeout', '1s',
        ...(this.tls ? ['--cacert', this.tls.ca, '--cert', this.tls.cert, '--key', this.tls.key] : []), 'endpoint', 'health'], { encoding: 'utf8' });
      if (r.status === 0) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('etcd did not become healthy');
  }

  host(): Host {
    const n = ++this.hostCount;
    const h = makeNetns(this.t, `cnits-ovh${n}`);
    const port = `uh${n}-${h.name.slice(-6)}`.slice(0, 15);
    ipIn(h.name, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', port, 'netns', this.underlay.name);
    ipIn(this.underlay.name, 'link', 'set', port, 'master', 'ubr');
    ipIn(this.underlay.name, 'link', 'set', port, 'up');
    const address = `192.168.77.${n}`;
    ipIn(h.name, 'addr', 'add', `${address}/24`, 'dev', 'eth0');
    ipIn(h.name, 'link', 'set', 'eth0', 'up');
    ipIn(h.name, 'route', 'add', 'default', 'via', UNDERLAY_GW);
    return { ...h, address };
  }

  container(label: string): Ctr {
    const n = makeNetns(this.t, 'cnits-ovc');
    return { name: label, path: n.path, id: `${label}-${n.name}`.replace(/[^a-zA-Z0-9_.-]/g, '-') };
  }

  /** A routed-mode network's conflist (the etcd endpoints as they are now), in a directory of its own. */
  network(name: string, vni: number, subnet: string, extra: Record<string, unknown> = {}, etcd: Record<string, unknown> = {}, chained: Record<string, unknown>[] = []): string {
    return this.conflist(name, { mode: 'routed', subnet, hostSubnetLength: 24, vni, etcd: { endpoints: this.endpoints, ...etcd }, ...extra }, chained);
  }

  /** An l2-mode (Docker's) network's conflist: `plugin` holds subnets and the rest. */
  l2network(name: string, vni: number, plugin: Record<string, unknown>, chained: Record<string, unknown>[] = []): string {
    return this.conflist(name, { vni, etcd: { endpoints: this.endpoints }, ...plugin }, chained);
  }

  private conflist(name: string, plugin: Record<string, unknown>, chained: Record<string, unknown>[]): string {
    const dir = join(this.dir, `net-${name}`);
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `${name}.conflist`);
    writeFileSync(file, JSON.stringify({ cniVersion: '1.0.0', name, plugins: [{ type: 'vxlan-overlay', dataDir: join(this.dir, 'data'), ...plugin }, ...chained] }));
    return file;
  }

  /** etcdctl in the underlay namespace. */
  etcdctl(...args: string[]): string {
    return spawnSync('ip', ['netns', 'exec', this.underlay.name, 'etcdctl', '--endpoints', this.endpoints.join(','), ...args], { encoding: 'utf8' }).stdout;
  }

  call(op: 'add' | 'del' | 'check', host: Host, c: Ctr, conflist: string, args = '', cap?: unknown) {
    const name = conflist.split('/').at(-1)!.replace('.conflist', '');
    const r = spawnSync('ip', ['netns', 'exec', host.name, CNICTL, op, name, c.path], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH!, NETCONFPATH: join(conflist, '..'), CNI_PATH: BIN, CNI_CACHE_DIR: join(this.dir, 'cache'), CNI_CONTAINERID: c.id, CNI_ARGS: args, ...(cap ? { CAP_ARGS: JSON.stringify(cap) } : {}) },
    });
    return { status: r.status, stderr: r.stderr, json: r.status === 0 && r.stdout ? JSON.parse(r.stdout) : undefined };
  }

  add(host: Host, c: Ctr, conflist: string, args = ''): string {
    const r = this.call('add', host, c, conflist, args);
    if (r.status !== 0) throw new Error(`ADD ${c.name} on ${host.name}: ${r.stderr}`);
    return r.json.ips[0].address.split('/')[0];
  }

  /** The host's sync process (one for every overlay network the host is on). */
  startSync(host: Host): void {
    const p = spawn('ip', ['netns', 'exec', host.name, join(BIN, 'vxlan-overlay'), '--sync'], { stdio: ['ignore', 'ignore', 'pipe'] });
    p.stderr!.setEncoding('utf8');
    p.stderr!.on('data', (d: string) => { this.syncLogs.set(host.name, (this.syncLogs.get(host.name) ?? '') + d); });
    this.watchers.set(host.name, p);
  }

  /** Kill it, as a host dies: no goodbye. */
  stopSync(host: Host): Promise<void> {
    const p = this.watchers.get(host.name);
    this.watchers.delete(host.name);
    if (!p || p.exitCode !== null) return Promise.resolve();
    return new Promise((r) => { p.once('exit', () => r()); p.kill('SIGKILL'); });
  }

  syncLogs = new Map<string, string>();
}

/** Poll until fn holds (every 20 ms, at most `ms`); the time it took, or undefined. */
export async function within(ms: number, fn: () => boolean): Promise<number | undefined> {
  const t0 = Date.now();
  while (Date.now() - t0 <= ms) {
    if (fn()) return Date.now() - t0;
    await new Promise((r) => setTimeout(r, 20));
  }
  return undefined;
}
