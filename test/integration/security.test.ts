// A root plugin must never weaken the host, hang, leak or be fooled (issue 15). Every case runs
// in namespaces and temporary directories of the test's own.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { Chain, type Conflist } from '../helpers/chain.ts';
import { BIN, cni, cniStart, ipIn, ipJson, makeNetns, netnsKey, netnsStateDirs, nftElements, sh, tempDir } from '../helpers/netns.ts';
import { ask, hostWithOutside, serve } from '../helpers/topology.ts';

const tmp = (t: Test): string => tempDir(t, 'cnits-sec-');
const inNs = (ns: string, cmd: string, ...args: string[]) => sh('ip', ['netns', 'exec', ns, cmd, ...args]).trim();
const sysctl = (ns: string, key: string) => inNs(ns, 'cat', `/proc/sys/${key}`);

t.test('portmap: route_localnet only on the bridge, only for mappings on 127.0.0.1, undone by the last DEL', async (t) => {
  const { host } = hostWithOutside(t);
  const d = tmp(t);
  const list: Conflist = {
    cniVersion: '1.0.0', name: 'lnet',
    plugins: [
      { type: 'bridge', bridge: 'cnits-ln', isGateway: true, ipMasq: true, ipam: { type: 'host-local', dataDir: d, ranges: [[{ subnet: '10.93.0.0/24' }]] } },
      { type: 'portmap', capabilities: { portMappings: true } },
    ],
  };
  // a prevResult naming "all" and "default" as host interfaces must not matter
  const hostile = (c: Chain) => {
    const prev = structuredClone(c.cached as any);
    prev.interfaces.unshift({ name: 'all' }, { name: 'default' }, { name: 'uplink' });
    for (const ip of prev.ips) ip.interface += 3;
    return prev;
  };
  const before = ['all', 'default', 'uplink', 'lo'].map((i) => sysctl(host.name, `net/ipv4/conf/${i}/route_localnet`));
  const a = new Chain({ ...list, plugins: [list.plugins[0]!] }, { host: host.name, containerId: 'ln-a', netns: makeNetns(t, 'cnits-ctr').path });
  t.equal(a.add().status, 0);
  const pm = (c: Chain, command: string, ports: unknown[]) => cni('portmap', {
    host: host.name, command, containerId: c.call.containerId, netns: c.call.netns, ifname: 'eth0',
    config: { cniVersion: '1.0.0', name: 'lnet', type: 'portmap', runtimeConfig: { portMappings: ports }, prevResult: hostile(c) },
  });
  // published only on an outside address: nothing to do with localhost
  t.equal(pm(a, 'ADD', [{ hostPort: 9001, containerPort: 80, protocol: 'tcp', hostIP: '192.0.2.1' }]).status, 0);
  t.equal(sysctl(host.name, 'net/ipv4/conf/cnits-ln/route_localnet'), '0', 'not for a mapping on 192.0.2.1');
  t.equal(pm(a, 'DEL', []).status, 0);
  // on every address (127.0.0.1 included): on the bridge only
  t.equal(pm(a, 'ADD', [{ hostPort: 9002, containerPort: 80, protocol: 'tcp' }]).status, 0);
  t.equal(sysctl(host.name, 'net/ipv4/conf/cnits-ln/route_localnet'), '1', 'on for the bridge');
  t.same(['all', 'default', 'uplink', 'lo'].map((i) => sysctl(host.name, `net/ipv4/conf/${i}/route_localnet`)), before, 'all, default and other interfaces untouched');
  await serve(t, a.call.netns.split('/').pop()!, 'tcp', 80);
  t.equal(ask(host.name, 'tcp', '127.0.0.1', 9002), '10.93.0.1', 'reached on 127.0.0.1 from the host');
  // a second container on the same bridge keeps it on when the first leaves
  const b = new Chain({ ...list, plugins: [list.plugins[0]!] }, { host: host.name, containerId: 'ln-b', netns: makeNetns(t, 'cnits-ctr').path });
  t.equal(b.add().status, 0);
  t.equal(pm(b, 'ADD', [{ hostPort: 9003, containerPort: 80, protocol: 'tcp', hostIP: '127.0.0.1' }]).status, 0);
  t.equal(pm(a, 'DEL', []).status, 0);
  t.equal(sysctl(host.name, 'net/ipv4/conf/cnits-ln/route_localnet'), '1', 'kept while a mapping needs it');
  const groupState = () => netnsStateDirs(host.name).filter((x) => x.includes('/portmap-localnet/'));
  t.equal(groupState().length, 1, 'the group recorded in the namespace\'s state directory meanwhile');
  t.equal(pm(b, 'DEL', []).status, 0);
  t.equal(sysctl(host.name, 'net/ipv4/conf/cnits-ln/route_localnet'), '0', 'off again with the last one');
  t.same(['all', 'default', 'uplink', 'lo'].map((i) => sysctl(host.name, `net/ipv4/conf/${i}/route_localnet`)), before);
  t.same(groupState(), [], 'nothing left behind by the last DEL: membership, group lock, the namespace\'s directory');
});

t.test('portmap: racing ADDs and DELs of one group keep route_localnet exactly while a member needs it, and leave nothing', async (t) => {
  const { host } = hostWithOutside(t);
  const d = tmp(t);
  const bridge = { type: 'bridge', bridge: 'cnits-lr', isGateway: true, ipam: { type: 'host-local', dataDir: d, ranges: [[{ subnet: '10.94.0.0/24' }]] } };
  const ctrs = Array.from({ length: 12 }, (_, i) => new Chain({ cniVersion: '1.0.0', name: 'lrace', plugins: [bridge] }, { host: host.name, containerId: `lr-${i}`, netns: makeNetns(t, 'cnits-ctr').path }));
  for (const c of ctrs) t.equal(c.add().status, 0);
  const pm = (i: number, command: string) => cniStart('portmap', {
    host: host.name, command, containerId: ctrs[i]!.call.containerId, netns: ctrs[i]!.call.netns, ifname: 'eth0',
    config: { cniVersion: '1.0.0', name: 'lrace', type: 'portmap', runtimeConfig: { portMappings: command === 'ADD' ? [{ hostPort: 9100 + i, containerPort: 80, protocol: 'tcp', hostIP: '127.0.0.1' }] : [] }, prevResult: ctrs[i]!.cached },
  });
  const localnet = () => sysctl(host.name, 'net/ipv4/conf/cnits-lr/route_localnet');
  const groupState = () => netnsStateDirs(host.name).filter((x) => x.includes('/portmap-localnet/'));
  const all = async (calls: Promise<{ status: number; stdout: string }>[]) => (await Promise.all(calls)).filter((r) => r.status !== 0).map((r) => r.stdout);
  for (let round = 0; round < 2; round++) {
    t.same(await all([0, 1, 2, 3, 4, 5, 6, 7].map((i) => pm(i, 'ADD'))), [], `round ${round}: 8 ADDs at once`);
    t.equal(localnet(), '1', 'on while members hold it');
    // the first eight leave while four others join: the group must never be undone under the four
    t.same(await all([...[0, 1, 2, 3, 4, 5, 6, 7].map((i) => pm(i, 'DEL')), ...[8, 9, 10, 11].map((i) => pm(i, 'ADD'))]), [], '8 DELs and 4 ADDs at once');
    t.equal(localnet(), '1', 'still on: four members joined while the others left');
    t.equal(groupState().length, 1, 'the group is recorded');
    t.same(await all([8, 9, 10, 11].map((i) => pm(i, 'DEL'))), [], 'the last four leave at once');
    t.equal(localnet(), '0', 'off with the last member');
    t.same(groupState(), [], 'and nothing of the group left on disk');
  }
});

t.test('CNI_NETNS that is a FIFO, a regular file or a directory: an error at once, never opened', async (t) => {
  const { host } = hostWithOutside(t);
  const d = tmp(t);
  const fifo = join(d, 'fifo');
  spawnSync('mkfifo', [fifo]);
  writeFileSync(join(d, 'file'), '');
  for (const path of [fifo, join(d, 'file'), d]) {
    for (const command of ['ADD', 'DEL', 'CHECK']) {
      const r = spawnSync('ip', ['netns', 'exec', host.name, join(BIN, 'loopback')], {
        input: JSON.stringify({ cniVersion: '1.0.0', name: 'n', type: 'loopback' }), encoding: 'utf8', timeout: 5000,
        env: { PATH: process.env.PATH!, CNI_COMMAND: command, CNI_CONTAINERID: 'fifo1', CNI_NETNS: path, CNI_IFNAME: 'lo', CNI_PATH: '/nonexistent' },
      });
      t.not(r.signal, 'SIGTERM', `${command} ${path}: returned (no hang)`);
      // DEL takes a path that is no namespace as one that is gone (an unmounted netns file): done
      if (command === 'DEL') t.equal(r.status, 0, `DEL ${path}: ${r.stdout}`);
      else t.equal(JSON.parse(r.stdout || '{}').code, 4, `${command} ${path}: ${r.stdout}`);
    }
  }
});

t.test('host-local never follows a lease link nor prints its target, never blocks on a FIFO, and waits for a lock only so long', async (t) => {
  const { host } = hostWithOutside(t);
  const d = tmp(t);
  const ctr = makeNetns(t, 'cnits-ctr');
  const secret = join(d, 'shadow');
  writeFileSync(secret, 'root:$6$secrethash:19000:0:99999:7:::\n');
  const store = join(d, 'store', 'sec');
  mkdirSync(store, { recursive: true });
  symlinkSync(secret, join(store, '10.94.0.9'));
  symlinkSync('/dev/zero', join(store, '10.94.0.10'));
  spawnSync('mkfifo', [join(store, '10.94.0.11')]);
  const conf = { cniVersion: '1.0.0', name: 'sec', type: 'host-local', ipam: { type: 'host-local', dataDir: join(d, 'store'), ranges: [[{ subnet: '10.94.0.0/24' }]] } };
  const call = (command: string, args?: string, env?: Record<string, string>) =>
    spawnSync('ip', ['netns', 'exec', host.name, join(BIN, 'host-local')], {
      input: JSON.stringify(conf), encoding: 'utf8', timeout: 10_000,
      env: { PATH: process.env.PATH!, CNI_COMMAND: command, CNI_CONTAINERID: 'sec1', CNI_NETNS: ctr.path, CNI_IFNAME: 'eth0', CNI_PATH: '/x', ...(args ? { CNI_ARGS: args } : {}), ...env },
    });
  for (const ip of ['10.94.0.9', '10.94.0.10', '10.94.0.11']) {
    const r = call('ADD', `IP=${ip}`);
    t.not(r.signal, 'SIGTERM', `${ip}: no hang`);
    t.equal(JSON.parse(r.stdout).code, 101, r.stdout);
    t.notMatch(r.stdout, /root|secret|\$6\$/, `${ip}: nothing of the target in the message`);
    t.match(r.stdout, /already held by another container/);
  }
  const del = call('DEL');
  t.not(del.signal, 'SIGTERM', 'DEL does not hang on the FIFO');
  t.equal(del.status, 0, del.stdout);
  t.equal(readFileSync(secret, 'utf8'), 'root:$6$secrethash:19000:0:99999:7:::\n', 'the target untouched');
  t.ok(lstatSync(join(store, '10.94.0.9')).isSymbolicLink(), 'not ours, so not released');
  const add = call('ADD');
  t.equal(add.status, 0, add.stdout);
  t.equal(statSync(join(store, 'lock')).mode & 0o777, 0o600, 'the lock is root-only');
  t.equal(statSync(join(store, JSON.parse(add.stdout).ips[0].address.split('/')[0])).mode & 0o777, 0o600, 'the lease is root-only');
  // a lock held elsewhere: a bounded wait, then code 11
  const holder = spawn('ip', ['netns', 'exec', host.name, 'flock', join(store, 'lock'), 'sleep', '20'], { stdio: 'ignore' });
  t.teardown(() => { holder.kill('SIGKILL'); });
  await new Promise((r) => setTimeout(r, 300));
  const waited = call('DEL', undefined, { CNI_TS_LOCK_TIMEOUT_MS: '500' });
  t.equal(JSON.parse(waited.stdout).code, 11, waited.stdout);
  t.match(JSON.parse(waited.stdout).msg, /try again later/);
});

t.test('host-local state: last_reserved_ip, the lock and the temporary directory are never followed', async (t) => {
  const { host } = hostWithOutside(t);
  const d = tmp(t);
  const ctr = makeNetns(t, 'cnits-ctr');
  const outside = join(d, 'outside');
  mkdirSync(outside);
  writeFileSync(join(outside, 'victim'), 'keep me\n');
  writeFileSync(join(outside, '.tmp-victim'), 'keep me too\n');
  const store = join(d, 'store');
  mkdirSync(join(store, 'sym'), { recursive: true });
  symlinkSync(join(outside, 'victim'), join(store, 'sym', 'last_reserved_ip.0'));
  mkdirSync(join(store, '.cni-ts', 'sym'), { recursive: true });
  symlinkSync(outside, join(store, '.cni-ts', 'sym', 'tmp'));
  const conf = { cniVersion: '1.0.0', name: 'sym', type: 'host-local', ipam: { type: 'host-local', dataDir: store, ranges: [[{ subnet: '10.95.0.0/24' }]] } };
  const r = cni('host-local', { host: host.name, command: 'ADD', config: conf, containerId: 'sym1', netns: ctr.path, ifname: 'eth0' });
  t.equal(readFileSync(join(outside, 'victim'), 'utf8'), 'keep me\n', 'last_reserved_ip link not written through');
  // DEL sweeps the temporaries a killed call left: never through a symlink
  cni('host-local', { host: host.name, command: 'DEL', config: conf, containerId: 'sym1', netns: ctr.path, ifname: 'eth0' });
  t.ok(existsSync(join(outside, '.tmp-victim')), 'a symlinked temporary directory is not swept');
  t.ok(r.status === 0 || r.json?.code, r.stdout);
  // a lock file that is a symlink is refused, its target neither created nor locked
  const store2 = join(d, 'store2', 'sym2');
  mkdirSync(store2, { recursive: true });
  symlinkSync(join(outside, 'made-by-lock'), join(store2, 'lock'));
  const r2 = cni('host-local', { host: host.name, command: 'ADD', config: { ...conf, name: 'sym2', ipam: { ...conf.ipam, dataDir: join(d, 'store2') } }, containerId: 'sym2', netns: ctr.path, ifname: 'eth0' });
  t.not(r2.status, 0, r2.stdout);
  t.notOk(existsSync(join(outside, 'made-by-lock')));
});

t.test("DEL with CNI_NETNS naming the plugin's own namespace touches nothing there; CHECK refuses it", async (t) => {
  const { host } = hostWithOutside(t);
  const d = tmp(t);
  ipIn(host.name, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0p');
  ipIn(host.name, 'link', 'set', 'eth0', 'mtu', '1500', 'up');
  const own = '/proc/self/ns/net';   // the plugin's own: as a stale /proc/<pid>/ns/net would be
  const call = (type: string, command: string, extra: Record<string, unknown> = {}, ifname = 'eth0') =>
    cni(type, { host: host.name, command, containerId: 'own1', netns: own, ifname, config: { cniVersion: '1.0.0', name: 'ownnet', type, ...extra } });
  // tuning's saved settings for this attachment would be restored onto the host's eth0
  mkdirSync(join(d, 'tuning'), { recursive: true });
  writeFileSync(join(d, 'tuning', 'own1_eth0.json'), JSON.stringify({ mtu: 1280, promisc: true }));
  t.equal(call('bridge', 'DEL', { bridge: 'cnits-own' }).status, 0, 'bridge DEL succeeds');
  t.equal(call('loopback', 'DEL', {}, 'lo').status, 0, 'loopback DEL succeeds');
  t.equal(call('tuning', 'DEL', { dataDir: join(d, 'tuning') }).status, 0, 'tuning DEL succeeds');
  const eth0 = ipJson(host.name, 'link', 'show', 'eth0')[0];
  t.ok(eth0, "the host's eth0 is still there");
  t.equal(eth0.mtu, 1500, 'its MTU untouched');
  t.notOk(eth0.flags.includes('PROMISC'));
  t.ok(ipJson(host.name, 'link', 'show', 'lo')[0].flags.includes('UP'), "the host's lo still up");
  const check = call('loopback', 'CHECK', {}, 'lo');
  t.equal(check.json?.code, 4, check.stdout);
});

t.test('netlink: replies are taken from the kernel only', async (t) => {
  // a socket of ours in a test namespace, and a forger in the same namespace that knows its
  // port and the sequence number of the next request
  const ns = makeNetns(t, 'cnits-nl');
  const { native } = await import('../../shared/os/native.ts');
  const { NetNS } = await import('../../shared/os/netns.ts');
  const { fstat } = await import('../../shared/os/fs.ts');
  const n = NetNS.open(ns.path);
  t.teardown(() => n.close());
  const fd = native().netlinkOpen(n.fd, 0);
  t.teardown(() => native().closeFd(fd));
  const ino = fstat(fd).ino;
  const row = inNs(ns.name, 'cat', '/proc/net/netlink').split('\n').map((l) => l.trim().split(/\s+/)).find((c) => c.at(-1) === String(ino));
  t.ok(row, 'our socket is listed');
  const port = Number(row![2]);
  const seq = 424242;
  // a forged NLMSG_ERROR (EPERM) for that seq, queued before the request is even sent
  const forger = `import socket,struct; s=socket.socket(socket.AF_NETLINK,socket.SOCK_RAW,0); s.bind((0,0)); m=struct.pack('=IHHII',36,2,0,${seq},${port})+struct.pack('=i',-1)+struct.pack('=IHHII',16,18,5,${seq},0); s.sendto(m,(${port},0))`;
  const f = spawnSync('ip', ['netns', 'exec', ns.name, 'python3', '-c', forger], { encoding: 'utf8' });
  t.equal(f.status, 0, f.stderr);
  // RTM_GETLINK for lo (index 1), with the forged seq
  const req = Buffer.alloc(32);
  req.writeUInt32LE(32, 0); req.writeUInt16LE(18, 4); req.writeUInt16LE(0x1 | 0x4, 6); req.writeUInt32LE(seq, 8); req.writeUInt32LE(0, 12);
  req.writeUInt8(0, 16); req.writeInt32LE(1, 20);
  const replies = native().netlinkRequest(fd, req);
  t.ok(replies.length >= 1);
  t.equal(replies[0]!.readUInt16LE(4), 16, 'the first reply is the kernel\'s RTM_NEWLINK, not the forged error');
  t.ok(replies.every((r) => r.readUInt16LE(4) !== 2 || r.readInt32LE(16) === 0), 'no forged error taken');
  t.not(native().randomU32(), native().randomU32(), 'sequence numbers start unpredictably');
});

t.test('portmap: DEL of 2,000 UDP mappings dumps conntrack once per family; CHECK of them all works', async (t) => {
  const { host } = hostWithOutside(t);
  const ctr = makeNetns(t, 'cnits-ctr');
  const ports = Array.from({ length: 2000 }, (_, i) => ({ hostPort: 40000 + i, containerPort: 1000 + i, protocol: 'udp' }));
  const prevResult = { cniVersion: '1.0.0', interfaces: [{ name: 'eth0', sandbox: ctr.path }], ips: [{ interface: 0, address: '10.96.0.2/24' }] };
  const config = { cniVersion: '1.0.0', name: 'udpnet', type: 'portmap', runtimeConfig: { portMappings: ports }, prevResult };
  const call = (command: string) => cni('portmap', { host: host.name, command, config, containerId: 'udp1', netns: ctr.path, ifname: 'eth0', env: { CNI_TS_TRACE: '1' } });
  t.equal(call('ADD').status, 0);
  t.equal(nftElements(host.name).filter((e) => e.set === 'pm4').length, 2000);
  const check = call('CHECK');
  t.equal(check.status, 0, check.stdout);
  const del = call('DEL');
  t.equal(del.status, 0, del.stdout);
  t.equal((del.stderr.match(/conntrack dump/g) ?? []).length, 1, 'one dump (IPv4 only here), not one per mapping');
  t.equal(nftElements(host.name).filter((e) => e.set === 'pm4').length, 0);
});

t.test('tuning keeps its saved settings root-only; nft never gets a host link name with a quote or a comma', async (t) => {
  const { host } = hostWithOutside(t);
  const d = tmp(t);
  const ctr = makeNetns(t, 'cnits-ctr');
  ipIn(ctr.name, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'p0');
  const prevResult = { cniVersion: '1.0.0', interfaces: [{ name: 'eth0', sandbox: ctr.path }], ips: [{ interface: 0, address: '10.97.0.2/24' }] };
  const r = cni('tuning', { host: host.name, command: 'ADD', containerId: 'mode1', netns: ctr.path, ifname: 'eth0', config: { cniVersion: '1.0.0', name: 'm', type: 'tuning', mtu: 1400, dataDir: join(d, 'tuning'), prevResult } });
  t.equal(r.status, 0, r.stdout);
  t.equal(statSync(join(d, 'tuning')).mode & 0o777, 0o700, 'directory 0700');
  t.equal(statSync(join(d, 'tuning', 'mode1_eth0.json')).mode & 0o777, 0o600, 'file 0600');
  // a host port named with a quote and a comma, on a bridge, for firewall's "isolated" policy
  ipIn(host.name, 'link', 'add', 'cnits-q', 'type', 'bridge');
  ipIn(host.name, 'link', 'add', 'v"a,b', 'type', 'veth', 'peer', 'name', 'vq');
  ipIn(host.name, 'link', 'set', 'v"a,b', 'master', 'cnits-q');
  const fw = cni('firewall', {
    host: host.name, command: 'ADD', containerId: 'quote1', netns: ctr.path, ifname: 'eth0',
    config: { cniVersion: '1.0.0', name: 'q', type: 'firewall', ingressPolicy: 'isolated', prevResult: { ...prevResult, interfaces: [{ name: 'cnits-q' }, { name: 'v"a,b' }, { name: 'eth0', sandbox: ctr.path }], ips: [{ interface: 2, address: '10.97.0.2/24' }] } },
  });
  t.equal(fw.json?.code, 7, fw.stdout);
  t.same(nftElements(host.name).filter((e) => e.set === 'icc_ports' || e.comment === 'net=q id=quote1'), [], 'nothing added');
  t.equal(cni('firewall', { host: host.name, command: 'DEL', containerId: 'quote1', netns: ctr.path, ifname: 'eth0', config: { cniVersion: '1.0.0', name: 'q', type: 'firewall' } }).status, 0);
  chmodSync(d, 0o700);
  t.same(readdirSync(d).sort(), ['tuning']);
});

t.test("parent state (/run/cni-ts/parents): symlinks in place of a hold's directory or a made mark are never followed", async (t) => {
  const { host } = hostWithOutside(t);
  const d = tmp(t);
  const ctr = makeNetns(t, 'cnits-ctr');
  // a parent link of the test's own, and symlinks where its state would be
  const parent = `cnitsvl${process.pid % 100000}`;
  ipIn(host.name, 'link', 'add', parent, 'type', 'veth', 'peer', 'name', `${parent}p`);
  ipIn(host.name, 'link', 'set', parent, 'up');
  const target = join(d, 'elsewhere');
  mkdirSync(target);
  writeFileSync(join(target, 'keep'), 'x');
  const key = netnsKey(host.name);
  const group = join('/run/cni-ts/parents', key, parent);
  const mark = join('/run/cni-ts/parents-made', key, parent);
  for (const p of [group, mark]) { mkdirSync(join(p, '..'), { recursive: true }); symlinkSync(target, p); }
  t.teardown(() => { for (const p of [group, mark]) rmSync(p, { force: true }); });
  const config = { cniVersion: '1.0.0', name: 'vl', type: 'macvlan', master: parent, ipam: { type: 'host-local', dataDir: d, ranges: [[{ subnet: '10.107.0.0/24' }]] } };
  const add = cni('macvlan', { host: host.name, command: 'ADD', config, containerId: 'vl1', netns: ctr.path, ifname: 'mv0' });
  t.equal(add.status, 1, 'a hold that cannot be recorded is an error');
  t.match(add.stdout, /not a directory \(a symlink is not followed\)/);
  t.same(readdirSync(target), ['keep'], 'nothing written through the link');
  t.same(ipJson(ctr.name, 'link', 'show').map((l: any) => l.ifname), ['lo'], 'nothing left in the container');
  // with the hold's directory real again, the made mark (a symlink to a directory) does not make the parent ours
  rmSync(group);
  t.equal(cni('macvlan', { host: host.name, command: 'ADD', config, containerId: 'vl1', netns: ctr.path, ifname: 'mv0' }).status, 0);
  t.equal(cni('macvlan', { host: host.name, command: 'DEL', config, containerId: 'vl1', netns: ctr.path, ifname: 'mv0' }).status, 0);
  t.ok(ipJson(host.name, 'link', 'show').some((l: any) => l.ifname === parent), 'the parent link is still there');
  t.same(readdirSync(target), ['keep'], 'nothing removed through the link');
});
