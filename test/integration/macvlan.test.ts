// macvlan through the built executable: two containers on one parent (a veth end in the
// test's host netns) reach each other in bridge mode and do not in private mode.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { Chain, type Conflist } from '../helpers/chain.ts';
import { ipIn, ipJson, makeNetns } from '../helpers/netns.ts';
import { ping } from '../helpers/topology.ts';

function hostWithParent(t: Test) {
  const host = makeNetns(t, 'cnits-host');
  ipIn(host.name, 'link', 'add', 'parent0', 'type', 'veth', 'peer', 'name', 'wire0');
  ipIn(host.name, 'link', 'set', 'parent0', 'up');
  ipIn(host.name, 'link', 'set', 'wire0', 'up');
  const d = mkdtempSync(join(tmpdir(), 'cnits-mv-'));
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  return { host, dataDir: d };
}

const list = (mode: string, d: string, extra: Record<string, unknown> = {}): Conflist => ({
  cniVersion: '1.0.0', name: `mv-${mode}`,
  plugins: [{ type: 'macvlan', master: 'parent0', mode, ipam: { type: 'host-local', dataDir: d, ranges: [[{ subnet: '10.80.0.0/24' }]] }, ...extra }],
});

for (const mode of ['bridge', 'private']) {
  t.test(`${mode} mode`, async (t) => {
    const { host, dataDir } = hostWithParent(t);
    const ctrs = ['a', 'b'].map((id) => {
      const ns = makeNetns(t, 'cnits-ctr');
      const chain = new Chain(list(mode, dataDir), { host: host.name, containerId: id, netns: ns.path });
      const r = chain.add();
      t.equal(r.status, 0, r.stdout);
      return { ns, chain, ip: r.json.ips[0].address.split('/')[0] as string, result: r.json };
    });
    const [a, b] = ctrs as [typeof ctrs[0], typeof ctrs[0]];
    const eth0 = ipJson(a.ns.name, '-d', 'link', 'show', 'eth0')[0];
    t.equal(eth0.linkinfo.info_kind, 'macvlan');
    t.equal(eth0.linkinfo.info_data.mode, mode);
    t.same(a.result.interfaces, [{ name: 'eth0', sandbox: a.ns.path, mac: eth0.address }]);
    t.notOk(ipJson(host.name, 'link', 'show').some((l: any) => l.ifname.startsWith('ma')), 'no temporary link left in the host');
    t.equal(ping(a.ns.name, b.ip), mode === 'bridge', mode === 'bridge' ? 'containers reach each other' : 'private: they do not');
    t.same(a.chain.check().map((c) => c.status), [0]);
    t.same(a.chain.del().map((d) => d.status), [0]);
    t.notOk(ipJson(a.ns.name, 'link', 'show').some((l: any) => l.ifname === 'eth0'), 'link gone after DEL');
    t.same(a.chain.del().map((d) => d.status), [0], 'DEL again');
    t.same(b.chain.del('').map((d) => d.status), [0], 'DEL with empty netns');
  });
}

t.test("a default route via the gateway, as Docker gives it; defaultRoute: false, none (the reference's)", async (t) => {
  const { host, dataDir } = hostWithParent(t);
  for (const [defaultRoute, want] of [[undefined, '10.80.0.1'], [false, undefined]] as const) {
    const ns = makeNetns(t, 'cnits-ctr');
    const conf = list('bridge', join(dataDir, String(defaultRoute)), defaultRoute === undefined ? {} : { defaultRoute });
    const chain = new Chain(conf, { host: host.name, containerId: `dr-${defaultRoute}`, netns: ns.path });
    const r = chain.add();
    t.equal(r.status, 0, r.stdout);
    const def = ipJson(ns.name, 'route', 'show', 'default')[0];
    t.equal(def?.gateway, want, want ? `the container's default route is via the gateway ${want}` : 'no default route');
    t.same(r.json.routes ?? [], want ? [{ dst: '0.0.0.0/0', gw: want }] : [], 'and the result says so');
    t.same(chain.check().map((c) => c.status), [0], 'CHECK');
    t.same(chain.del().map((d) => d.status), [0]);
  }
  // a result that has a default route already keeps it, and gets no second
  const ns = makeNetns(t, 'cnits-ctr');
  const own = list('bridge', join(dataDir, 'own'));
  (own.plugins[0]!.ipam as Record<string, unknown>).routes = [{ dst: '0.0.0.0/0', gw: '10.80.0.254' }];
  const r = new Chain(own, { host: host.name, containerId: 'dr-own', netns: ns.path }).add();
  t.equal(r.status, 0, r.stdout);
  t.same(r.json.routes, [{ dst: '0.0.0.0/0', gw: '10.80.0.254' }], "the IPAM's default route, alone");
});

t.test('no ipam: an interface without addresses; empty master: the default-route interface', async (t) => {
  const { host } = hostWithParent(t);
  ipIn(host.name, 'addr', 'add', '192.0.2.1/24', 'dev', 'parent0');
  ipIn(host.name, 'route', 'add', 'default', 'via', '192.0.2.254', 'dev', 'parent0');
  const ns = makeNetns(t, 'cnits-ctr');
  const c = new Chain({ cniVersion: '1.0.0', name: 'mvn', plugins: [{ type: 'macvlan', master: '', mode: 'bridge' }] }, { host: host.name, containerId: 'x', netns: ns.path });
  const r = c.add();
  t.equal(r.status, 0, r.stdout);
  t.notOk(r.json.ips);
  const eth0 = ipJson(ns.name, '-d', 'addr', 'show', 'eth0')[0];
  t.equal(eth0.link_netnsid !== undefined || eth0.link !== undefined, true);
  t.same(eth0.addr_info.filter((a: any) => a.family === 'inet'), []);
});

t.test('errors: missing master, existing ifname; nothing left behind', async (t) => {
  const { host, dataDir } = hostWithParent(t);
  const ns = makeNetns(t, 'cnits-ctr');
  const bad = new Chain(list('bridge', dataDir, { master: 'nope0' }), { host: host.name, containerId: 'x', netns: ns.path }).add();
  t.equal(bad.json.code, 7);
  t.match(bad.json.msg, /master "nope0" does not exist/);
  ipIn(ns.name, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0p');
  const clash = new Chain(list('bridge', dataDir), { host: host.name, containerId: 'y', netns: ns.path }).add();
  t.equal(clash.status, 1);
  t.match(clash.json.msg, /already exists/);
  t.same(ipJson(ns.name, 'link', 'show').map((l: any) => l.ifname).sort(), ['eth0', 'eth0p', 'lo']);
});

t.test('ipvlan where the kernel lacks it: a clear error, not an errno', async (t) => {
  const { host, dataDir } = hostWithParent(t);
  const probe = makeNetns(t, 'cnits-probe');
  ipIn(probe.name, 'link', 'add', 'p0', 'type', 'veth', 'peer', 'name', 'p1');
  let kernelHasIpvlan = true;
  try { ipIn(probe.name, 'link', 'add', 'ipv0', 'link', 'p0', 'type', 'ipvlan'); } catch { kernelHasIpvlan = false; }
  const ns = makeNetns(t, 'cnits-ctr');
  const r = new Chain({ cniVersion: '1.0.0', name: 'ipv', plugins: [{ type: 'ipvlan', master: 'parent0', mode: 'l2', ipam: { type: 'host-local', dataDir, ranges: [[{ subnet: '10.81.0.0/24' }]] } }] }, { host: host.name, containerId: 'x', netns: ns.path }).add();
  if (kernelHasIpvlan) {
    t.equal(r.status, 0, 'this kernel has ipvlan: ADD works (the guest suite tests it fully)');
  } else {
    t.equal(r.status, 1);
    t.equal(r.json.msg, 'ipvlan is not supported by this kernel (module ipvlan)');
    t.same(ipJson(ns.name, 'link', 'show').map((l: any) => l.ifname), ['lo'], 'nothing left in the container');
  }
});

t.test('internal where the kernel lacks dummy links: a clear error, nothing left; internal beside master: a config error', async (t) => {
  const { host, dataDir } = hostWithParent(t);
  const probe = makeNetns(t, 'cnits-probe');
  let kernelHasDummy = true;
  try { ipIn(probe.name, 'link', 'add', 'd0', 'type', 'dummy'); } catch { kernelHasDummy = false; }
  const ns = makeNetns(t, 'cnits-ctr');
  const conf = (extra: Record<string, unknown>): Conflist => ({ cniVersion: '1.0.0', name: 'mvint', plugins: [{ type: 'macvlan', internal: true, ipam: { type: 'host-local', dataDir, ranges: [[{ subnet: '10.82.0.0/24' }]] }, ...extra }] });
  const hostLinks = () => ipJson(host.name, 'link', 'show').map((l: any) => l.ifname).sort();
  const before = hostLinks();
  const bad = new Chain(conf({ master: 'parent0' }), { host: host.name, containerId: 'x', netns: ns.path }).add();
  t.equal(bad.json.code, 7);
  t.equal(bad.json.msg, "invalid network config: master cannot be combined with internal: an internal network's parent is a dummy link made for it");
  const r = new Chain(conf({}), { host: host.name, containerId: 'x', netns: ns.path }).add();
  if (kernelHasDummy) {
    t.equal(r.status, 0, 'this kernel has dummy links: ADD works (the guest suite tests it fully)');
  } else {
    t.equal(r.status, 1);
    t.equal(r.json.msg, 'internal networks need dummy links, which this kernel does not support (module dummy)');
    t.same(hostLinks(), before, 'no parent left on the host');
    t.same(ipJson(ns.name, 'link', 'show').map((l: any) => l.ifname), ['lo'], 'nothing left in the container');
  }
});
