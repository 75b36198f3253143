// The Node bundles in build/dist (for hosts that run plugins with Node instead of the compiled
// executable): each plugin answers VERSION, and loopback and bridge+host-local really ADD and
// DEL through them (addon beside the bundle, no zod, IPAM in-process), and dns-hosts' resolver
// runs (answers, and leaves with its last record) under Node.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { PLUGINS } from '../../entry/loaders.ts';
import { ROOT, ipJson, makeNetns, netnsStateDirs } from '../helpers/netns.ts';
import { dig } from '../helpers/dns.ts';

const DIST = join(ROOT, 'build/dist');

function run(host: string | undefined, bundle: string, args: string[], env: Record<string, string>, input: unknown) {
  const cmd = ['node', join(DIST, bundle), ...args];
  const r = spawnSync(host ? 'ip' : cmd[0]!, host ? ['netns', 'exec', host, ...cmd] : cmd.slice(1), {
    input: JSON.stringify(input), encoding: 'utf8', env: { PATH: process.env.PATH!, ...env }, timeout: 30_000,
  });
  let json: any;
  try { json = r.stdout.trim() ? JSON.parse(r.stdout) : undefined; } catch { /* not JSON */ }
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, json };
}

t.test('every per-plugin bundle and the multicall bundle answer VERSION', async (t) => {
  for (const name of Object.keys(PLUGINS)) {
    const r = run(undefined, `${name}.cjs`, [], { CNI_COMMAND: 'VERSION' }, {});
    t.equal(r.status, 0, `${name}: ${r.stderr}`);
    t.ok(r.json?.supportedVersions?.includes('1.1.0'), `${name} supports 1.1.0`);
  }
  const multi = run(undefined, 'cni-ts.cjs', ['loopback'], { CNI_COMMAND: 'VERSION' }, {});
  t.equal(multi.json?.cniVersion, '1.1.0');
});

t.test('a bad config gets the error JSON from a bundle too', async (t) => {
  const r = run(undefined, 'bridge.cjs', [], { CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'c', CNI_NETNS: '/x', CNI_IFNAME: 'eth0', CNI_PATH: '/x' },
    { cniVersion: '1.0.0', name: 'n', type: 'bridge', mtu: 'big' });
  t.equal(r.status, 1);
  t.match(r.json, { code: 6, msg: /mtu expected number, got string/ });
});

t.test('loopback and bridge+host-local ADD and DEL through the Node bundles', async (t) => {
  const host = makeNetns(t, 'cnits-nbh');
  const ctr = makeNetns(t, 'cnits-nbc');
  const dataDir = mkdtempSync(join(tmpdir(), 'cnits-nb-'));
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  const env = (command: string, ifname: string) => ({ CNI_COMMAND: command, CNI_CONTAINERID: 'nb1', CNI_NETNS: ctr.path, CNI_IFNAME: ifname, CNI_PATH: DIST });

  const lo = { cniVersion: '1.0.0', name: 'none', type: 'loopback' };
  t.equal(run(host.name, 'loopback.cjs', [], env('ADD', 'lo'), lo).status, 0);
  t.ok(ipJson(ctr.name, 'link', 'show', 'lo')[0].flags.includes('UP'), 'lo is up');

  const br = { cniVersion: '1.0.0', name: 'nbnet', type: 'bridge', bridge: 'cnitsnb0', isGateway: true, ipam: { type: 'host-local', dataDir, ranges: [[{ subnet: '10.231.0.0/24' }]] } };
  const add = run(host.name, 'cni-ts.cjs', ['bridge'], env('ADD', 'eth0'), br);
  t.equal(add.status, 0, add.stdout + add.stderr);
  t.equal(add.json?.ips?.[0]?.address, '10.231.0.2/24');
  t.same(ipJson(ctr.name, 'addr', 'show', 'eth0')[0].addr_info.filter((a: any) => a.family === 'inet').map((a: any) => a.local), ['10.231.0.2'], 'the address is on eth0');
  t.equal(run(host.name, 'cni-ts.cjs', ['bridge'], env('DEL', 'eth0'), br).status, 0);
  t.same(ipJson(ctr.name, 'link', 'show').map((l: any) => l.ifname), ['lo'], 'eth0 is gone');
});

t.test('dns-hosts through the Node bundle: its resolver answers, and leaves after the last DEL', async (t) => {
  const host = makeNetns(t, 'cnits-nbdh');
  const ctr = makeNetns(t, 'cnits-nbdc');
  const env = (command: string) => ({ CNI_COMMAND: command, CNI_CONTAINERID: 'nbdns1', CNI_NETNS: ctr.path, CNI_IFNAME: 'eth0', CNI_PATH: DIST, CNI_ARGS: 'K8S_POD_NAME=nodesvc' });
  const conf = { cniVersion: '1.0.0', name: 'nbdns', type: 'dns-hosts', forward: false, prevResult: { cniVersion: '1.0.0', interfaces: [{ name: 'eth0', sandbox: ctr.path }], ips: [{ address: '10.232.0.5/24', interface: 0 }] } };
  const add = run(host.name, 'dns-hosts.cjs', [], env('ADD'), conf);
  t.equal(add.status, 0, add.stdout + add.stderr);
  t.same(dig(ctr.name, 'nodesvc').answers, ['10.232.0.5'], 'the Node resolver answers');
  const dir = netnsStateDirs(host.name).find((d) => d.includes('/dns-hosts/'))!;
  const pid = Number(readFileSync(join(dir, 'resolver.pid'), 'utf8'));
  t.teardown(() => { try { if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('--resolver=')) process.kill(pid, 'SIGKILL'); } catch { /* gone, as it should be */ } });
  t.match(readFileSync(`/proc/${pid}/cmdline`, 'utf8'), /node/, 'it runs under Node');
  t.equal(run(host.name, 'dns-hosts.cjs', [], env('DEL'), conf).status, 0);
  let gone = false;
  for (let i = 0; i < 50 && !gone; i++) {
    gone = !existsSync(`/proc/${pid}`) || readFileSync(`/proc/${pid}/stat`, 'utf8').split(' ')[2] === 'Z';
    if (!gone) await new Promise((r) => setTimeout(r, 100));
  }
  t.ok(gone, 'the resolver has left within 5 s of its last record going');
});
