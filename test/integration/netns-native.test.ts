// The addon and the TypeScript netlink layer against the kernel, inside test namespaces only.
import { readFileSync, statSync } from 'node:fs';
import t from 'tap';
import { addAddress, deleteAddress, listAddresses } from '../../shared/netlink/addr.ts';
import { addLink, deleteLink, getLink, listLinks, requireLink, setLink } from '../../shared/netlink/link.ts';
import { addNeighbour, deleteNeighbour, listNeighbours } from '../../shared/netlink/neigh.ts';
import { addRoute, deleteRoute, listRoutes } from '../../shared/netlink/route.ts';
import { NetNS, withNetNSPath } from '../../shared/os/netns.ts';
import { ipJson, makeNetns } from '../helpers/netns.ts';

const here = () => statSync('/proc/thread-self/ns/net').ino;

t.test('run() enters the namespace and always restores, even on throw', async (t) => {
  const a = makeNetns(t);
  const before = here();
  const ns = NetNS.open(a.path);
  t.teardown(() => ns.close());
  const inside = ns.run(() => here());
  t.not(inside, before, 'was elsewhere inside');
  t.equal(inside, statSync(a.path).ino, 'inside the namespace asked for');
  t.equal(here(), before, 'back after return');
  t.throws(() => ns.run(() => { throw new Error('boom'); }), /boom/);
  t.equal(here(), before, 'back after throw');
  // sysctls read inside belong to the namespace
  ns.run(() => t.equal(readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim(), '0'));
});

t.test('opening bad paths', async (t) => {
  t.throws(() => NetNS.open('/run/netns/cnits-none'), { code: 'ENOENT' });
  t.throws(() => NetNS.open('/etc/hostname'), { code: 'ENOTNETNS' });
});

t.test('links, addresses, routes and neighbours', async (t) => {
  const a = makeNetns(t);
  const b = makeNetns(t);
  const peer = NetNS.open(b.path);
  t.teardown(() => peer.close());
  withNetNSPath(a.path, (_ns, nl) => {
    // veth whose peer is created directly in the other namespace
    addLink(nl, { name: 'vh0', spec: { kind: 'veth', peer: { name: 'eth0', nsFd: peer.fd, mac: '02:00:00:00:01:01' } }, mtu: 1400 });
    setLink(nl, requireLink(nl, 'vh0').index, { mac: '02:00:00:00:00:aa' });
    addLink(nl, { name: 'br0', spec: { kind: 'bridge' }, mtu: 1400 });
    // a macvlan needs a parent of its own: a bridge port cannot carry one (EBUSY)
    addLink(nl, { name: 'vp0', spec: { kind: 'veth', peer: { name: 'vp1' } } });
    addLink(nl, { name: 'mv0', spec: { kind: 'macvlan', mode: 'private' }, parent: requireLink(nl, 'vp0').index });
    addLink(nl, { name: 'vx0', spec: { kind: 'vxlan', vni: 7, port: 8472 } });
    const br = requireLink(nl, 'br0'), vh = requireLink(nl, 'vh0');
    setLink(nl, vh.index, { master: br.index, up: true });
    setLink(nl, br.index, { up: true });
    t.equal(getLink(nl, 'nope'), undefined);
    t.throws(() => addLink(nl, { name: 'br0', spec: { kind: 'bridge' } }), { code: 'EEXIST' });
    addAddress(nl, { index: br.index, cidr: '10.99.0.1/24', broadcast: true });
    addAddress(nl, { index: br.index, cidr: 'fd99::1/64', nodad: true });
    addRoute(nl, { dst: '10.98.0.0/16', gw: '10.99.0.254', oif: br.index });
    addRoute(nl, { dst: '10.97.0.0/16', oif: br.index, mtu: 1300 });
    addRoute(nl, { dst: '192.0.2.0/24', gw: '198.51.100.1', oif: br.index, onlink: true });
    addNeighbour(nl, { ifindex: br.index, ip: '10.99.0.9', mac: '02:00:00:00:00:09' });
    t.same(listLinks(nl).map((l) => l.name).sort(), ['br0', 'lo', 'mv0', 'vh0', 'vp0', 'vp1', 'vx0']);
    t.ok(listAddresses(nl, { index: br.index }).some((x) => x.cidr === 'fd99::1/64'));
    t.ok(listRoutes(nl, { family: 4 }).some((r) => r.dst === '10.98.0.0/16' && r.gw === '10.99.0.254'));
    t.ok(listNeighbours(nl).some((n) => n.ip === '10.99.0.9' && n.mac === '02:00:00:00:00:09'));
  });
  // what the kernel shows through iproute2
  const links = ipJson(a.name, '-d', 'link', 'show');
  const by = (n: string) => links.find((l: any) => l.ifname === n);
  t.equal(by('vh0').master, 'br0');
  t.equal(by('vh0').mtu, 1400);
  t.equal(by('vh0').address, '02:00:00:00:00:aa');
  t.equal(by('mv0').linkinfo.info_data.mode, 'private');
  t.equal(by('vx0').linkinfo.info_data.id, 7);
  t.equal(by('vx0').linkinfo.info_data.port, 8472);
  const eth0 = ipJson(b.name, 'link', 'show', 'eth0')[0];
  t.equal(eth0.address, '02:00:00:00:01:01', 'peer created in the other namespace with its MAC');
  const addrs = ipJson(a.name, 'addr', 'show', 'br0')[0].addr_info;
  t.ok(addrs.some((x: any) => x.local === '10.99.0.1' && x.broadcast === '10.99.0.255'));
  t.ok(addrs.some((x: any) => x.local === 'fd99::1' && x.nodad));
  const routes = ipJson(a.name, 'route', 'show');
  t.ok(routes.some((r: any) => r.dst === '10.97.0.0/16' && r.scope === 'link' && r.metrics?.[0]?.mtu === 1300));
  t.ok(routes.some((r: any) => r.dst === '192.0.2.0/24' && r.flags.includes('onlink')));

  withNetNSPath(a.path, (_ns, nl) => {
    const br = requireLink(nl, 'br0');
    deleteNeighbour(nl, { ifindex: br.index, ip: '10.99.0.9', mac: '02:00:00:00:00:09' });
    deleteRoute(nl, { dst: '10.98.0.0/16', gw: '10.99.0.254', oif: br.index });
    deleteAddress(nl, { index: br.index, cidr: '10.99.0.1/24' });
    setLink(nl, br.index, { name: 'br1' });
    deleteLink(nl, requireLink(nl, 'vh0').index);
    t.throws(() => deleteLink(nl, 9999), { code: 'ENODEV' });
  });
  t.notOk(ipJson(a.name, 'link', 'show').some((l: any) => l.ifname === 'vh0'));
  t.ok(ipJson(a.name, 'link', 'show').some((l: any) => l.ifname === 'br1'), 'renamed');
  t.notOk(ipJson(b.name, 'link', 'show').some((l: any) => l.ifname === 'eth0'), 'peer went with it');
  t.notOk(ipJson(a.name, 'route', 'show').some((r: any) => r.dst === '10.98.0.0/16'));
  t.notOk(ipJson(a.name, 'neigh', 'show').some((n: any) => n.dst === '10.99.0.9'));
});

t.test('moving a link to another namespace by fd, renamed on the way', async (t) => {
  const a = makeNetns(t);
  const b = makeNetns(t);
  const target = NetNS.open(b.path);
  t.teardown(() => target.close());
  withNetNSPath(a.path, (_ns, nl) => {
    addLink(nl, { name: 'mv1', spec: { kind: 'veth', peer: { name: 'mv1p' } } });
    setLink(nl, requireLink(nl, 'mv1').index, { nsFd: target.fd, name: 'moved0' });
  });
  t.notOk(ipJson(a.name, 'link', 'show').some((l: any) => l.ifname === 'mv1'));
  t.ok(ipJson(b.name, 'link', 'show').some((l: any) => l.ifname === 'moved0'));
});
