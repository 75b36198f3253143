// What real runtimes send, and nothing left behind (issue 10): Go's key matching (containerd's
// CRI and go-cni marshal structs without JSON tags), DEL that cleans up past config it does not
// need, ADDs that fail leaving nothing, shared isolation elements, long names, each plugin
// removing only its own elements, and CNI_IFNAME=lo.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { Chain, type Conflist } from '../helpers/chain.ts';
import { BIN, ROOT, cni, ipIn, ipJson, makeNetns, nftElements, tempDir } from '../helpers/netns.ts';
import { ask, hostWithOutside, serve } from '../helpers/topology.ts';

const CNICTL = join(ROOT, 'build/cnictl');
const FIXTURES = join(ROOT, '../shared/runtime-bytes/containerd-cri');

const tmp = (t: Test): string => tempDir(t, 'cnits-in-');

const links = (ns: string): string[] => ipJson(ns, 'link', 'show').map((l: any) => l.ifname);
const leases = (dir: string, net: string): string[] =>
  (existsSync(join(dir, net)) ? readdirSync(join(dir, net)).filter((f) => f !== 'lock' && !f.startsWith('last_reserved_ip') && !f.startsWith('.')) : []);

const chainList = (d: string, name = 'rt-net', bridge = 'cnits-rt'): Conflist => ({
  cniVersion: '1.0.0', name,
  plugins: [
    { type: 'bridge', bridge, isGateway: true, ipMasq: true, hairpinMode: true, ipam: { type: 'host-local', dataDir: join(d, 'ipam'), ranges: [[{ subnet: '10.86.0.0/24' }]], routes: [{ dst: '0.0.0.0/0' }] } },
    { type: 'portmap', capabilities: { portMappings: true } },
    { type: 'firewall', ingressPolicy: 'same-bridge' },
    { type: 'tuning', dataDir: join(d, 'tuning') },
  ],
});

function cnictl(host: string, dir: string, op: string, network: string, netns: string, id: string, capArgs: unknown) {
  return spawnSync('ip', ['netns', 'exec', host, CNICTL, op, network, netns], {
    encoding: 'utf8',
    env: {
      PATH: process.env.PATH!, NETCONFPATH: dir, CNI_PATH: BIN, CNI_CACHE_DIR: join(dir, 'cache'), CNI_CONTAINERID: id,
      CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web', CAP_ARGS: JSON.stringify(capArgs),
    },
  });
}

t.test("libcni with containerd's Go field names (HostPort, ContainerPort, Protocol, HostIP) publishes, DEL cleans up", async (t) => {
  const { host, outside } = hostWithOutside(t);
  const d = tmp(t);
  writeFileSync(join(d, '10-rt.conflist'), JSON.stringify(chainList(d)));
  const ctr = makeNetns(t, 'cnits-ctr');
  const caps = { portMappings: [{ HostPort: 18080, ContainerPort: 80, Protocol: 'tcp', HostIP: '' }] };
  const add = cnictl(host.name, d, 'add', 'rt-net', ctr.path, 'gocase1', caps);
  t.equal(add.status, 0, add.stderr);
  await serve(t, ctr.name, 'tcp', 80);
  t.equal(ask(outside.name, 'tcp', '192.0.2.1', 18080), '192.0.2.2', 'the port is published');
  t.ok(nftElements(host.name).some((e) => e.set === 'pm4' && e.key === 'tcp . 18080'), 'pm4 holds tcp . 18080');
  const del = cnictl(host.name, d, 'del', 'rt-net', ctr.path, 'gocase1', caps);
  t.equal(del.status, 0, del.stderr);
  t.same(nftElements(host.name).filter((e) => /id=gocase1$/.test(e.comment ?? '')), [], 'no element left');
  t.same(leases(join(d, 'ipam'), 'rt-net'), [], 'no lease left');
  t.notOk(links(ctr.name).includes('eth0'), 'no interface left');
});

t.test("ipRanges capability with go-cni's field names (Subnet, RangeStart, RangeEnd, Gateway)", async (t) => {
  const { host } = hostWithOutside(t);
  const d = tmp(t);
  const list: Conflist = {
    cniVersion: '1.0.0', name: 'rt-ranges',
    plugins: [{ type: 'bridge', bridge: 'cnits-rr', isGateway: true, capabilities: { ipRanges: true }, ipam: { type: 'host-local', dataDir: join(d, 'ipam') } }],
  };
  writeFileSync(join(d, '10-rr.conflist'), JSON.stringify(list));
  const ctr = makeNetns(t, 'cnits-ctr');
  const caps = { ipRanges: [[{ Subnet: '10.87.0.0/24', RangeStart: '10.87.0.50', RangeEnd: '10.87.0.60', Gateway: '10.87.0.1' }]] };
  const add = cnictl(host.name, d, 'add', 'rt-ranges', ctr.path, 'ranges1', caps);
  t.equal(add.status, 0, add.stderr);
  const r = JSON.parse(add.stdout);
  t.equal(r.ips[0].address, '10.87.0.50/24', 'the runtime range, from its RangeStart');
  t.equal(r.ips[0].gateway, '10.87.0.1');
  t.ok(ipJson(ctr.name, 'addr', 'show', 'eth0')[0].addr_info.some((a: any) => a.local === '10.87.0.50'), 'on the interface');
  const del = cnictl(host.name, d, 'del', 'rt-ranges', ctr.path, 'ranges1', caps);
  t.equal(del.status, 0, del.stderr);
  t.same(leases(join(d, 'ipam'), 'rt-ranges'), []);
});

t.test('containerd CRI bytes replayed: the recorded stdin of every plugin, ADD then its three DELs', async (t) => {
  const { host, outside } = hostWithOutside(t);
  const d = tmp(t);
  const ctr = makeNetns(t, 'cnits-ctr');
  const envOf = (name: string) => Object.fromEntries(readFileSync(join(FIXTURES, `${name}.env`), 'utf8').split('\n').filter((l) => /^CNI_/.test(l)).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  const id = envOf('portmap-ADD').CNI_CONTAINERID!;
  const args = envOf('portmap-ADD').CNI_ARGS!;
  // the recorded bytes, but for this test's netns path, its own prevResult and a private dataDir
  const stdinOf = (name: string, prev: unknown): string => {
    const conf = JSON.parse(readFileSync(join(FIXTURES, `${name}.stdin`), 'utf8').replaceAll(/<acc_tmp>[^"]*/g, ctr.path));
    if (conf.prevResult) conf.prevResult = prev;
    if (conf.ipam) conf.ipam.dataDir = join(d, 'ipam');
    if (conf.type === 'tuning') conf.dataDir = join(d, 'tuning');
    return JSON.stringify(conf);
  };
  const call = (plugin: string, command: string, name: string, prev: unknown, netns = ctr.path) =>
    cni(plugin, { host: host.name, command, config: undefined, stdin: stdinOf(name, prev), containerId: id, netns, ifname: 'eth0', args });
  let prev: unknown;
  for (const p of ['bridge', 'portmap', 'firewall', 'tuning']) {
    const r = call(p, 'ADD', p === 'portmap' ? 'portmap-ADD' : `${p}-ADD`, prev);
    t.equal(r.status, 0, `${p} ADD: ${r.stdout}`);
    prev = r.json;
  }
  t.match(readFileSync(join(FIXTURES, 'portmap-ADD.stdin'), 'utf8'), /"HostPort":18080/, 'the fixture has the Go-cased keys');
  await serve(t, ctr.name, 'tcp', 80);
  t.equal(ask(outside.name, 'tcp', '192.0.2.1', 18080), '192.0.2.2', 'hostPort 18080 published');
  for (const [suffix, netns] of [['DEL', ctr.path], ['DEL-nonetns', ''], ['DEL-nonetns', '']] as const) {
    for (const p of ['tuning', 'firewall', 'portmap', 'bridge']) {
      const r = call(p, 'DEL', `${p}-${suffix}`, prev, netns);
      t.equal(r.status, 0, `${p} ${suffix}: ${r.stdout}`);
    }
  }
  t.same(nftElements(host.name).filter((e) => e.comment?.includes(`id=${id.slice(0, 32)}`)), [], 'no element left');
  t.same(leases(join(d, 'ipam'), 'k8s-pod-network'), [], 'no lease left');
  t.notOk(links(ctr.name).includes('eth0'));
});

t.test('prevResult written with Go field names is read as Go reads it', async (t) => {
  const { host } = hostWithOutside(t);
  const ctr = makeNetns(t, 'cnits-ctr');
  const prevResult = { CNIVersion: '1.0.0', Interfaces: [{ Name: 'eth0', Sandbox: ctr.path }], IPs: [{ Interface: 0, Address: '10.88.5.7/24' }] };
  const r = cni('firewall', { host: host.name, command: 'ADD', config: { cniVersion: '1.0.0', name: 'gonet', type: 'firewall', prevResult }, containerId: 'goprev', netns: ctr.path, ifname: 'eth0' });
  t.equal(r.status, 0, r.stdout);
  t.same(r.json.ips, [{ interface: 0, address: '10.88.5.7/24' }]);
  t.ok(nftElements(host.name).some((e) => e.set === 'fw_accept4' && e.key === '10.88.5.7'));
  const del = cni('firewall', { host: host.name, command: 'DEL', config: { cniVersion: '1.0.0', name: 'gonet', type: 'firewall', prevResult }, containerId: 'goprev', netns: ctr.path, ifname: 'eth0' });
  t.equal(del.status, 0, del.stdout);
  t.same(nftElements(host.name).filter((e) => e.comment === 'net=gonet id=goprev'), []);
});

t.test('DEL cleans up past invalid config it does not need', async (t) => {
  const { host } = hostWithOutside(t);
  const d = tmp(t);
  const ctr = makeNetns(t, 'cnits-ctr');
  const list = chainList(d);
  Object.assign(list.plugins[3]!, { mtu: 1400 });   // tuning with something to set, save and undo
  const c = new Chain(list, { host: host.name, containerId: 'lenient1', netns: ctr.path, runtimeConfig: { portMappings: [{ hostPort: 8093, containerPort: 80, protocol: 'udp' }] } });
  t.equal(c.add().status, 0);
  t.ok(nftElements(host.name).some((e) => e.set === 'pm4' && e.comment === 'net=rt-net id=lenient1'));
  t.equal(readdirSync(join(d, 'tuning')).filter((f) => f !== '.tmp').length, 1, "tuning saved the interface's settings");
  // the same DELs with fields broken that finding and removing the attachment does not need
  const broken = structuredClone(list);
  Object.assign(broken.plugins[0]!, { mtu: -1, hairpinMode: 'yes' });
  Object.assign(broken.plugins[0]!.ipam, { ranges: [[{ subnet: 'not-a-cidr' }]] });
  Object.assign(broken.plugins[3]!, { mtu: 'big' });
  const bad = new Chain(broken, { host: host.name, containerId: 'lenient1', netns: ctr.path, runtimeConfig: { portMappings: [{ hostPort: 'eighty', containerPort: 80, protocol: 'udp' }] } });
  bad.cached = c.cached;
  t.same(bad.del().map((x) => [x.status, x.stdout]), [[0, ''], [0, ''], [0, ''], [0, '']], 'every DEL succeeds');
  t.same(nftElements(host.name).filter((e) => e.comment === 'net=rt-net id=lenient1'), [], 'no element left');
  t.same(leases(join(d, 'ipam'), 'rt-net'), [], 'the lease is released');
  t.notOk(links(ctr.name).includes('eth0'), 'the veth is gone');
  t.same(readdirSync(join(d, 'tuning')).filter((f) => f !== '.tmp'), [], "tuning's saved state is gone");
  // a required field that is wrong still fails, with its name
  const noType = cni('portmap', { host: host.name, command: 'DEL', config: { cniVersion: '1.0.0', name: 'rt-net', type: 5 }, containerId: 'lenient1', netns: ctr.path, ifname: 'eth0' });
  t.equal(noType.json?.code, 6);
  t.match(noType.json?.msg, /type/);
});

t.test('a failed bridge ADD leaves no bridge: bad subnet, unknown IPAM type, static IP outside the range, IPAM failing late', async (t) => {
  const { host } = hostWithOutside(t);
  const d = tmp(t);
  const ctr = makeNetns(t, 'cnits-ctr');
  // an IPAM plugin that is found but fails: the bridge exists by then, and must go again
  const bin = join(d, 'bin');
  spawnSync('mkdir', ['-p', bin]);
  writeFileSync(join(bin, 'failing-ipam'), '#!/bin/sh\necho \'{"cniVersion":"1.0.0","code":11,"msg":"no lease today"}\'\nexit 1\n');
  chmodSync(join(bin, 'failing-ipam'), 0o755);
  const base = { cniVersion: '1.0.0', name: 'failnet', type: 'bridge', bridge: 'cnits-fail', isGateway: true };
  const cases: [string, Record<string, unknown>, string | undefined, number][] = [
    ['bad subnet', { type: 'host-local', dataDir: d, ranges: [[{ subnet: '10.9.0.0/33' }]] }, undefined, 7],
    ['unknown IPAM type', { type: 'no-such-ipam' }, undefined, 7],
    ['static IP outside the range', { type: 'host-local', dataDir: d, ranges: [[{ subnet: '10.9.0.0/24' }]] }, 'IgnoreUnknown=1;IP=10.99.0.5', 101],
    ['static IP is the gateway', { type: 'host-local', dataDir: d, ranges: [[{ subnet: '10.9.0.0/24' }]] }, 'IgnoreUnknown=1;IP=10.9.0.1', 101],
    ['IPAM fails after the bridge exists', { type: 'failing-ipam' }, undefined, 11],
  ];
  for (const [what, ipam, args, code] of cases) {
    const r = cni('bridge', { host: host.name, command: 'ADD', config: { ...base, ipam }, containerId: 'fail1', netns: ctr.path, ifname: 'eth0', path: `${BIN}:${bin}`, ...(args ? { args } : {}) });
    t.equal(r.json?.code, code, `${what}: ${r.stdout}`);
    t.notOk(links(host.name).includes('cnits-fail'), `${what}: no bridge left`);
    t.same(links(ctr.name), ['lo'], `${what}: nothing in the container`);
  }
});

t.test('a result that cannot be given in the config version is undone: tuning and macvlan leave nothing', async (t) => {
  const { host } = hostWithOutside(t);
  const d = tmp(t);
  const ctr = makeNetns(t, 'cnits-ctr');
  ipIn(ctr.name, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'peer0');
  const mtuBefore = ipJson(ctr.name, 'link', 'show', 'eth0')[0].mtu;
  for (const v of ['0.1.0', '']) {
    const r = cni('tuning', {
      host: host.name, command: 'ADD', containerId: 'ver1', netns: ctr.path, ifname: 'eth0',
      config: { cniVersion: v, name: 'vnet', type: 'tuning', mtu: 1280, promisc: true, dataDir: join(d, 'tuning'), prevResult: {} },
    });
    t.equal(r.json?.code, 1, `tuning at "${v}": ${r.stdout}`);
    t.equal(ipJson(ctr.name, 'link', 'show', 'eth0')[0].mtu, mtuBefore, 'MTU unchanged');
    t.notOk(ipJson(ctr.name, 'link', 'show', 'eth0')[0].flags.includes('PROMISC'), 'not promiscuous');
    t.notOk(existsSync(join(d, 'tuning')) && readdirSync(join(d, 'tuning')).filter((f) => f !== '.tmp').length, 'no saved state');
  }
  const m = cni('macvlan', { host: host.name, command: 'ADD', containerId: 'ver2', netns: ctr.path, ifname: 'mv0', config: { cniVersion: '0.1.0', name: 'vnet', type: 'macvlan', master: 'uplink' } });
  t.equal(m.json?.code, 1, `macvlan at 0.1.0 without addresses: ${m.stdout}`);
  t.notOk(links(ctr.name).includes('mv0'), 'no macvlan link left');
});

t.test("a bridge's isolation elements go with its last member, however DELs interleave; malformed prevResult refused", async (t) => {
  const { host } = hostWithOutside(t);
  const d = tmp(t);
  const list: Conflist = {
    cniVersion: '1.0.0', name: 'iso-net',
    plugins: [
      { type: 'bridge', bridge: 'cnits-iso', isGateway: true, ipam: { type: 'host-local', dataDir: d, ranges: [[{ subnet: '10.91.0.0/24' }]] } },
      { type: 'firewall', ingressPolicy: 'same-bridge' },
    ],
  };
  const chains = ['a', 'b'].map((id) => new Chain(list, { host: host.name, containerId: `iso-${id}`, netns: makeNetns(t, 'cnits-ctr').path }));
  for (const c of chains) t.equal(c.add().status, 0);
  const iso = () => nftElements(host.name).filter((e) => e.set === 'iso_bridges' || e.set === 'iso_same').map((e) => e.key);
  t.same(iso().sort(), ['"cnits-iso"', '"cnits-iso" . "cnits-iso"']);
  // both firewall DELs first (each still sees the other's veth on the bridge), then the bridges
  const fw = (c: Chain) => cni('firewall', { host: host.name, command: 'DEL', config: { ...list.plugins[1], cniVersion: '1.0.0', name: 'iso-net', prevResult: c.cached }, containerId: c.call.containerId, netns: c.call.netns, ifname: 'eth0' });
  t.equal(fw(chains[0]!).status, 0);
  t.same(iso().length, 2, 'kept while a member is left');
  t.equal(fw(chains[1]!).status, 0);
  t.same(iso(), [], 'gone with the last member');
  for (const c of chains) t.equal(cni('bridge', { host: host.name, command: 'DEL', config: { ...list.plugins[0], cniVersion: '1.0.0', name: 'iso-net' }, containerId: c.call.containerId, netns: c.call.netns, ifname: 'eth0' }).status, 0);

  const bad = cni('firewall', {
    host: host.name, command: 'ADD', containerId: 'iso-c', netns: chains[0]!.call.netns, ifname: 'eth0',
    config: { cniVersion: '1.0.0', name: 'iso-net', type: 'firewall', ingressPolicy: 'same-bridge', prevResult: { cniVersion: '1.0.0', interfaces: [{ name: 'cnits-iso' }, 'eth0', { name: 7 }], ips: [{ address: '10.91.0.9/24', interface: 1 }] } },
  });
  t.equal(bad.json?.code, 7, bad.stdout);
  t.match(bad.json?.msg, /prevResult\.interfaces\[1\]/);
  t.same(iso(), [], 'nothing added');
});

t.test('long network names and container IDs work end to end (nft comments stay within 128 characters)', async (t) => {
  const { host, outside } = hostWithOutside(t);
  const d = tmp(t);
  const name = `long-${'n'.repeat(195)}`;
  const ids = ['f'.repeat(64), `c${'0123456789'.repeat(20)}`];
  for (const id of ids) {
    const ctr = makeNetns(t, 'cnits-ctr');
    const c = new Chain(chainList(d, name, 'cnits-long'), { host: host.name, containerId: id, netns: ctr.path, runtimeConfig: { portMappings: [{ hostPort: 8094, containerPort: 80, protocol: 'tcp' }] } });
    const r = c.add();
    t.equal(r.status, 0, r.stdout);
    const mine = nftElements(host.name).filter((e) => e.comment?.startsWith(`net=${name.slice(0, 32)} id=${id.slice(0, 32)} sha256=`));
    t.ok(mine.some((e) => e.set === 'pm4') && mine.some((e) => e.set === 'masq_src4') && mine.some((e) => e.set === 'fw_accept4'), 'every plugin tagged its elements');
    t.ok(mine.every((e) => e.comment!.length <= 128));
    await serve(t, ctr.name, 'tcp', 80);
    t.equal(ask(outside.name, 'tcp', '192.0.2.1', 8094), '192.0.2.2', 'published');
    t.same(c.del().map((x) => x.status), [0, 0, 0, 0]);
    t.same(nftElements(host.name).filter((e) => e.comment?.includes('sha256=')), [], 'all removed');
  }
});

t.test("each plugin's DEL removes only its own elements", async (t) => {
  const { host } = hostWithOutside(t);
  const d = tmp(t);
  const ctr = makeNetns(t, 'cnits-ctr');
  const list = chainList(d);
  const c = new Chain(list, { host: host.name, containerId: 'own1', netns: ctr.path, runtimeConfig: { portMappings: [{ hostPort: 8095, containerPort: 80, protocol: 'tcp' }] } });
  t.equal(c.add().status, 0);
  const sets = () => new Set(nftElements(host.name).filter((e) => e.comment === 'net=rt-net id=own1').map((e) => e.set));
  const del = (i: number) => cni(list.plugins[i]!.type, { host: host.name, command: 'DEL', config: { ...list.plugins[i], cniVersion: '1.0.0', name: 'rt-net', prevResult: c.cached, runtimeConfig: { portMappings: [{ hostPort: 8095, containerPort: 80, protocol: 'tcp' }] } }, containerId: 'own1', netns: ctr.path, ifname: 'eth0' });
  t.equal(del(2).status, 0, 'firewall DEL');
  let s = sets();
  t.ok(s.has('masq_src4') && s.has('pm4') && !s.has('fw_accept4'), `after firewall DEL: ${[...s]}`);
  t.equal(del(1).status, 0, 'portmap DEL');
  s = sets();
  t.ok(s.has('masq_src4') && s.has('masq_skip4') && !s.has('pm4') && !s.has('pm_hairpin4'), `after portmap DEL: ${[...s]}`);
  t.equal(del(0).status, 0, 'bridge DEL');
  t.same([...sets()], []);
});

t.test('CNI_IFNAME=lo: bridge ADD refuses it, DEL succeeds and leaves lo alone', async (t) => {
  const { host } = hostWithOutside(t);
  const d = tmp(t);
  const ctr = makeNetns(t, 'cnits-ctr');
  const config = { cniVersion: '1.0.0', name: 'lonet', type: 'bridge', bridge: 'cnits-lo', ipam: { type: 'host-local', dataDir: d, ranges: [[{ subnet: '10.92.0.0/24' }]] } };
  const add = cni('bridge', { host: host.name, command: 'ADD', config, containerId: 'lo1', netns: ctr.path, ifname: 'lo' });
  t.equal(add.json?.code, 4, add.stdout);
  t.match(add.json?.msg, /CNI_IFNAME/);
  t.notOk(links(host.name).includes('cnits-lo'), 'no bridge made');
  const del = cni('bridge', { host: host.name, command: 'DEL', config, containerId: 'lo1', netns: ctr.path, ifname: 'lo' });
  t.equal(del.status, 0, del.stdout);
  t.ok(ipJson(ctr.name, 'link', 'show', 'lo')[0].flags.includes('UP'), 'lo still up');
});

t.test("a killed tuning ADD's temporary file is swept by the next call (only dead writers')", async (t) => {
  const { host } = hostWithOutside(t);
  const d = tmp(t);
  const ctr = makeNetns(t, 'cnits-ctr');
  ipIn(ctr.name, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'p0');
  const tmpDir = join(d, 'tuning', '.tmp');
  spawnSync('mkdir', ['-p', tmpDir]);
  const dead = '.tmp-4194303-x-0', alive = `.tmp-${process.pid}-x-0`;   // pid_max is below 4194304
  for (const f of [dead, alive]) writeFileSync(join(tmpDir, f), '{}');
  const prevResult = { cniVersion: '1.0.0', interfaces: [{ name: 'eth0', sandbox: ctr.path }], ips: [{ interface: 0, address: '10.99.1.2/24' }] };
  const r = cni('tuning', { host: host.name, command: 'ADD', containerId: 'sweep1', netns: ctr.path, ifname: 'eth0', config: { cniVersion: '1.0.0', name: 'n', type: 'tuning', mtu: 1400, dataDir: join(d, 'tuning'), prevResult } });
  t.equal(r.status, 0, r.stdout);
  t.same(readdirSync(tmpDir), [alive], "the dead writer's temporary is gone, a live one's kept");
});
