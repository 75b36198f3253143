// dns-hosts' resolver against aardvark-dns (podman's) and dnsmasq (dnsname's), serving the same
// 100 names, queried with dnsperf from inside one container namespace, one client with 20
// queries in flight for 10 s: queries per second, and p50/p99 of every query's time (dnsperf -v).
// Two workloads: the names only, and a mix where 40% are not ours (half answered by an upstream,
// half NXDOMAIN from it). Each server listens on its own loopback address in the container
// namespace (ours 127.0.0.11, dnsmasq .12, aardvark-dns .13) and forwards to the same upstream
// program (a dnsmasq authoritative for ext.test) on loopback where it forwards from: ours from
// the host namespace, the peers from the container's (dnsmasq without a cache, so that none
// answers a forwarded name from memory). Rounds interleave; the median round of each figure.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN } from '../helpers/netns.ts';
import { execPlugin, oursBoth, type Bench, type Impl } from './lib.ts';

const NAMES = 100;
const ROUNDS = 3;
const UPSTREAM = '127.0.0.53';
const AARDVARK = '/usr/lib/podman/aardvark-dns';
export const dnsBenchReady = (): boolean => ['dnsperf', 'dnsmasq'].every((c) => spawnSync('which', [c]).status === 0) && spawnSync(AARDVARK, ['--version']).status === 0;

export interface DnsRow { server: string; workload: string; qps: number; p50: number; p99: number; lost: number }

const quantile = (s: number[], q: number): number => s[Math.min(s.length - 1, Math.floor(q * s.length))]!;

/**
 * dnsperf's report. Its output goes to a file, read once it ends: with -v it is a line a query
 * (tens of MB), and read through a pipe it kept this process busy beside the servers measured.
 */
function dnsperf(ns: string, server: string, queries: string, args: string[]): string {
  const out = `${queries}.out`;
  const fd = openSync(out, 'w');
  try {
    const r = spawnSync('ip', ['netns', 'exec', ns, 'dnsperf', '-s', server, '-d', queries, ...args], { stdio: ['ignore', fd, 'inherit'] });
    if (r.status !== 0) throw new Error(`dnsperf against ${server} exited ${r.status}`);
  } finally { closeSync(fd); }
  try { return readFileSync(out, 'utf8'); } finally { rmSync(out, { force: true }); }
}

export type DnsFigures = Omit<DnsRow, 'server' | 'workload'>;
type Figures = DnsFigures;

/** dnsperf's figures for `queries` against `server`, from inside `ns`: 1 client, 20 in flight, 10 s. */
export function measure(ns: string, server: string, queries: string): Figures {
  const out = dnsperf(ns, server, queries, ['-l', '10', '-c', '1', '-q', '20', '-v']);
  const qps = Number(/Queries per second:\s+([\d.]+)/.exec(out)?.[1]);
  const lost = Number(/Queries lost:\s+(\d+)/.exec(out)?.[1]);
  const times = [...out.matchAll(/^> [A-Z]+ \S+ \S+ ([\d.]+)$/gm)].map((m) => Number(m[1]) * 1000).sort((a, b) => a - b);
  return { qps, lost, p50: quantile(times, 0.5), p99: quantile(times, 0.99) };
}

/** An upstream for the forwarded names: dnsmasq authoritative for ext.test, in `ns` at UPSTREAM. */
function upstream(ns: string, dir: string): ChildProcess {
  const hosts = join(dir, `ext-${ns}`);
  writeFileSync(hosts, Array.from({ length: NAMES }, (_, i) => `192.0.2.${(i % 250) + 1} web${i}.ext.test\n`).join(''));
  return spawn('ip', ['netns', 'exec', ns, 'dnsmasq', '--keep-in-foreground', '--no-resolv', '--no-hosts', `--addn-hosts=${hosts}`, '--local=/#/',
    `--listen-address=${UPSTREAM}`, '--bind-interfaces', '--port=53', '--pid-file=', '--user=root', '--cache-size=1000'], { stdio: 'ignore' });
}

export function dnsBench(host: string): DnsRow[] {
  const dir = mkdtempSync(join(tmpdir(), 'cnits-bench-dns-'));
  const ns = `cnits-bench-dnsc-${process.pid}`;
  const procs: ChildProcess[] = [];
  execFileSync('ip', ['netns', 'add', ns]);
  try {
    execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    const path = `/run/netns/${ns}`;
    const ips = Array.from({ length: NAMES }, (_, i) => `10.77.${i >> 8}.${(i & 255) + 1}`);
    // ours: one dns-hosts attachment per name, all in the client's namespace (one view)
    for (let i = 0; i < NAMES; i++) {
      const conf = { cniVersion: '1.0.0', name: 'benchdns', type: 'dns-hosts', upstreams: [UPSTREAM], prevResult: { cniVersion: '1.0.0', interfaces: [{ name: 'eth0', sandbox: path }], ips: [{ address: `${ips[i]}/16`, interface: 0 }] } };
      const r = spawnSync('ip', ['netns', 'exec', host, join(BIN, 'dns-hosts')], { input: JSON.stringify(conf), encoding: 'utf8', env: { PATH: process.env.PATH, CNI_COMMAND: 'ADD', CNI_CONTAINERID: `benchdns${i}`, CNI_NETNS: path, CNI_IFNAME: 'eth0', CNI_PATH: BIN, CNI_ARGS: `K8S_POD_NAME=svc${i}` } });
      if (r.status !== 0) throw new Error(`dns-hosts ADD: ${r.stdout}`);
    }
    // the upstream, where each server forwards from: ours from the host namespace, the peers from the container's
    procs.push(upstream(host, dir), upstream(ns, dir));
    // dnsmasq: the same names from a hosts file, the rest to the upstream, nothing cached
    writeFileSync(join(dir, 'hosts'), ips.map((ip, i) => `${ip} svc${i}\n`).join(''));
    procs.push(spawn('ip', ['netns', 'exec', ns, 'dnsmasq', '--keep-in-foreground', '--no-resolv', '--no-hosts', `--addn-hosts=${join(dir, 'hosts')}`, `--server=${UPSTREAM}`, '--listen-address=127.0.0.12', '--bind-interfaces', '--port=53', '--pid-file=', '--user=root', '--cache-size=0', '--dns-forward-max=1000'], { stdio: 'ignore' }));
    // aardvark-dns: its config format (first line: the addresses it binds; then id, IPv4, IPv6, names); the client is listed so its queries are answered;
    // its upstreams from the resolv.conf `ip netns exec` shows it (/etc/netns/<ns>/resolv.conf)
    mkdirSync(join(dir, 'aardvark'));
    writeFileSync(join(dir, 'aardvark', 'benchdns'), `127.0.0.13\nbenchclient 127.0.0.1  client\n${ips.map((ip, i) => `benchdns${i} ${ip}  svc${i}\n`).join('')}`);
    mkdirSync(`/etc/netns/${ns}`, { recursive: true });
    writeFileSync(`/etc/netns/${ns}/resolv.conf`, `nameserver ${UPSTREAM}\n`);
    procs.push(spawn('ip', ['netns', 'exec', ns, AARDVARK, '--config', join(dir, 'aardvark'), '-p', '53', 'run'], { stdio: 'ignore' }));
    const workloads = [['names', 'names only'], ['mixed', 'mixed: 40% forwarded or NXDOMAIN']] as const;
    const files = { names: join(dir, 'names'), mixed: join(dir, 'mixed') };
    writeFileSync(files.names, ips.map((_, i) => `svc${i} A\n`).join(''));
    // per 10 queries: 6 of ours, 2 answered by the upstream, 2 NXDOMAIN from it
    writeFileSync(files.mixed, Array.from({ length: NAMES }, (_, i) => (i % 10 < 6 ? `svc${i} A\n` : i % 10 < 8 ? `web${i}.ext.test A\n` : `none${i}.ext.test A\n`)).join(''));
    const servers = [['dns-hosts (ours)', '127.0.0.11'], ['dnsmasq', '127.0.0.12'], ['aardvark-dns', '127.0.0.13']] as const;
    for (const [name, addr] of servers) {   // every server answers before the clock starts
      let ok = false;
      for (let k = 0; k < 50 && !ok; k++) {
        ok = spawnSync('ip', ['netns', 'exec', ns, 'dig', `@${addr}`, '+short', '+tries=1', '+time=1', 'svc5'], { encoding: 'utf8' }).stdout.trim() === ips[5];
        if (!ok) spawnSync('sleep', ['0.1']);
      }
      if (!ok) throw new Error(`${name} does not answer svc5 at ${addr}`);
      const fwd = spawnSync('ip', ['netns', 'exec', ns, 'dig', `@${addr}`, '+short', '+tries=1', '+time=2', 'web7.ext.test'], { encoding: 'utf8' }).stdout.trim();
      if (fwd !== '192.0.2.8') throw new Error(`${name} does not forward web7.ext.test at ${addr} (got "${fwd}")`);
    }
    const results = new Map<string, Figures[]>();
    // a warm-up round first, not counted: whoever went first after the setup (100 ADDs, two
    // servers starting) had the machine's leftovers in its tail (that first round's p99 was 3-8x
    // the others', for any server put first)
    for (let round = -1; round < ROUNDS; round++) {
      for (const [w] of workloads) {
        for (const [name, addr] of servers) {
          const m = measure(ns, addr, files[w]);
          if (round >= 0) results.set(`${w} ${name}`, [...(results.get(`${w} ${name}`) ?? []), m]);
        }
      }
    }
    // the median round of each figure (a 2-core machine's tail is noisy: one round proves little)
    const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
    return workloads.flatMap(([w, label]) => servers.map(([name]) => {
      const rs = results.get(`${w} ${name}`)!;
      return { server: name, workload: label, qps: median(rs.map((r) => r.qps)), lost: Math.max(...rs.map((r) => r.lost)), p50: median(rs.map((r) => r.p50)), p99: median(rs.map((r) => r.p99)) };
    }));
  } finally {
    for (const p of procs) p.kill('SIGKILL');
    // aardvark-dns's `run` forks into the background: its pid file names the server
    try { process.kill(Number(readFileSync(join(dir, 'aardvark', 'aardvark.pid'), 'utf8')), 'SIGKILL'); } catch { /* not running */ }
    for (let i = 0; i < NAMES; i++) {
      spawnSync('ip', ['netns', 'exec', host, join(BIN, 'dns-hosts')], { input: JSON.stringify({ cniVersion: '1.0.0', name: 'benchdns', type: 'dns-hosts' }), env: { PATH: process.env.PATH, CNI_COMMAND: 'DEL', CNI_CONTAINERID: `benchdns${i}`, CNI_NETNS: '', CNI_IFNAME: 'eth0', CNI_PATH: BIN } });
    }
    spawnSync('ip', ['netns', 'del', ns]);
    rmSync(`/etc/netns/${ns}`, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  }
}

export function dnsTable(rows: DnsRow[]): string {
  const peers = (r: DnsRow) => rows.filter((x) => x.workload === r.workload && !x.server.includes('ours'));
  const vs = (r: DnsRow) => {
    if (!r.server.includes('ours')) return ['', ''];
    const best = Math.max(...peers(r).map((x) => x.qps)), p99 = Math.min(...peers(r).map((x) => x.p99));
    return [(r.qps / best).toFixed(2), (r.p99 / p99).toFixed(2)];
  };
  return ['| workload (100 names; dnsperf, 1 client, 20 in flight, 10 s) | DNS server | queries/s | p50 ms | p99 ms | lost | qps / best peer\'s | p99 / best peer\'s |', '|---|---|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.workload} | ${r.server} | ${Math.round(r.qps)} | ${r.p50.toFixed(3)} | ${r.p99.toFixed(3)} | ${r.lost} | ${vs(r).join(' | ')} |`)].join('\n');
}

/** dns-hosts ADD (and DEL) with the resolver already running: what it adds to a chain. No reference plugin does this. */
export function dnsHostsAdd(): Bench {
  const ns = `cnits-bench-dnsa-${process.pid}`;
  const path = `/run/netns/${ns}`;
  const conf = (ip: string) => JSON.stringify({ cniVersion: '1.0.0', name: 'benchdnsadd', type: 'dns-hosts', prevResult: { cniVersion: '1.0.0', interfaces: [{ name: 'eth0', sandbox: path }], ips: [{ address: `${ip}/24`, interface: 0 }] } });
  const env = (command: string, id: string) => ({ PATH: process.env.PATH, CNI_COMMAND: command, CNI_CONTAINERID: id, CNI_NETNS: path, CNI_IFNAME: 'eth0', CNI_PATH: BIN, CNI_ARGS: `K8S_POD_NAME=${id}` });
  const cmd = join(BIN, 'dns-hosts');
  return {
    name: 'dns-hosts ADD, resolver running (target p50 <= 10 ms)',
    impls: oursBoth((label, extra): Impl => ({
      label,
      run: (i) => { execPlugin(cmd, { ...env('ADD', `dnsadd${i + 10}`), ...extra }, conf(label === 'ours' ? '10.78.0.5' : '10.78.0.7')); },
      reset: (i) => { execPlugin(cmd, { ...env('DEL', `dnsadd${i + 10}`), ...extra }, conf(label === 'ours' ? '10.78.0.5' : '10.78.0.7')); },
      ...(label === 'ours' ? { rssProbe: () => ({ cmd, args: [], env: { ...env('ADD', 'dnsaddrss'), ...extra }, input: conf('10.78.0.6') }) } : {}),
    })),
    setup: () => {
      execFileSync('ip', ['netns', 'add', ns]);
      execPlugin(cmd, env('ADD', 'dnsaddkeeper'), conf('10.78.0.2'));   // the resolver runs from here on
    },
    teardown: () => {
      for (const id of ['dnsaddkeeper', 'dnsaddrss']) spawnSync(cmd, [], { env: env('DEL', id), input: conf('10.78.0.2') });
      spawnSync('ip', ['netns', 'del', ns]);
    },
  };
}
