// vxlan-overlay across "hosts" (namespaces on an underlay bridge of the test's own), cluster
// state in a real etcd started by the test in that underlay namespace; plugins through the
// libcni client. Traffic only between the test's namespaces.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { haveBuild, ipJson } from '../helpers/netns.ts';
import { Cluster, haveEtcd, within, type Host } from '../helpers/overlay.ts';
import { ask, ping, serve } from '../helpers/topology.ts';

const skip = !haveBuild() ? 'npm run build first' : !haveEtcd() ? 'etcd-server is not installed (build/setup.sh installs it)' : false;
const routesTo = (h: Host, dev = 'ovx42') => ipJson(h.name, 'route', 'show', 'dev', dev).filter((r: any) => r.gateway).map((r: any) => r.dst).sort();
const neighs = (h: Host, dev = 'ovx42') => ipJson(h.name, 'neigh', 'show', 'dev', dev).map((n: any) => n.dst).sort();
const fdb = (h: Host, dev = 'ovx42') => JSON.parse(spawnSync('ip', ['netns', 'exec', h.name, 'bridge', '-j', 'fdb', 'show', 'dev', dev], { encoding: 'utf8' }).stdout || '[]').filter((e: any) => e.dst).map((e: any) => e.dst).sort();
const linkNames = (ns: string) => ipJson(ns, 'link', 'show').map((l: any) => l.ifname);

t.test('three hosts, a container on each: every pair pings and TCP crosses; a fourth joins under watchers; two overlays stay apart; MTU', { skip }, async (t) => {
  const cl = new Cluster(t);
  await cl.startEtcd(['e1']);
  const ov = cl.network('ov1', 42, '10.90.0.0/16');
  const hosts = [cl.host(), cl.host(), cl.host()];
  const ctrs = hosts.map((_, i) => cl.container(`c${i}`));
  const ips = hosts.map((h, i) => cl.add(h, ctrs[i]!, ov));
  const subnets = ips.map((ip) => ip.split('.').slice(0, 3).join('.'));
  t.equal(new Set(subnets).size, 3, 'three distinct host subnets');
  // without watchers: the next call on a host syncs its peers
  for (const [i, h] of hosts.entries()) t.equal(cl.call('check', h, ctrs[i]!, ov).status, 0, `CHECK on host ${i + 1}`);
  t.same(routesTo(hosts[0]!), [`${subnets[1]}.0/24`, `${subnets[2]}.0/24`], 'host 1: a route per remote host subnet, via the vxlan device');
  t.same(neighs(hosts[0]!), [`${subnets[1]}.0`, `${subnets[2]}.0`], 'a permanent neighbour per remote VTEP');
  t.same(fdb(hosts[0]!), [hosts[1]!.address, hosts[2]!.address], 'an FDB entry per remote underlay address');
  for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) if (i !== j) t.ok(ping(ctrs[i]!.path.split('/').at(-1)!, ips[j]!), `c${i} pings c${j}`);
  const ns = (c: { path: string }) => c.path.split('/').at(-1)!;
  await serve(t, ns(ctrs[2]!), 'tcp', 8080);
  t.equal(ask(ns(ctrs[0]!), 'tcp', ips[2]!, 8080), ips[0], 'TCP crosses, unmasqueraded inside the overlay');
  const eth0 = ipJson(ns(ctrs[0]!), 'link', 'show', 'eth0')[0];
  t.equal(eth0.mtu, 1450, 'container MTU: underlay 1500 - 50');
  const df = (size: number) => spawnSync('ip', ['netns', 'exec', ns(ctrs[0]!), 'ping', '-c1', '-W1', '-M', 'do', '-s', String(size), ips[1]!], { encoding: 'utf8' }).status === 0;
  t.ok(df(1450 - 28), 'a full-size packet with DF set crosses');
  t.notOk(df(1450 - 27), 'a larger one does not');

  // a sync process on each of the three: a fourth host's container is reachable from host 1 within 1 s
  for (const h of hosts) cl.startSync(h);
  await new Promise((r) => setTimeout(r, 300));
  const h4 = cl.host(), c4 = cl.container('c3');
  const ip4 = cl.add(h4, c4, ov);
  const took = await within(1000, () => ping(ns(ctrs[0]!), ip4));
  t.ok(took !== undefined, `the fourth host's container reachable from host 1 within 1 s (${took} ms)`);
  // the fourth host's last container leaves: the others' entries for it go within 1 s
  t.equal(cl.call('del', h4, c4, ov).status, 0);
  const sub4 = `${ip4.split('.').slice(0, 3).join('.')}.0/24`;
  const vtep4 = sub4.replace('/24', '');
  const gone = await within(1000, () => hosts.every((h) => !routesTo(h).includes(sub4) && !neighs(h).includes(vtep4) && !fdb(h).includes(h4.address)));
  t.ok(gone !== undefined, `its route, neighbour and FDB entries gone from every host within 1 s (${gone} ms)`);
  t.notOk(linkNames(h4.name).includes('ovx42'), 'the departed host: its vxlan device gone');
  t.notOk(linkNames(h4.name).includes('ovbr42'), 'and its bridge');

  // without a sync process: entries of a departed host go at the next call
  await cl.stopSync(hosts[0]!);
  const c5 = cl.container('c5');
  cl.add(h4, c5, ov);
  t.equal(cl.call('check', hosts[0]!, ctrs[0]!, ov).status, 0);
  const sub5 = routesTo(hosts[0]!).find((r: string) => !subnets.some((s) => r.startsWith(s)))!;
  t.ok(sub5, 'host 1 learnt the new host at its call');
  t.equal(cl.call('del', h4, c5, ov).status, 0);
  t.ok(routesTo(hosts[0]!).includes(sub5), 'no watcher on host 1: the entry stays until its next call');
  t.equal(cl.call('check', hosts[0]!, ctrs[0]!, ov).status, 0);
  t.notOk(routesTo(hosts[0]!).includes(sub5), 'and goes with it');

  // a second overlay on the same hosts (another VNI and subnet) cannot reach the first
  const ov2 = cl.network('ov2', 43, '10.91.0.0/16');
  const d0 = cl.container('d0'), d1 = cl.container('d1');
  const dip0 = cl.add(hosts[0]!, d0, ov2), dip1 = cl.add(hosts[1]!, d1, ov2);
  t.equal(cl.call('check', hosts[0]!, d0, ov2).status, 0);
  t.ok(ping(ns(d0), dip1), 'ov2 works across hosts');
  t.notOk(ping(ns(d0), ips[1]!), 'ov2 cannot reach ov1 on another host');
  t.notOk(ping(ns(ctrs[0]!), dip1), 'nor ov1 ov2');
  void dip0;

  for (const [i, h] of hosts.entries()) t.equal(cl.call('del', h, ctrs[i]!, ov).status, 0, `DEL c${i}`);
  for (const [h, c] of [[hosts[0]!, d0], [hosts[1]!, d1]] as const) t.equal(cl.call('del', h, c, ov2).status, 0);
  for (const h of hosts) t.notOk(linkNames(h.name).some((l: string) => l.startsWith('ovx') || l.startsWith('ovbr')), `${h.name}: nothing left`);
  const left = spawnSync('ip', ['netns', 'exec', cl.underlay.name, 'etcdctl', '--endpoints', cl.endpoints.join(','), 'get', '--prefix', '/cni-ts/overlay/', '--keys-only'], { encoding: 'utf8' }).stdout.trim();
  t.equal(left, '', 'every lease released');
});

t.test('etcd stopped: traffic goes on, a leased host still adds, a new host gets code 11 and nothing is left', { skip }, async (t) => {
  const cl = new Cluster(t);
  await cl.startEtcd(['e1']);
  const ov = cl.network('ov1', 42, '10.90.0.0/16');
  const [h1, h2, h3] = [cl.host(), cl.host(), cl.host()];
  const [a, b] = [cl.container('a'), cl.container('b')];
  const ipa = cl.add(h1, a, ov), ipb = cl.add(h2, b, ov);
  t.equal(cl.call('check', h1, a, ov).status, 0);
  cl.stopAllEtcd();
  const ns = (c: { path: string }) => c.path.split('/').at(-1)!;
  t.ok(ping(ns(a), ipb) && ping(ns(b), ipa), 'existing containers keep talking');
  const a2 = cl.container('a2');
  const t0 = Date.now();
  const ip2 = cl.add(h1, a2, ov);
  t.ok(ping(ns(a2), ipb), `an ADD on a host that holds its lease works (${Date.now() - t0} ms), with the peers last synced`);
  const c = cl.container('c');
  const r = cl.call('add', h3, c, ov);
  t.equal(r.status, 1);
  t.match(r.stderr, /code 11|try again later/i, 'a new lease: code 11');
  t.same(linkNames(h3.name).filter((l: string) => l !== 'lo' && l !== 'eth0'), [], 'nothing left on the new host');
  t.same(linkNames(ns(c)).filter((l: string) => l !== 'lo'), [], 'nor in its container');
  void ip2;
  for (const [h, x] of [[h1, a], [h1, a2], [h2, b]] as const) t.equal(cl.call('del', h, x, ov).status, 0, 'DEL without etcd');
});

t.test('etcd with TLS and client certificates; a wrong CA gives a clear error', { skip: skip || (spawnSync('openssl', ['version']).status !== 0 && 'no openssl') }, async (t) => {
  const cl = new Cluster(t);
  const d = cl.dir;
  const ossl = (...a: string[]) => { const r = spawnSync('openssl', a, { cwd: d, encoding: 'utf8' }); if (r.status !== 0) throw new Error(r.stderr); };
  ossl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=test-ca', '-keyout', 'ca.key', '-out', 'ca.pem');
  ossl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=other-ca', '-keyout', 'other.key', '-out', 'other.pem');
  writeFileSync(join(d, 'san.cnf'), 'subjectAltName=IP:192.168.77.250\nextendedKeyUsage=serverAuth,clientAuth\n');
  for (const n of ['server', 'client']) {
    ossl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${n}`, '-keyout', `${n}.key`, '-out', `${n}.csr`);
    ossl('x509', '-req', '-in', `${n}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '1', '-extfile', 'san.cnf', '-out', `${n}.pem`);
  }
  // (the server's certificate serves etcdctl's health check as a client certificate too)
  await cl.startEtcd(['e1'], { ca: join(d, 'ca.pem'), cert: join(d, 'server.pem'), key: join(d, 'server.key') });
  const good = cl.network('ovtls', 44, '10.92.0.0/16', {}, { caFile: join(d, 'ca.pem'), certFile: join(d, 'client.pem'), keyFile: join(d, 'client.key') });
  const h = cl.host(), c = cl.container('tls');
  cl.add(h, c, good);
  t.ok(existsSync(join(cl.dir, 'data', 'ovtls')), 'leased over TLS with a client certificate');
  t.equal(cl.call('del', h, c, good).status, 0);
  const bad = cl.network('ovbad', 45, '10.93.0.0/16', {}, { caFile: join(d, 'other.pem'), certFile: join(d, 'client.pem'), keyFile: join(d, 'client.key') });
  const r = cl.call('add', h, cl.container('bad'), bad);
  t.equal(r.status, 1);
  t.match(r.stderr, /etcd\.caFile.*does not verify/, 'the error names etcd.caFile and says the certificate does not verify');
});

t.test('three hosts\' first ADDs at once: three distinct subnets', { skip }, async (t) => {
  const cl = new Cluster(t);
  await cl.startEtcd(['e1']);
  const ov = cl.network('ov1', 42, '10.90.0.0/28'.replace('/28', '/22'));
  const hosts = [cl.host(), cl.host(), cl.host()];
  const ctrs = hosts.map((_, i) => cl.container(`r${i}`));
  const { spawn } = await import('node:child_process');
  const results = await Promise.all(hosts.map((h, i) => new Promise<string>((resolve) => {
    const p = spawn('ip', ['netns', 'exec', h.name, join(process.cwd(), 'build/cnictl'), 'add', 'ov1', ctrs[i]!.path], {
      env: { PATH: process.env.PATH!, NETCONFPATH: join(ov, '..'), CNI_PATH: join(process.cwd(), 'build/bin'), CNI_CACHE_DIR: join(cl.dir, 'cache'), CNI_CONTAINERID: ctrs[i]!.id },
    });
    let out = '', err = '';
    p.stdout.on('data', (x) => { out += x; });
    p.stderr.on('data', (x) => { err += x; });
    p.on('close', () => { try { resolve(JSON.parse(out).ips[0].address); } catch { resolve(`failed: ${err}`); } });
  })));
  t.notOk(results.some((r) => r.startsWith('failed')), 'every ADD succeeded', { results });
  t.equal(new Set(results.map((a) => a.split('.').slice(0, 3).join('.'))).size, 3, `three distinct subnets (${results.join(', ')})`);
  for (const [i, h] of hosts.entries()) cl.call('del', h, ctrs[i]!, ov);
});

t.test('a three-member etcd cluster: one member down, everything works; two down (no quorum), a new lease fails with code 11', { skip }, async (t) => {
  const cl = new Cluster(t);
  await cl.startEtcd(['m1', 'm2', 'm3']);
  const ov = cl.network('ov1', 42, '10.90.0.0/16');
  const [h1, h2, h3] = [cl.host(), cl.host(), cl.host()];
  const ns = (c: { path: string }) => c.path.split('/').at(-1)!;
  const a = cl.container('a');
  cl.add(h1, a, ov);
  cl.startSync(h1);
  cl.stopEtcd('m1');   // the first endpoint the plugin tries
  await new Promise((r) => setTimeout(r, 1200));   // a new leader if m1 led
  const b = cl.container('b');
  const ipb = cl.add(h2, b, ov);
  const took = await within(3000, () => ping(ns(a), ipb));
  t.ok(took !== undefined, `with one member down: ADD works, and the watcher (moved to another member) brings the new host in (${took} ms)`);
  t.equal(cl.call('del', h2, b, ov).status, 0, 'DEL works');
  cl.stopEtcd('m2');
  const c = cl.container('c');
  const r = cl.call('add', h3, c, ov);
  t.equal(r.status, 1);
  t.match(r.stderr, /try again later/i, 'no quorum: a new lease fails with code 11');
  t.same(linkNames(h3.name).filter((l: string) => l !== 'lo' && l !== 'eth0'), [], 'nothing left on that host');
  t.equal(cl.call('del', h1, a, ov).status, 0, 'DEL without quorum still cleans the host');
  t.same(readdirSync(join(cl.dir, 'data', 'ov1')).filter((f) => f.endsWith('.json')).length >= 1, true);
});

t.test('dns-hosts chained after vxlan-overlay: a host\'s containers resolve each other by name', { skip: skip || (spawnSync('dig', ['-v']).status !== 0 && 'no dig') }, async (t) => {
  const cl = new Cluster(t);
  await cl.startEtcd(['e1']);
  const ov = cl.network('ovdns', 46, '10.94.0.0/16', {}, {}, [{ type: 'dns-hosts', forward: false }]);
  const h = cl.host();
  const [a, b] = [cl.container('a'), cl.container('b')];
  cl.add(h, a, ov, 'K8S_POD_NAME=svc-a');
  const ipb = cl.add(h, b, ov, 'K8S_POD_NAME=svc-b');
  const ns = (c: { path: string }) => c.path.split('/').at(-1)!;
  const dig = spawnSync('ip', ['netns', 'exec', ns(a), 'dig', '+short', '+tries=1', '+time=2', '@127.0.0.11', '-q', 'svc-b', '-t', 'A'], { encoding: 'utf8' }).stdout.trim();
  t.equal(dig, ipb, 'svc-b resolves from a, inside the overlay container');
  for (const c of [a, b]) t.equal(cl.call('del', h, c, ov).status, 0);
});

t.test('hostile etcd leases: skipped and logged, ADDs go on, nothing routes the underlay into the tunnel; deleting them changes nothing', { skip }, async (t) => {
  const cl = new Cluster(t);
  await cl.startEtcd(['e1']);
  const ov = cl.network('ov', 42, '10.90.0.0/16');
  const [h1, h2] = [cl.host(), cl.host()];
  const [a, b] = [cl.container('a'), cl.container('b')];
  cl.add(h1, a, ov);
  const ipb = cl.add(h2, b, ov);
  const subnetB = ipb.replace(/\.\d+$/, '.0/24');
  const etcdctl = (...args: string[]) => spawnSync('ip', ['netns', 'exec', cl.underlay.name, 'etcdctl', '--endpoints', cl.endpoints.join(','), ...args], { encoding: 'utf8' });
  const leaseB = JSON.parse(etcdctl('get', '--print-value-only', `/cni-ts/overlay/ov/subnets/${subnetB.replace('/', '-')}`).stdout.trim());
  const key = (s: string) => `/cni-ts/overlay/ov/subnets/${s.replace('/', '-')}`;
  const evil = { host: 'evil', underlay: '192.168.77.99', mac: '0a:00:00:00:00:99', vni: 42 };
  const hostile: [string, unknown][] = [
    [key('192.168.77.0/24'), { ...evil, subnet: '192.168.77.0/24' }],            // the underlay, etcd and gateway into the tunnel
    [key('10.90.250.0/24'), { ...evil, subnet: subnetB }],                        // another host's subnet under a free key
    [key('10.90.251.0/24'), { ...evil, subnet: '10.90.251.0/24', mac: 'zz:zz' }],
    [key('10.90.252.0/24'), { ...evil, subnet: '10.90.252.0/24', underlay: 'not-an-ip' }],
    [key('10.90.253.0/24'), { ...evil, subnet: '10.90.253.0/24', mac: leaseB.mac }],   // h2's MAC, to take its traffic
  ];
  for (const [k, v] of hostile) t.equal(etcdctl('put', k, JSON.stringify(v)).status, 0);
  const c = cl.container('c');
  const r = cl.call('add', h1, c, ov);
  t.equal(r.status, 0, 'an ADD with hostile leases in etcd works');
  t.match(r.stderr, /lease skipped/, 'and logs what it skipped');
  const h3 = cl.host(), d = cl.container('d');
  cl.add(h3, d, ov);
  // h2 learns h3 at its next call that reaches etcd (no watchers here; a call that finds etcd
  // slow keeps the peers last synced)
  const subnetD = cl.add(h3, cl.container('d2'), ov).replace(/\.\d+$/, '.0/24');
  let checkErr = '';
  t.ok(await within(30000, () => { checkErr = cl.call('check', h2, b, ov).stderr; return routesTo(h2).includes(subnetD); }) !== undefined, `h2 routes h3's subnet (${checkErr.trim().split('\n').at(-1)})`);
  const ns = (x: { path: string }) => x.path.split('/').at(-1)!;
  t.ok(ping(ns(c), ipb) && ping(ns(d), ipb), 'containers on h1 and a new host h3 reach h2\'s');
  for (const h of [h1, h2, h3]) {
    const routes = ipJson(h.name, 'route', 'show').map((x: any) => x.dst);
    t.notOk(routes.some((x: string) => x.startsWith('192.168.77.') && x !== '192.168.77.0/24') || ipJson(h.name, 'route', 'show', 'dev', 'ovx42').some((x: any) => x.dst.startsWith('192.168.77.')), `${h.name}: no underlay route into the tunnel`);
    t.notOk(fdb(h).includes('192.168.77.99'), `${h.name}: no FDB entry to the hostile underlay`);
  }
  t.same(routesTo(h1).filter((x: string) => x === subnetB), [subnetB], 'h1 routes h2\'s subnet once, to h2');
  for (const [k] of hostile) etcdctl('del', k);
  cl.add(h1, cl.container('e'), ov);
  t.ok(ping(ns(c), ipb), 'deleting the hostile leases takes nothing of h2\'s with them');
  t.same(routesTo(h1).filter((x: string) => x === subnetB), [subnetB]);
  // a network that would route the host's own underlay into the tunnel is refused before anything is made
  const bad = cl.network('bad', 43, '192.168.0.0/16');
  const rb = cl.call('add', h1, cl.container('f'), bad);
  t.equal(rb.status, 1);
  t.match(rb.stderr, /holds this host's underlay address/);
  t.notOk(linkNames(h1.name).includes('ovx43'), 'no device made');
});

t.test('ttl: a host that stops renewing loses its subnet after the TTL and every other host drops its routes; back, it leases it again; etcd away, the sync process logs little', { skip }, async (t) => {
  const cl = new Cluster(t);
  await cl.startEtcd(['e1']);
  const ov = cl.network('ov1', 42, '10.90.0.0/16', { ttl: 3 });
  const hosts = [cl.host(), cl.host(), cl.host()];
  const ctrs = hosts.map((_, i) => cl.container(`c${i}`));
  const ips = hosts.map((h, i) => cl.add(h, ctrs[i]!, ov));
  const sub3 = `${ips[2]!.split('.').slice(0, 3).join('.')}.0/24`;
  const leaseKeys = () => cl.etcdctl('get', '--prefix', '/cni-ts/overlay/ov1/subnets/', '--keys-only').split('\n').filter(Boolean);
  for (const h of hosts) cl.startSync(h);
  await new Promise((r) => setTimeout(r, 4000));
  t.equal(leaseKeys().length, 3, 'renewed by the sync processes: every lease outlives the TTL');
  const ns = (c: { path: string }) => c.path.split('/').at(-1)!;
  t.ok(ping(ns(ctrs[0]!), ips[2]!), 'host 1 reaches host 3\'s container');
  await cl.stopSync(hosts[2]!);
  const gone = await within(8000, () => !leaseKeys().includes(`/cni-ts/overlay/ov1/subnets/${sub3.replace('/', '-')}`));
  t.ok(gone !== undefined, `host 3's lease gone after the TTL (${gone} ms)`);
  const forgotten = await within(1000, () => [0, 1].every((i) => !routesTo(hosts[i]!).includes(sub3) && !fdb(hosts[i]!).includes(hosts[2]!.address)));
  t.ok(forgotten !== undefined, `no route or FDB entry for it left on hosts 1 and 2 (${forgotten} ms)`);
  cl.startSync(hosts[2]!);
  const back = await within(5000, () => leaseKeys().length === 3 && ping(ns(ctrs[0]!), ips[2]!));
  t.ok(back !== undefined, `back: its lease is put again and host 1 reaches it (${back} ms)`);

  // etcd away: the sync processes back off (300 ms doubling to 10 s) and log a failure once a minute
  const before = (cl.syncLogs.get(hosts[0]!.name) ?? '').split('\n').length;
  cl.stopAllEtcd();
  await new Promise((r) => setTimeout(r, 5000));
  const lines = (cl.syncLogs.get(hosts[0]!.name) ?? '').split('\n').slice(before - 1).filter((l) => /etcd/.test(l));
  t.ok(lines.length >= 1 && lines.length <= 4, `etcd away for 5 s: ${lines.length} log lines (before the backoff, ~3 a second)`);
  t.ok(ping(ns(ctrs[0]!), ips[1]!), 'traffic goes on');
  for (const h of hosts) await cl.stopSync(h);
  for (const [i, h] of hosts.entries()) t.equal(cl.call('del', h, ctrs[i]!, ov).status, 0, 'DEL without etcd');
});
