// host-local through the built executable, in a host netns of the test's own, with a data dir
// of the test's own; the reference binary from /usr/lib/cni shares the store.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { BIN, REFERENCE_BIN, cni, makeNetns } from '../helpers/netns.ts';

function setup(t: Test, ipam: Record<string, unknown>, cniVersion = '1.0.0', name = 'net1') {
  const host = makeNetns(t, 'cnits-host');
  const dataDir = mkdtempSync(join(tmpdir(), 'cnits-hl-'));
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  const config = { cniVersion, name, type: 'host-local', ipam: { type: 'host-local', dataDir, ...ipam } };
  const call = (command: string, containerId: string, extra: Partial<Parameters<typeof cni>[1]> = {}) =>
    cni('host-local', { host: host.name, command, config, containerId, netns: '/var/run/netns/unused', ifname: 'eth0', ...extra });
  const dir = join(dataDir, name);
  const files = () => (existsSync(dir) ? readdirSync(dir).sort() : []);
  const leases = () => files().filter((f) => f !== 'lock' && !f.startsWith('last_reserved_ip.'));
  return { host, dataDir, dir, config, call, files, leases };
}

const addr = (r: { json: any }, i = 0): string => r.json.ips[i].address.split('/')[0];

/** Start a plugin process without waiting (concurrency and kill tests). */
function start(host: string, bin: string, env: Record<string, string>, input: string) {
  const p = spawn('ip', ['netns', 'exec', host, bin], { env: { PATH: process.env.PATH!, ...env } });
  let out = '';
  p.stdout.on('data', (d) => { out += d; });
  p.stdin.end(input);
  const done = new Promise<{ code: number | null; out: string }>((res) => p.on('close', (code) => res({ code, out })));
  return { p, done };
}

t.test('allocation, idempotent ADD, routes, dns, DEL', async (t) => {
  const s = setup(t, { ranges: [[{ subnet: '10.20.0.0/24' }], [{ subnet: 'fd20::/64' }]], routes: [{ dst: '0.0.0.0/0' }, { dst: '10.30.0.0/16', gw: '10.20.0.9' }] });
  const a = s.call('ADD', 'c1');
  t.equal(a.status, 0, a.stdout);
  t.same(a.json.ips, [{ address: '10.20.0.2/24', gateway: '10.20.0.1' }, { address: 'fd20::2/64', gateway: 'fd20::1' }]);
  t.same(a.json.routes, [{ dst: '0.0.0.0/0' }, { dst: '10.30.0.0/16', gw: '10.20.0.9' }]);
  t.equal(readFileSync(join(s.dir, '10.20.0.2'), 'utf8'), 'c1\r\neth0', 'lease file as the reference writes it');
  t.equal(readFileSync(join(s.dir, 'last_reserved_ip.0'), 'utf8'), '10.20.0.2');
  t.equal(readFileSync(join(s.dir, 'last_reserved_ip.1'), 'utf8'), 'fd20::2');
  const again = s.call('ADD', 'c1');
  t.same(again.json.ips, a.json.ips, 'same attachment, same addresses');
  t.same(s.leases(), ['10.20.0.2', 'fd20::2'], 'no second lease');
  t.equal(s.call('CHECK', 'c1').status, 0);
  t.equal(s.call('CHECK', 'c9').status, 1, 'CHECK of an unknown container fails');
  // with a previous result: its addresses' leases are read directly
  const withPrev = (ips: string[]) => ({ config: { ...s.config, prevResult: { cniVersion: '1.0.0', ips: ips.map((address) => ({ address })) } } });
  t.equal(s.call('CHECK', 'c1', withPrev(['10.20.0.2/24', 'fd20::2/64', '192.0.2.9/24'])).status, 0, 'CHECK of held addresses (one outside every range: not ours to check)');
  const notHeld = s.call('CHECK', 'c1', withPrev(['10.20.0.2/24', '10.20.0.7/24']));
  t.equal(notHeld.json.code, 100);
  t.match(notHeld.json.msg, 'address 10.20.0.7 of the previous result is not allocated to container c1');
  const other = s.call('CHECK', 'c9', withPrev(['10.20.0.2/24']));
  t.match(other.json.msg, 'no address is allocated to container c9', "another container's lease is not this one's");
  t.equal(s.call('DEL', 'c1').status, 0);
  t.same(s.files(), ['last_reserved_ip.0', 'last_reserved_ip.1', 'lock']);
  t.equal(s.call('DEL', 'c1').status, 0, 'DEL again');
  t.equal(s.call('DEL', 'never').status, 0, 'DEL of an unknown container');
});

t.test('resolvConf (and nerdctl\'s resolveConf) fills dns', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cnits-resolv-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'resolv.conf'), '# x\nnameserver 10.0.0.53\nnameserver fd00::53\nsearch a.example b.example\noptions ndots:2\ndomain example\n');
  for (const key of ['resolvConf', 'resolveConf']) {
    const s = setup(t, { subnet: '10.21.0.0/24', [key]: join(dir, 'resolv.conf') });
    const r = s.call('ADD', 'c1');
    t.same(r.json.dns, { nameservers: ['10.0.0.53', 'fd00::53'], domain: 'example', search: ['a.example', 'b.example'], options: ['ndots:2'] }, key);
  }
});

t.test('Docker controls: ipRange, reserved addresses, gateway, legacy single range', async (t) => {
  const s = setup(t, { ranges: [[{ subnet: '10.22.0.0/24', ipRange: '10.22.0.128/30', gateway: '10.22.0.129', reserved: ['10.22.0.130', 'aux=10.22.0.131'] }]] });
  const got = ['a', 'b'].map((id) => s.call('ADD', id));
  t.equal(addr(got[0]!), '10.22.0.128', 'first of the ip range');
  t.equal(got[0]!.json.ips[0].gateway, '10.22.0.129');
  t.equal(got[1]!.status, 1, 'gateway and reserved addresses are skipped: the pool is exhausted');
  t.equal(got[1]!.json.code, 102);
  const legacy = setup(t, { subnet: '10.23.0.0/24', rangeStart: '10.23.0.50', rangeEnd: '10.23.0.51' });
  t.equal(addr(legacy.call('ADD', 'a')), '10.23.0.50');
  t.equal(addr(legacy.call('ADD', 'b')), '10.23.0.51');
});

t.test('static addresses: ips capability, CNI_ARGS IP=, args.cni.ips; clear errors', async (t) => {
  const s = setup(t, { ranges: [[{ subnet: '10.24.0.0/24' }], [{ subnet: 'fd24::/64' }]] });
  const cap = s.call('ADD', 'c1', { config: { ...s.config, runtimeConfig: { ips: ['10.24.0.77/24', 'fd24::77'] } } });
  t.same(cap.json.ips.map((i: any) => i.address), ['10.24.0.77/24', 'fd24::77/64']);
  const arg = s.call('ADD', 'c2', { args: 'IgnoreUnknown=1;IP=10.24.0.78' });
  t.equal(addr(arg), '10.24.0.78');
  const cfg = s.call('ADD', 'c3', { config: { ...s.config, args: { cni: { ips: ['10.24.0.79'] } } } });
  t.equal(addr(cfg), '10.24.0.79');
  const held = s.call('ADD', 'c4', { args: 'IP=10.24.0.77' });
  t.equal(held.json.code, 101);
  t.match(held.json.msg, /10\.24\.0\.77 is already held by container c1/);
  const outside = s.call('ADD', 'c5', { args: 'IP=10.99.0.5' });
  t.equal(outside.json.code, 101);
  t.match(outside.json.msg, /10\.99\.0\.5 is outside every range/);
  const gw = s.call('ADD', 'c6', { args: 'IP=10.24.0.1' });
  t.match(gw.json.msg, /gateway/);
  t.same(s.leases(), ['10.24.0.77', '10.24.0.78', '10.24.0.79', 'fd24::77', 'fd24::78', 'fd24::79'], 'failed ADDs rolled back every lease they took');
});

t.test('exhausting a /29: clear error, STATUS 50', async (t) => {
  const s = setup(t, { ranges: [[{ subnet: '10.25.0.0/29' }]] }, '1.1.0');
  for (let i = 0; i < 5; i++) t.equal(s.call('ADD', `c${i}`).status, 0);
  const st0 = s.call('STATUS', '');
  t.equal(st0.status, 1);
  t.equal(st0.json.code, 50);
  const full = s.call('ADD', 'c5');
  t.equal(full.json.code, 102);
  t.match(full.json.msg, 'no addresses left in range set 10.25.0.0/29');
  t.equal(s.call('DEL', 'c2').status, 0);
  const st1 = s.call('STATUS', '');
  t.equal(st1.status, 0, 'STATUS passes once an address is free');
  t.equal(st1.stdout, '');
});

t.test('GC releases exactly the attachments not listed', async (t) => {
  const s = setup(t, { ranges: [[{ subnet: '10.26.0.0/24' }]] }, '1.1.0');
  const ips = ['a', 'b', 'c', 'd'].map((id) => addr(s.call('ADD', id)));
  const gc = s.call('GC', '', { config: { ...s.config, 'cni.dev/valid-attachments': [{ containerID: 'a', ifname: 'eth0' }, { containerID: 'c', ifname: 'eth0' }] } });
  t.equal(gc.status, 0, gc.stdout);
  t.same(s.leases(), [ips[0], ips[2]].sort());
});

t.test('hostile names are refused before any file is touched', async (t) => {
  const s = setup(t, { ranges: [[{ subnet: '10.27.0.0/24' }]] });
  const badNet = s.call('ADD', 'c1', { config: { ...s.config, name: '../escape' } });
  t.equal(badNet.json.code, 7);
  const badId = s.call('ADD', '../../etc');
  t.equal(badId.json.code, 4);
  const badIf = s.call('ADD', 'c1', { ifname: '../x' });
  t.equal(badIf.json.code, 4);
  const longNet = s.call('ADD', 'c1', { config: { ...s.config, name: 'n'.repeat(300) } });
  t.equal(longNet.json.code, 7);
  t.same(readdirSync(s.dataDir), [], 'data dir untouched');
});

t.test('bad config names the field', async (t) => {
  const s = setup(t, { ranges: [[{ subnet: '10.28.0.0/24', rangeStart: '10.29.0.5' }]] });
  const r = s.call('ADD', 'c1');
  t.equal(r.json.code, 7);
  t.match(r.json.msg, 'ipam.ranges[0][0].rangeStart');
  const bad = s.call('ADD', 'c1', { config: { ...s.config, ipam: { type: 'host-local', dataDir: s.dataDir, ranges: [[{ subnet: '10.28.0.0' }]] } } });
  t.match(bad.json.msg, 'ipam.ranges[0][0].subnet must be a CIDR');
  const overlap = s.call('ADD', 'c1', { config: { ...s.config, ipam: { type: 'host-local', dataDir: s.dataDir, ranges: [[{ subnet: '10.28.0.0/24' }], [{ subnet: '10.28.0.0/25' }]] } } });
  t.match(overlap.json.msg, 'overlaps');
});

t.test('interleaved with the reference host-local: no address twice, DEL by either', async (t) => {
  const s = setup(t, { ranges: [[{ subnet: '10.30.0.0/24' }]] });
  const ref = (command: string, id: string) => cni('host-local', { host: s.host.name, command, config: s.config, containerId: id, netns: '/x', ifname: 'eth0', bin: REFERENCE_BIN });
  const seen = new Map<string, string>();
  const take = (who: string, r: ReturnType<typeof ref>) => {
    t.equal(r.status, 0, `${who}: ${r.stdout}`);
    const ip = addr(r);
    t.notOk(seen.has(ip), `${ip} handed out once (${who})`);
    seen.set(ip, who);
  };
  take('ref-1', ref('ADD', 'r1'));
  take('ours-1', s.call('ADD', 'o1'));
  take('ref-2', ref('ADD', 'r2'));
  take('ours-2', s.call('ADD', 'o2'));
  t.equal(s.call('DEL', 'r1').status, 0, 'ours releases the reference\'s lease');
  t.equal(ref('DEL', 'o1').status, 0, 'the reference releases ours');
  t.same(s.leases().length, 2);
  t.ok(!s.leases().includes([...seen.keys()][0]!) && !s.leases().includes([...seen.keys()][1]!));
  take('ref-3', ref('ADD', 'r3'));
  take('ours-3', s.call('ADD', 'o3'));
  for (const id of ['r2', 'o3']) t.equal(ref('DEL', id).status, 0);
  for (const id of ['o2', 'r3']) t.equal(s.call('DEL', id).status, 0);
  t.same(s.files(), ['last_reserved_ip.0', 'lock']);
});

t.test('100 concurrent ADDs get 100 distinct addresses; 100 DELs leave only lock and last_reserved_ip', async (t) => {
  const s = setup(t, { ranges: [[{ subnet: '10.31.0.0/24' }]] });
  const env = (cmd: string, i: number) => ({ CNI_COMMAND: cmd, CNI_CONTAINERID: `ctr${i}`, CNI_NETNS: '/x', CNI_IFNAME: 'eth0', CNI_PATH: BIN });
  const input = JSON.stringify(s.config);
  const adds = await Promise.all(Array.from({ length: 100 }, (_, i) => start(s.host.name, join(BIN, 'host-local'), env('ADD', i), input).done));
  t.ok(adds.every((a) => a.code === 0), 'every ADD succeeded');
  const ips = adds.map((a) => JSON.parse(a.out).ips[0].address);
  t.equal(new Set(ips).size, 100, '100 distinct addresses');
  t.equal(s.leases().length, 100);
  const dels = await Promise.all(Array.from({ length: 100 }, (_, i) => start(s.host.name, join(BIN, 'host-local'), env('DEL', i), input).done));
  t.ok(dels.every((d) => d.code === 0), 'every DEL succeeded');
  t.same(s.files(), ['last_reserved_ip.0', 'lock']);
});

t.test('SIGKILL at random moments during ADD never breaks the store', async (t) => {
  const s = setup(t, { ranges: [[{ subnet: '10.32.0.0/24' }]] });
  const input = JSON.stringify(s.config);
  const env = (cmd: string, i: number) => ({ CNI_COMMAND: cmd, CNI_CONTAINERID: `k${i}`, CNI_NETNS: '/x', CNI_IFNAME: 'eth0', CNI_PATH: BIN });
  let killed = 0;
  for (let i = 0; i < 50; i++) {
    const run = start(s.host.name, join(BIN, 'host-local'), env('ADD', i), input);
    await new Promise((r) => setTimeout(r, 2 + Math.random() * 25));
    if (run.p.kill('SIGKILL')) killed++;
    await run.done;
  }
  t.ok(killed > 0, `${killed} of 50 killed mid-run`);
  for (const lease of s.leases()) t.match(readFileSync(join(s.dir, lease), 'utf8'), /^k\d+\r\neth0$/, `lease ${lease} is whole`);
  for (let i = 0; i < 50; i++) t.equal(cni('host-local', { host: s.host.name, command: 'DEL', config: s.config, containerId: `k${i}`, netns: '', ifname: 'eth0' }).status, 0);
  t.same(s.files().filter((f) => f !== 'lock' && !f.startsWith('last_reserved_ip.')), [], 'store empty');
  const after = s.call('ADD', 'fresh');
  t.equal(after.status, 0, 'the next ADD works');
  t.same(readdirSync(join(s.dataDir, '.cni-ts/net1/tmp')), [], 'no temporaries left');
});
