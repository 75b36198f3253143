// vxlan-overlay's l2 mode (Docker's overlay): one subnet per family across "hosts" (namespaces
// on an underlay bridge of the test's own), addresses allocated in a real etcd started by the
// test in that underlay namespace; plugins through the libcni client. Traffic only between the
// test's namespaces.
import { spawnSync } from 'node:child_process';
import t from 'tap';
import { join } from 'node:path';
import { BIN, haveBuild, ipIn, ipJson } from '../helpers/netns.ts';
import { Cluster, haveEtcd, within, type Ctr, type Host } from '../helpers/overlay.ts';
import { ask, ping, serve } from '../helpers/topology.ts';

const skip = !haveBuild() ? 'npm run build first' : !haveEtcd() ? 'etcd-server is not installed (build/setup.sh installs it)' : false;
const nsOf = (c: Ctr) => c.path.split('/').at(-1)!;
const linkNames = (ns: string) => ipJson(ns, 'link', 'show').map((l: any) => l.ifname);
const neighs = (h: Host, dev = 'ovx42') => ipJson(h.name, 'neigh', 'show', 'dev', dev).map((n: any) => `${n.dst} ${n.lladdr}`).sort();
const fdbDsts = (h: Host, dev = 'ovx42') => JSON.parse(spawnSync('ip', ['netns', 'exec', h.name, 'bridge', '-j', 'fdb', 'show', 'dev', dev], { encoding: 'utf8' }).stdout || '[]').filter((e: any) => e.dst).map((e: any) => `${e.mac} ${e.dst}`).sort();
const routesVia = (h: Host, dev: string) => [...ipJson(h.name, 'route', 'show', 'dev', dev), ...ipJson(h.name, '-6', 'route', 'show', 'dev', dev)].map((r: any) => r.dst);
const addrs = (r: { json: any }) => r.json.ips.map((i: any) => i.address.split('/')[0]);
const keys = (cl: Cluster) => cl.etcdctl('get', '--prefix', '/cni-ts/overlay/', '--keys-only').split('\n').filter(Boolean).sort();

t.test('three hosts on one dual-stack subnet: distinct addresses, every pair pings over IPv4 and IPv6, TCP crosses; DEL leaves nothing', { skip }, async (t) => {
  const cl = new Cluster(t);
  await cl.startEtcd(['e1']);
  const ov = cl.l2network('ov1', 42, { subnets: [{ subnet: '10.90.0.0/24' }, { subnet: 'fd00:90::/64' }] });
  const hosts = [cl.host(), cl.host(), cl.host()];
  const ctrs = hosts.map((_, i) => cl.container(`c${i}`));
  const results = hosts.map((h, i) => {
    const r = cl.call('add', h, ctrs[i]!, ov);
    t.equal(r.status, 0, `ADD on host ${i + 1} ${r.stderr}`);
    return r;
  });
  const ips = results.map(addrs);
  t.same(ips.map((x) => x.length), [2, 2, 2], 'an IPv4 and an IPv6 address each');
  t.ok(ips.every((x) => x[0].startsWith('10.90.0.') && x[1].startsWith('fd00:90::')), 'all inside the one pair of subnets');
  t.equal(new Set(ips.flat()).size, 6, 'all distinct');
  t.ok(ips.every((x) => x[0] !== '10.90.0.1' && x[1] !== 'fd00:90::1'), 'none is the gateway');
  t.same(results[0]!.json.ips.map((i: any) => i.gateway), ['10.90.0.1', 'fd00:90::1'], 'the gateways, the same on every host');

  // without a watcher: each host's next call brings in the others
  for (const [i, h] of hosts.entries()) t.equal(cl.call('check', h, ctrs[i]!, ov).status, 0, `CHECK on host ${i + 1}`);
  const macOf = (c: Ctr) => ipJson(nsOf(c), 'link', 'show', 'eth0')[0].address;
  t.equal(macOf(ctrs[1]!), `02:42:0a:5a:00:${Number(ips[1]![0].split('.')[3]).toString(16).padStart(2, '0')}`, 'a container MAC as Docker makes it (02:42 and the IPv4 address)');
  t.same(neighs(hosts[0]!), [1, 2].flatMap((j) => [`${ips[j]![0]} ${macOf(ctrs[j]!)}`, `${ips[j]![1]} ${macOf(ctrs[j]!)}`]).sort(), 'host 1: a neighbour entry per remote address on the vxlan device');
  t.same(fdbDsts(hosts[0]!), [1, 2].map((j) => `${macOf(ctrs[j]!)} ${hosts[j]!.address}`).sort(), 'and an FDB entry per remote MAC, to its host');
  t.same(routesVia(hosts[0]!, 'ovx42'), [], 'no routes: one L2 network');
  t.equal(ipJson(hosts[0]!.name, 'link', 'show', 'ovx42')[0].master, 'ovbr42', 'the vxlan device is a port of the bridge');

  for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) if (i !== j) {
    t.ok(ping(nsOf(ctrs[i]!), ips[j]![0]), `c${i} pings c${j} over IPv4`);
    t.ok(ping(nsOf(ctrs[i]!), ips[j]![1]), `c${i} pings c${j} over IPv6`);
  }
  await serve(t, nsOf(ctrs[2]!), 'tcp', 8080);
  t.equal(ask(nsOf(ctrs[0]!), 'tcp', ips[2]![0], 8080), ips[0]![0], 'TCP crosses over IPv4, unmasqueraded');
  t.equal(ask(nsOf(ctrs[0]!), 'tcp', ips[2]![1], 8080), ips[0]![1], 'and over IPv6');
  // ARP for the gateway is answered at home: host 1's container holds host 1's bridge MAC
  const brMac = ipJson(hosts[0]!.name, 'link', 'show', 'ovbr42')[0].address;
  t.ok(ping(nsOf(ctrs[0]!), '10.90.0.1'), 'the gateway answers');
  const gwNeigh = ipJson(nsOf(ctrs[0]!), 'neigh', 'show', '10.90.0.1')[0];
  t.equal(gwNeigh?.lladdr, brMac, 'the gateway is this host\'s bridge');
  t.equal(ipJson(nsOf(ctrs[0]!), 'link', 'show', 'eth0')[0].mtu, 1450, 'container MTU: underlay 1500 - 50');
  // egress: out through the host, masqueraded as its underlay address
  await serve(t, cl.underlay.name, 'tcp', 9090);
  t.equal(ask(nsOf(ctrs[1]!), 'tcp', '192.168.77.254', 9090), hosts[1]!.address, 'traffic leaving the overlay is masqueraded as the host');

  t.same(keys(cl), ips.flat().map((ip) => `/cni-ts/overlay/ov1/endpoints/${ip}`).sort(), 'one etcd key per container address');
  for (const [i, h] of hosts.entries()) t.equal(cl.call('del', h, ctrs[i]!, ov).status, 0, `DEL c${i}`);
  for (const h of hosts) t.notOk(linkNames(h.name).some((l: string) => l.startsWith('ovx') || l.startsWith('ovbr')), `${h.name}: no device or bridge left`);
  t.same(keys(cl), [], 'every address given back');
});

t.test('addresses as Docker takes them: IP= anywhere in a subnet, once in the cluster; ipRange, gateway, auxAddresses, two IPv4 subnets; IPv6 only', { skip }, async (t) => {
  const cl = new Cluster(t);
  await cl.startEtcd(['e1']);
  const ov = cl.l2network('ov1', 42, { subnets: [
    { subnet: '10.90.0.0/24', ipRange: '10.90.0.128/30', gateway: '10.90.0.254', auxAddresses: { printer: '10.90.0.129' } },
    { subnet: '10.91.0.0/24' },
  ] });
  const [h1, h2, h3] = [cl.host(), cl.host(), cl.host()];
  const add = (h: Host, c: Ctr, args = '') => { const r = cl.call('add', h, c, ov, args); return { ...r, ips: r.json ? addrs(r) : [] }; };

  // IP= outside the range but inside the subnet
  const a = cl.container('a');
  const ra = add(h2, a, 'IP=10.90.0.200');
  t.equal(ra.status, 0, `IP=10.90.0.200 on host 2 ${ra.stderr}`);
  t.same(ra.ips, ['10.90.0.200']);
  t.same(ra.json.ips[0].gateway, '10.90.0.254', 'the configured gateway');
  const b = cl.container('b');
  const rb = cl.call('add', h3, b, ov, 'IP=10.90.0.200');
  t.not(rb.status, 0, 'the same address on host 3 is refused');
  t.match(rb.stderr, /10\.90\.0\.200 is already held/, 'naming the address');
  t.same(linkNames(nsOf(b)).filter((l: string) => l !== 'lo'), [], 'nothing left in the refused container');
  t.notOk(linkNames(h3.name).some((l: string) => l.startsWith('ovx') || l.startsWith('ovbr')), 'nor on its host');
  t.equal(keys(cl).length, 1, 'nor in etcd');
  for (const bad of ['10.90.0.254', '10.90.0.129', '10.90.0.255', '10.92.0.5']) {
    const r = cl.call('add', h3, b, ov, `IP=${bad}`);
    t.match(r.stderr, /outside every subnet of the network or reserved/, `IP=${bad} (gateway, aux, broadcast, outside) refused`);
  }

  // dynamic addresses: the range 10.90.0.128/30 holds .129 (aux) .130 .131; then the second subnet
  const got: string[] = [];
  for (const [i, h] of [h1, h2, h3, h1].entries()) {
    const c = cl.container(`d${i}`);
    const r = add(h, c);
    t.equal(r.status, 0, `ADD d${i} ${r.stderr}`);
    got.push(r.ips[0]);
  }
  t.same(got.slice(0, 3).sort(), ['10.90.0.128', '10.90.0.130', '10.90.0.131'], 'the range, less the aux address, across hosts');
  t.ok(got[3]!.startsWith('10.91.0.') && got[3] !== '10.91.0.1', `then the second subnet (${got[3]})`);
  t.equal(ipJson(h1.name, 'addr', 'show', 'ovbr42').flatMap((l: any) => l.addr_info).filter((x: any) => x.family === 'inet').map((x: any) => x.local).sort().join(' '), '10.90.0.254 10.91.0.1', 'host 1\'s bridge holds both gateways');

  // the ips capability (as kubelet and nerdctl pass a static address) and args.cni.ips
  const capNet = cl.l2network('ovcap', 44, { subnet: '10.94.0.0/24', capabilities: { ips: true } });
  const e = cl.container('e'), f = cl.container('f');
  const re = cl.call('add', h1, e, capNet, '', { ips: ['10.94.0.77/24'] });
  t.same(re.json ? addrs(re) : re.stderr, ['10.94.0.77'], 'the ips capability takes an address on host 1');
  const rf = cl.call('add', h2, f, capNet, '', { ips: ['10.94.0.77/24'] });
  t.match(rf.stderr, /10\.94\.0\.77 is already held/, 'and the same on host 2 is refused');
  // IPv6 only
  const v6 = cl.l2network('ov6', 43, { subnet: 'fd00:93::/64' });
  const [x, y] = [cl.container('x'), cl.container('y')];
  const rx = cl.call('add', h1, x, v6), ry = cl.call('add', h2, y, v6);
  t.equal((rx.status ?? 1) + (ry.status ?? 1), 0, `IPv6-only ADDs ${rx.stderr}${ry.stderr}`);
  t.equal(cl.call('check', h1, x, v6).status, 0);
  t.ok(ping(nsOf(x), addrs(ry)[0]), `IPv6 only: ${addrs(rx)[0]} pings ${addrs(ry)[0]} on another host`);
  t.match(ipJson(nsOf(x), 'link', 'show', 'eth0')[0].address, /^02:/, 'a locally administered MAC');
});

t.test('config and runtime input: refused before anything is made', { skip }, async (t) => {
  const cl = new Cluster(t);
  await cl.startEtcd(['e1']);
  const h = cl.host(), c = cl.container('c');
  const cases: [string, Record<string, unknown>, RegExp][] = [
    // this machine's kernel has no ESP or GCM (the guest's has: test/vm/overlay-ipsec.test.mjs)
    ['encrypted', { subnet: '10.90.0.0/24', encrypted: true }, /encrypted: true: this host's kernel cannot seal the overlay: it has no rfc4106\(gcm\(aes\)\)/],
    ['encrypted in mode routed', { mode: 'routed', subnet: '10.90.0.0/16', encrypted: true }, /encrypted: true: IPsec between hosts is built for mode "l2"/],
    ['keyRotation in clear', { subnet: '10.90.0.0/24', keyRotation: 60 }, /keyRotation is a key of encrypted networks/],
    ['hostSubnetLength without mode routed', { subnet: '10.90.0.0/24', hostSubnetLength: 26 }, /hostSubnetLength is a key of mode "routed"/],
    ['overlapping subnets', { subnets: [{ subnet: '10.90.0.0/24' }, { subnet: '10.90.0.128/25' }] }, /overlaps 10\.90\.0\.0\/24/],
    ['ipRange outside', { subnets: [{ subnet: '10.90.0.0/24', ipRange: '10.91.0.0/28' }] }, /subnets\[0\]\.ipRange 10\.91\.0\.0\/28 is not inside/],
    ['gateway outside', { subnets: [{ subnet: '10.90.0.0/24', gateway: '10.91.0.1' }] }, /subnets\[0\]\.gateway 10\.91\.0\.1 is outside/],
    ['a subnet holding the underlay', { subnet: '192.168.77.0/25' }, /holds this host's underlay address/],
    ['a subnet holding etcd', { subnet: '192.168.77.248/30' }, /holds etcd endpoint/],
  ];
  for (const [what, plugin, msg] of cases) {
    const ov = cl.l2network(`bad${cases.findIndex((x) => x[0] === what)}`, 42, plugin);
    const r = cl.call('add', h, c, ov);
    t.not(r.status, 0, what);
    t.match(r.stderr, msg, `${what}: the error names it`);
  }
  // the plugin itself, for the code
  const direct = spawnSync('ip', ['netns', 'exec', h.name, join(BIN, 'vxlan-overlay')], {
    input: JSON.stringify({ cniVersion: '1.0.0', name: 'enc', type: 'vxlan-overlay', vni: 42, subnet: '10.90.0.0/24', encrypted: true, etcd: { endpoints: cl.endpoints } }),
    encoding: 'utf8', env: { CNI_COMMAND: 'ADD', CNI_CONTAINERID: c.id, CNI_NETNS: c.path, CNI_IFNAME: 'eth0', CNI_PATH: BIN },
  });
  t.equal(direct.status, 1);
  t.equal(JSON.parse(direct.stdout).code, 2, 'encrypted: code 2 (unsupported field)');
  t.same(linkNames(nsOf(c)).filter((l: string) => l !== 'lo'), [], 'nothing in the container');
  t.same(linkNames(h.name).filter((l: string) => l !== 'lo' && l !== 'eth0'), [], 'nothing on the host');
  t.same(keys(cl), [], 'nothing in etcd');
  t.equal(ipIn(h.name, 'xfrm', 'state').trim() + ipIn(h.name, 'xfrm', 'policy').trim(), '', 'no xfrm state or policy');
  // an encrypted overlay needs its VXLAN port to itself on a host: checked before the kernel is asked
  const clear = cl.l2network('clear', 50, { subnet: '10.95.0.0/24' });
  t.equal(cl.call('add', h, cl.container('k'), clear).status, 0, 'an overlay in clear on port 4789');
  const enc = cl.l2network('enc2', 51, { subnet: '10.96.0.0/24', encrypted: true });
  const r = cl.call('add', h, cl.container('m'), enc);
  t.match(r.stderr, /port 4789 carries overlay clear on this host: an encrypted overlay needs a VXLAN port of its own/, 'the port clash is named');
  t.same(linkNames(h.name).filter((l: string) => l.startsWith('ovx')), ['ovx50'], 'and the encrypted network made no device');
});

t.test('hostile etcd records: skipped and logged, ADDs go on, the kernel holds only fit entries; removing them heals with no manual step', { skip }, async (t) => {
  const cl = new Cluster(t);
  await cl.startEtcd(['e1']);
  const ov = cl.l2network('ov1', 42, { subnet: '10.90.0.0/24' });
  const [h1, h2, h3] = [cl.host(), cl.host(), cl.host()];
  const [a, b] = [cl.container('a'), cl.container('b')];
  const ipa = addrs(cl.call('add', h1, a, ov))[0], ipb = addrs(cl.call('add', h2, b, ov))[0];
  const macB = ipJson(nsOf(b), 'link', 'show', 'eth0')[0].address;
  const K = '/cni-ts/overlay/ov1/endpoints/';
  const rec = (ip: string, over: Record<string, unknown>) => JSON.stringify({ ip, mac: '02:42:0a:5a:00:63', underlay: '192.168.77.99', host: 'evil', id: 'evil/eth0', vni: 42, ...over });
  const hostile: [string, string][] = [
    [`${K}10.90.0.1`, rec('10.90.0.1', {})],                                  // the gateway: ARP for it would be answered with a remote MAC
    [`${K}10.90.0.60`, rec('10.90.0.60', { mac: 'zz:zz' })],
    [`${K}10.90.0.61`, rec('10.90.0.61', { underlay: 'not-an-ip' })],
    [`${K}10.90.0.62`, rec('10.90.0.63', { mac: '02:42:0a:5a:00:3e' })],     // another address than its key
    [`${K}192.168.77.250`, rec('192.168.77.250', {})],                      // etcd's own address
    [`${K}10.90.0.64`, rec('10.90.0.64', { mac: macB, underlay: '192.168.77.3' })], // b's MAC, drawn to host 3
    [`${K}10.90.0.65`, '{"ip":'],
  ];
  for (const [k, v] of hostile) cl.etcdctl('put', k, v);
  const c = cl.container('c');
  const rc = cl.call('add', h3, c, ov);
  t.equal(rc.status, 0, `an ADD on host 3 still works ${rc.stderr}`);
  const ipc = addrs(rc)[0];
  t.notOk(['10.90.0.1', '10.90.0.60', '10.90.0.61', '10.90.0.62', '10.90.0.63', '10.90.0.64', '10.90.0.65'].includes(ipc), `it took none of the hostile keys' addresses (${ipc})`);
  for (const [i, h, x] of [[1, h1, a], [2, h2, b]] as const) {
    const r = cl.call('check', h, x, ov);
    t.equal(r.status, 0, `CHECK on host ${i} works`);
    t.match(r.stderr, /endpoint skipped/, `host ${i} logs the skipped records`);
  }
  const fit = (h: Host, own: string[]) => [[a, ipa], [b, ipb], [c, ipc]].filter(([, ip]) => !own.includes(ip as string)).map(([x, ip]) => `${ip} ${ipJson(nsOf(x as Ctr), 'link', 'show', 'eth0')[0].address}`).sort();
  t.same(neighs(h1), fit(h1, [ipa]), 'host 1: only the fit remote endpoints as neighbours');
  t.same(fdbDsts(h1).map((e: string) => e.split(' ')[1]).sort(), [h2.address, h3.address], 'and FDB entries only to the real hosts');
  t.ok(ping(nsOf(a), ipb) && ping(nsOf(a), ipc), 'a reaches b and c');
  t.ok(ping(nsOf(a), '10.90.0.1'), 'the gateway is still the local bridge');
  t.equal(ipJson(nsOf(a), 'neigh', 'show', '10.90.0.1')[0]?.lladdr, ipJson(h1.name, 'link', 'show', 'ovbr42')[0].address);
  t.same(routesVia(h1, 'ovx42'), [], 'no route from etcd on any host');

  // a stale entry in the kernel (not from the current records) goes at the next sync
  spawnSync('ip', ['-n', h1.name, 'neigh', 'add', '10.90.0.77', 'lladdr', '02:42:0a:5a:00:4d', 'dev', 'ovx42', 'nud', 'permanent']);
  spawnSync('bridge', ['-n', h1.name, 'fdb', 'add', '02:42:0a:5a:00:4d', 'dev', 'ovx42', 'dst', '192.168.77.77', 'self', 'permanent']);
  for (const [k] of hostile) cl.etcdctl('del', k);
  t.equal(cl.call('check', h1, a, ov).status, 0);
  t.same(neighs(h1), fit(h1, [ipa]), 'host 1 rebuilt from the records: the stray neighbour gone');
  t.notOk(fdbDsts(h1).some((e: string) => e.includes('192.168.77.77')), 'and the stray FDB entry');
  t.equal(cl.call('check', h2, b, ov).status, 0);
  t.ok(ping(nsOf(c), ipb), 'b\'s traffic was never drawn away');
  for (const [h, x] of [[h1, a], [h2, b], [h3, c]] as const) t.equal(cl.call('del', h, x, ov).status, 0);
  t.same(keys(cl), [], 'every address given back');
});

t.test('one sync process per host serves two networks: a fourth host\'s container is reachable from every host within 1 s and gone within 1 s of its DEL; portmap publishes a port', { skip }, async (t) => {
  const cl = new Cluster(t);
  await cl.startEtcd(['e1']);
  const ov = cl.l2network('ov1', 42, { subnet: '10.90.0.0/24' }, [{ type: 'portmap', capabilities: { portMappings: true } }]);
  const ov2 = cl.l2network('ov2', 43, { subnet: '10.91.0.0/24' });
  const hosts = [cl.host(), cl.host(), cl.host()];
  const ctrs = hosts.map((_, i) => cl.container(`c${i}`));
  const dctrs = hosts.map((_, i) => cl.container(`d${i}`));
  hosts.forEach((h, i) => t.equal((cl.call('add', h, ctrs[i]!, ov).status ?? 1) + (cl.call('add', h, dctrs[i]!, ov2).status ?? 1), 0));
  for (const h of hosts) cl.startSync(h);
  await new Promise((r) => setTimeout(r, 800));
  // a second one on a host leaves at once
  const second = spawnSync('ip', ['netns', 'exec', hosts[0]!.name, join(BIN, 'vxlan-overlay'), '--sync'], { encoding: 'utf8', timeout: 5000 });
  t.equal(second.status, 0, 'a second sync process on a host exits');
  t.match(second.stderr, /another sync process serves this host: leaving/, 'saying why');
  t.ok(hosts.every((h) => /ov1: serving/.test(cl.syncLogs.get(h.name) ?? '') && /ov2: serving/.test(cl.syncLogs.get(h.name) ?? '')), 'each serves both networks');
  const h4 = cl.host(), c4 = cl.container('c4'), d4 = cl.container('d4');
  const r4 = cl.call('add', h4, c4, ov, '', { portMappings: [{ hostPort: 8088, containerPort: 80, protocol: 'tcp' }] });
  t.equal(r4.status, 0, r4.stderr);
  const ip4 = addrs(r4)[0];
  const took = await within(1000, () => ctrs.every((c) => ping(nsOf(c), ip4)));
  t.ok(took !== undefined, `host 4's container reachable from every host within 1 s (${took} ms)`);
  const dip4 = addrs(cl.call('add', h4, d4, ov2))[0];
  const took2 = await within(1000, () => dctrs.every((c) => ping(nsOf(c), dip4)));
  t.ok(took2 !== undefined, `and on the second network (${took2} ms)`);
  t.notOk(ping(nsOf(ctrs[0]!), dip4), 'the networks stay apart');
  t.equal(cl.call('del', h4, d4, ov2).status, 0);
  await serve(t, nsOf(c4), 'tcp', 80);
  t.ok(ask(hosts[1]!.name, 'tcp', h4.address, 8088), 'portmap: host 4\'s port 8088 reaches its container from another host');
  t.equal(cl.call('del', h4, c4, ov).status, 0);
  const gone = await within(1000, () => hosts.every((h) => !neighs(h).some((n: string) => n.startsWith(`${ip4} `))));
  t.ok(gone !== undefined, `its entries gone from every host within 1 s (${gone} ms)`);
  for (const [i, h] of hosts.entries()) t.equal((cl.call('del', h, ctrs[i]!, ov).status ?? 1) + (cl.call('del', h, dctrs[i]!, ov2).status ?? 1), 0);
});

t.test('etcd away: traffic goes on, an ADD gets code 11 and leaves nothing, a DEL succeeds and its addresses go back when etcd returns', { skip }, async (t) => {
  const cl = new Cluster(t);
  await cl.startEtcd(['e1']);
  const ov = cl.l2network('ov1', 42, { subnet: '10.90.0.0/24' });
  const [h1, h2] = [cl.host(), cl.host()];
  const [a, b, a2] = [cl.container('a'), cl.container('b'), cl.container('a2')];
  const ipa = addrs(cl.call('add', h1, a, ov))[0], ipb = addrs(cl.call('add', h2, b, ov))[0];
  const ipa2 = addrs(cl.call('add', h1, a2, ov))[0];
  t.equal(cl.call('check', h1, a, ov).status, 0);
  cl.stopAllEtcd();
  t.ok(ping(nsOf(a), ipb) && ping(nsOf(b), ipa), 'existing containers keep talking');
  const c = cl.container('c');
  const r = cl.call('add', h2, c, ov);
  t.equal(r.status, 1);
  t.match(r.stderr, /try again later/i, 'a new ADD: try again later');
  t.same(linkNames(nsOf(c)).filter((l: string) => l !== 'lo'), [], 'nothing left in its container');
  t.equal(cl.call('del', h1, a2, ov).status, 0, 'DEL without etcd succeeds');
  t.same(linkNames(nsOf(a2)).filter((l: string) => l !== 'lo'), [], 'and removes the container\'s interface');
  cl.restartEtcd('e1');
  await cl.waitHealthy();
  t.ok(keys(cl).includes(`/cni-ts/overlay/ov1/endpoints/${ipa2}`), 'its address is still held in etcd');
  t.equal(cl.call('check', h1, a, ov).status, 0);
  // GC (as a runtime sends it) finishes the release
  const gc = spawnSync('ip', ['netns', 'exec', h1.name, join(BIN, 'vxlan-overlay')], {
    input: JSON.stringify({ cniVersion: '1.1.0', name: 'ov1', type: 'vxlan-overlay', vni: 42, subnet: '10.90.0.0/24', dataDir: join(cl.dir, 'data'), etcd: { endpoints: cl.endpoints }, 'cni.dev/valid-attachments': [{ containerID: a.id, ifname: 'eth0' }] }),
    encoding: 'utf8', env: { CNI_COMMAND: 'GC', CNI_PATH: BIN },
  });
  t.equal(gc.status, 0, `GC ${gc.stdout}`);
  t.notOk(keys(cl).includes(`/cni-ts/overlay/ov1/endpoints/${ipa2}`), 'the DEL\'s address given back');
  t.ok(keys(cl).includes(`/cni-ts/overlay/ov1/endpoints/${ipa}`), 'a valid attachment\'s kept');
  for (const [h, x] of [[h1, a], [h2, b]] as const) t.equal(cl.call('del', h, x, ov).status, 0);
  t.same(keys(cl), []);
});

t.test('ttl: a host that stops renewing loses its addresses after the TTL and every other host forgets it; back, it puts them again', { skip }, async (t) => {
  const cl = new Cluster(t);
  await cl.startEtcd(['e1']);
  const ov = cl.l2network('ov1', 42, { subnet: '10.90.0.0/24', ttl: 3 });
  const hosts = [cl.host(), cl.host(), cl.host()];
  const ctrs = hosts.map((_, i) => cl.container(`c${i}`));
  const ips = hosts.map((h, i) => addrs(cl.call('add', h, ctrs[i]!, ov))[0]);
  for (const h of hosts) cl.startSync(h);
  await new Promise((r) => setTimeout(r, 4000));
  t.equal(keys(cl).length, 3, 'renewed by the sync processes: every record outlives the TTL');
  t.ok(ping(nsOf(ctrs[0]!), ips[2]!), 'host 1 reaches host 3\'s container');
  // host 3 dies: no DEL, nothing renews its lease
  await cl.stopSync(hosts[2]!);
  const gone = await within(8000, () => !keys(cl).includes(`/cni-ts/overlay/ov1/endpoints/${ips[2]}`));
  t.ok(gone !== undefined, `its address free in etcd after the TTL (${gone} ms)`);
  const forgotten = await within(1000, () => [0, 1].every((i) => !neighs(hosts[i]!).some((n: string) => n.startsWith(`${ips[2]} `)) && !fdbDsts(hosts[i]!).some((e: string) => e.endsWith(` ${hosts[2]!.address}`))));
  t.ok(forgotten !== undefined, `no neighbour or FDB entry for it left on hosts 1 and 2 (${forgotten} ms)`);
  t.same(keys(cl).length, 2, 'the live hosts\' records stay');
  // host 3 back: its sync process renews, finds the lease lapsed, and puts its records again
  cl.startSync(hosts[2]!);
  const back = await within(5000, () => keys(cl).includes(`/cni-ts/overlay/ov1/endpoints/${ips[2]}`) && ping(nsOf(ctrs[0]!), ips[2]!));
  t.ok(back !== undefined, `back: its record is put again and host 1 reaches it (${back} ms)`);
  for (const h of hosts) await cl.stopSync(h);
  for (const [i, h] of hosts.entries()) t.equal(cl.call('del', h, ctrs[i]!, ov).status, 0);
});

t.test('etcd replies in bounded pages: 700 records and 49 values of 1.4 MB neither make etcd look unreachable nor stop the fit ones', { skip }, async (t) => {
  const cl = new Cluster(t);
  await cl.startEtcd(['e1']);
  const ov = cl.l2network('ov1', 42, { subnet: '10.90.0.0/20' });
  const [h1, h2] = [cl.host(), cl.host()];
  const K = '/cni-ts/overlay/ov1/endpoints/';
  // 700 fit records of a host that does not exist (one key per address, in transactions of 100)
  const ip = (i: number) => `10.90.${2 + (i >> 8)}.${i & 255}`;
  for (let b = 0; b < 7; b++) {
    const puts = Array.from({ length: 100 }, (_, j) => {
      const i = b * 100 + j, mac = `02:42:0a:5a:${(2 + (i >> 8)).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;
      // (etcdctl txn's syntax: a value without spaces, unquoted; compares, success and failure each end with a blank line)
      return `put ${K}${ip(i)} ${JSON.stringify({ ip: ip(i), mac, underlay: '192.168.77.99', host: 'ghost', id: `g${i}/eth0`, vni: 42 })}`;
    });
    const r = spawnSync('ip', ['netns', 'exec', cl.underlay.name, 'etcdctl', '--endpoints', cl.endpoints.join(','), 'txn'], { input: `\n${puts.join('\n')}\n\n\n`, encoding: 'utf8' });
    t.equal(r.status, 0, `txn ${b} ${r.stderr}`);
  }
  const big = 'x'.repeat(1400 * 1024);
  for (let i = 0; i < 49; i++) spawnSync('ip', ['netns', 'exec', cl.underlay.name, 'etcdctl', '--endpoints', cl.endpoints.join(','), 'put', `${K}10.90.15.${i + 1}`], { input: big });
  t.equal(keys(cl).length, 749, 'the records are in etcd');
  const [a, b] = [cl.container('a'), cl.container('b')];
  const ra = cl.call('add', h1, a, ov), rb = cl.call('add', h2, b, ov);
  t.equal(ra.status, 0, `an ADD works ${ra.stderr.slice(0, 300)}`);
  t.equal(rb.status, 0, 'on another host too');
  const ipa = addrs(ra)[0], ipb = addrs(rb)[0];
  t.notOk(ipa.startsWith('10.90.2.') || ipa.startsWith('10.90.15.'), `it took an address no record holds (${ipa})`);
  t.match(ra.stderr, /endpoint skipped: .*not JSON/, 'the large values are skipped and logged');
  t.equal(cl.call('check', h1, a, ov).status, 0);
  t.equal(ipJson(h1.name, 'neigh', 'show', 'dev', 'ovx42').length, 701, 'host 1 holds the 700 fit records and host 2\'s container');
  t.ok(ping(nsOf(a), ipb), 'a reaches b');
  for (const [h, x] of [[h1, a], [h2, b]] as const) t.equal(cl.call('del', h, x, ov).status, 0);
});

t.test('15 ADDs at once on three hosts (6 IP= and 9 dynamic): distinct addresses, each held once in etcd', { skip }, async (t) => {
  const cl = new Cluster(t);
  await cl.startEtcd(['e1']);
  const hosts = [cl.host(), cl.host(), cl.host()];
  const ctrs = Array.from({ length: 15 }, (_, i) => cl.container(`r${i}`));
  const { spawn } = await import('node:child_process');
  const run = (h: Host, c: Ctr, args: string) => new Promise<{ status: number | null; out: string; err: string }>((res) => {
    const p = spawn('ip', ['netns', 'exec', h.name, join(BIN, 'vxlan-overlay')], { env: { CNI_COMMAND: 'ADD', CNI_CONTAINERID: c.id, CNI_NETNS: c.path, CNI_IFNAME: 'eth0', CNI_PATH: BIN, CNI_ARGS: args } });
    let out = '', err = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { err += d; });
    p.on('exit', (status) => res({ status, out, err }));
    p.stdin.end(JSON.stringify({ cniVersion: '1.0.0', name: 'ov1', type: 'vxlan-overlay', vni: 42, subnet: '10.90.0.0/24', dataDir: join(cl.dir, 'data'), etcd: { endpoints: cl.endpoints } }));
  });
  // six ask for three addresses, two each, on different hosts: one of each pair wins
  const rs = await Promise.all(ctrs.map((c, i) => run(hosts[i % 3]!, c, i < 6 ? `IP=10.90.0.${200 + (i >> 1)}` : '')));
  const ok = rs.filter((r) => r.status === 0).map((r) => JSON.parse(r.out).ips[0].address.split('/')[0]);
  const refused = rs.filter((r) => r.status !== 0);
  t.equal(ok.length, 12, `12 ADDs succeed ${refused.map((r) => r.out).join(' ').slice(0, 300)}`);
  t.equal(refused.length, 3, 'one of each pair asking for the same address is refused');
  t.ok(refused.every((r) => JSON.parse(r.out).code === 101), 'with code 101');
  t.equal(new Set(ok).size, 12, 'all distinct');
  t.same(ok.filter((a) => /^10\.90\.0\.20[0-9]$/.test(a)).sort(), ['10.90.0.200', '10.90.0.201', '10.90.0.202'], 'the requested addresses, each once');
  t.equal(keys(cl).length, 12, 'one key each in etcd');
  for (const [i, c] of ctrs.entries()) if (rs[i]!.status !== 0) t.same(linkNames(nsOf(c)).filter((l: string) => l !== 'lo'), [], 'a refused ADD leaves nothing in its container');
});
