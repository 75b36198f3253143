// dns-hosts' resolver under a hostile container: every queue, buffer and connection it keeps for
// one container is bounded, and another container's answers go on meanwhile. Clients and the
// counting upstream are test/helpers/dns-clients.py, run inside the test's own namespaces.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import t from 'tap';
import { ROOT, haveBuild, makeNetns, netnsStateDirs } from '../helpers/netns.ts';
import { DnsWorld, addresses, dig } from '../helpers/dns.ts';

const CLIENTS = join(ROOT, 'test/helpers/dns-clients.py');
const bridge = (name: string, subnet: string) => ({ type: 'bridge', bridge: name, isGateway: true, ipam: { type: 'host-local', ranges: [[{ subnet }]], routes: [{ dst: '0.0.0.0/0' }] } });
const resolverPid = (host: string): number => Number(readFileSync(join(netnsStateDirs(host).find((d) => d.includes('/dns-hosts/'))!, 'resolver.pid'), 'utf8'));
const rssMiB = (pid: number): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
const fds = (pid: number): number => readdirSync(`/proc/${pid}/fd`).length;

/** A python client of dns-clients.py in `ns`, running in the background; its output when it ends. */
function client(t: { teardown(fn: () => void): void }, ns: string, ...args: string[]): Promise<string> {
  const p = spawn('ip', ['netns', 'exec', ns, 'python3', CLIENTS, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => { p.kill('SIGKILL'); });
  let out = '';
  p.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  return new Promise((resolve) => p.on('close', () => resolve(out)));
}

const skip = !haveBuild() && 'npm run build first';

/** A host namespace with one network and two containers on it, a the hostile one, b the other; DEL both at the end. */
function twoContainers(t: Parameters<typeof makeNetns>[0], net: string, br: string, subnet: string, dns: Record<string, unknown>) {
  const host = makeNetns(t, 'cnits-dnsl');
  const w = new DnsWorld(t, host.name);
  w.network(net, bridge(br, subnet), dns);
  const a = w.container('a'), b = w.container('b');
  w.add(a, net, 'eth0');
  w.add(b, net, 'eth0');
  return { host, a, b, pid: resolverPid(host.name), done: () => { w.del(a, net, 'eth0'); w.del(b, net, 'eth0'); } };
}

t.test('a client that pipelines 40 MB of TCP queries without reading: bounded memory, others answered', { skip }, async (t) => {
  const { a, b, pid, done } = twoContainers(t, 'flood', 'cnits-fl', '172.30.8.0/24', { forward: false });
  const before = rssMiB(pid);
  // ~2 million queries for a name of ours (each answered locally), never read back
  const flood = client(t, a.ns, 'pipeline', '1900000', 'a', '6', '2');
  await new Promise((r) => setTimeout(r, 1500));
  const answered = [0, 1, 2, 3, 4].map(() => addresses(b.ns, 'a').length === 1);
  t.same(answered, [true, true, true, true, true], "another container's UDP queries are answered meanwhile");
  t.equal(dig(b.ns, 'a', 'A', ['+tcp']).answers.length, 1, 'and its TCP queries');
  const sent = Number((await flood).trim());
  const after = rssMiB(pid);
  t.ok(sent < 20 * 1024 * 1024, `the resolver stopped reading: the kernel took ${(sent / 1048576).toFixed(1)} of 40 MB`);
  t.ok(after - before < 50, `resolver RSS ${before.toFixed(0)} -> ${after.toFixed(0)} MiB (cap: 64 KiB of unsent replies a connection)`);
  done();
});

t.test('5,000 TCP connections held by one container: bounded descriptors, another container resolves', { skip }, async (t) => {
  const { a, b, pid, done } = twoContainers(t, 'held', 'cnits-hd', '172.30.9.0/24', { forward: false });
  const base = fds(pid);
  const hold = client(t, a.ns, 'hold', '5000', '4');
  await new Promise((r) => setTimeout(r, 2500));
  const during = fds(pid);
  t.ok(during - base <= 64 + 8, `the resolver holds ${during - base} more descriptors (at most 64 connections a container)`);
  t.equal(addresses(b.ns, 'b').length, 1, 'another container resolves over UDP');
  t.equal(dig(b.ns, 'a', 'A', ['+tcp']).answers.length, 1, 'and over TCP');
  await hold;
  done();
});

t.test('3,000 pipelined unknown names over TCP: the upstream sees a bounded number of connections', { skip }, async (t) => {
  const { host, a, b, done } = twoContainers(t, 'fwd', 'cnits-fw2', '172.30.10.0/24', { upstreams: ['127.0.0.54'] });
  // the upstream: a TCP DNS server of the test on the host namespace's loopback, counting
  const up = client(t, host.name, 'upstream', '127.0.0.54', '53', '12');
  await new Promise((r) => setTimeout(r, 500));
  const floods = Array.from({ length: 10 }, () => client(t, a.ns, 'pipeline', '300', 'unknown.example', '4', '5'));
  await new Promise((r) => setTimeout(r, 1500));
  t.equal(addresses(b.ns, 'b').length, 1, "another container's own names still answer");
  await Promise.all(floods);
  const [most, accepted] = (await up).trim().split('\n').at(-1)!.split(/\s+/).map(Number) as [number, number];
  t.ok(accepted > 0, `the upstream was asked (${accepted} connections in all)`);
  // (64, and the few whose reply is sent but whose close the upstream has not yet counted)
  t.ok(most <= 64 + 8, `at most 64 connections to the upstream at once (${most}) for 3,000 queries`);
  done();
});

t.test("a UDP flood from one container: another container's queries answered within 10 ms (p99)", { skip: skip || (spawnSync('which', ['dnsperf']).status !== 0 && 'dnsperf is not installed') }, async (t) => {
  const { a, b, done } = twoContainers(t, 'udpflood', 'cnits-uf', '172.30.11.0/24', { forward: false });
  const names = join(mkdtempSync(join(tmpdir(), 'cnits-uf-')), 'names');
  t.teardown(() => rmSync(dirname(names), { recursive: true, force: true }));
  writeFileSync(names, 'a A\nb A\nnobody A\nb AAAA\n');
  // four clients with 500 queries in flight each, as fast as the resolver answers
  const p = spawn('ip', ['netns', 'exec', a.ns, 'dnsperf', '-s', '127.0.0.11', '-d', names, '-c', '4', '-q', '500', '-l', '4'], { stdio: ['ignore', 'pipe', 'ignore'] });
  t.teardown(() => { p.kill('SIGKILL'); });
  let out = '';
  p.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  const flood = new Promise((resolve) => p.on('close', resolve));
  await new Promise((r) => setTimeout(r, 1000));
  const [answered, p50, p99] = (await client(t, b.ns, 'latency', '300', 'a')).trim().split(/\s+/).map(Number) as [number, number, number];
  await flood;
  const qps = Number(/Queries per second:\s+([\d.]+)/.exec(out)?.[1] ?? 0);
  t.ok(qps > 2000, `the flood ran (${Math.round(qps)} queries/s)`);
  t.equal(answered, 300, 'every query of the other container answered');
  t.ok(p99 < 10, `its p50 ${p50} ms, p99 ${p99} ms`);
  done();
});
