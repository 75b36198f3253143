// vxlan-overlay's leases as read from etcd: every value is somebody's write, and only leases
// fit for the kernel are used (lease.ts parseLeases). No root, no etcd: KV lists as etcd gives them.
import t from 'tap';
import { parseLeases, unfitPeer, type LeaseRules } from '../../plugins/vxlan-overlay/lease.ts';
import type { KV } from '../../plugins/cluster/etcd.ts';

const P = '/cni-ts/overlay/ov/subnets/';
const rules: LeaseRules = { keyPrefix: P, network: '10.90.0.0/16', hostLen: 24 };
let rev = 1;
const kv = (subnet: string, value: unknown): KV => ({ key: `${P}${subnet.replace('/', '-')}`, value: typeof value === 'string' ? value : JSON.stringify(value), modRevision: rev, createRevision: rev++ });
const lease = (subnet: string, n: number, over: Record<string, unknown> = {}) => ({ subnet, host: `m${n}/192.0.2.${n}`, underlay: `192.0.2.${n}`, mac: `0a:00:00:00:00:0${n}`, vni: 42, ...over });

t.test('good leases are used, in etcd order', async (t) => {
  const r = parseLeases([kv('10.90.1.0/24', lease('10.90.1.0/24', 1)), kv('10.90.2.0/24', lease('10.90.2.0/24', 2))], rules);
  t.same(r.leases.map((l) => l.subnet), ['10.90.1.0/24', '10.90.2.0/24']);
  t.same(r.skipped, []);
  t.same([...r.taken].sort(), ['10.90.1.0/24', '10.90.2.0/24']);
});

t.test('each hostile value the overlay issue found is skipped, and the others still count', async (t) => {
  const good = kv('10.90.1.0/24', lease('10.90.1.0/24', 1));
  const cases: [string, KV, RegExp][] = [
    ['a subnet covering the hosts own network', kv('10.90.7.0/24', lease('192.168.250.128/25', 3)), /not a \/24 network address/],
    ['a subnet outside the network', kv('10.90.8.0/24', lease('192.168.250.0/24', 3)), /outside the network/],
    ['another host\'s subnet under a free key', kv('10.90.9.0/24', lease('10.90.1.0/24', 3)), /not the one its key names/],
    ['a bad MAC', kv('10.90.3.0/24', lease('10.90.3.0/24', 3, { mac: 'zz:zz' })), /mac/],
    ['a multicast MAC', kv('10.90.3.0/24', lease('10.90.3.0/24', 3, { mac: '01:00:5e:00:00:01' })), /mac/],
    ['a bad underlay', kv('10.90.3.0/24', lease('10.90.3.0/24', 3, { underlay: 'not-an-ip' })), /underlay/],
    ['an underlay inside the overlay', kv('10.90.3.0/24', lease('10.90.3.0/24', 3, { underlay: '10.90.1.1' })), /inside the overlay/],
    ['a loopback underlay', kv('10.90.3.0/24', lease('10.90.3.0/24', 3, { underlay: '127.0.0.1' })), /unicast/],
    ['a VNI out of range', kv('10.90.3.0/24', lease('10.90.3.0/24', 3, { vni: 1 << 24 })), /vni/],
    ['no JSON', kv('10.90.3.0/24', '{"subnet":'), /not JSON/],
    ['an array', kv('10.90.3.0/24', '[]'), /object/],
    ['a host copied from an older lease', kv('10.90.3.0/24', lease('10.90.3.0/24', 3, { host: 'm1/192.0.2.1' })), /host .* older lease/],
    ['a MAC copied from an older lease', kv('10.90.3.0/24', lease('10.90.3.0/24', 3, { mac: '0a:00:00:00:00:01' })), /mac .* older lease/],
    ['an underlay copied from an older lease', kv('10.90.3.0/24', lease('10.90.3.0/24', 3, { underlay: '192.0.2.1' })), /underlay .* older lease/],
  ];
  for (const [what, bad, why] of cases) {
    const r = parseLeases([good, bad], rules);
    t.same(r.leases.map((l) => l.subnet), ['10.90.1.0/24'], `${what}: skipped, the good lease kept`);
    t.equal(r.skipped.length, 1, what);
    t.match(r.skipped[0], why, what);
  }
});

t.test('the older of two claims stays whichever order etcd lists them in', async (t) => {
  const first = kv('10.90.1.0/24', lease('10.90.1.0/24', 1));
  const copy = kv('10.90.5.0/24', lease('10.90.5.0/24', 5, { mac: '0a:00:00:00:00:01' }));
  t.same(parseLeases([copy, first], rules).leases.map((l) => l.subnet), ['10.90.1.0/24']);
});

t.test('a key held by an unfit value is still taken (a new lease must not try it); other prefixes are ignored', async (t) => {
  const r = parseLeases([kv('10.90.3.0/24', 'garbage'), { key: '/other/10.90.4.0-24', value: '{}', modRevision: 1, createRevision: 1 }], rules);
  t.same([...r.taken], ['10.90.3.0/24']);
  t.same(r.leases, []);
});

t.test('a state file peer is checked as a lease is (no key, host or VNI of its own)', async (t) => {
  const r = { network: '10.90.0.0/16', hostLen: 24 };
  t.equal(unfitPeer({ subnet: '10.90.2.0/24', underlay: '192.0.2.2', mac: '0a:00:00:00:00:02' }, r), undefined);
  t.match(unfitPeer({ subnet: '192.168.250.128/25', underlay: '192.0.2.2', mac: '0a:00:00:00:00:02' }, r), /not a \/24 network address/);
  t.match(unfitPeer({ subnet: '10.90.2.0/24', underlay: '192.0.2.2', mac: 'zz:zz' }, r), /mac/);
  t.match(unfitPeer({ subnet: '10.90.2.0/24', underlay: '10.90.3.1', mac: '0a:00:00:00:00:02' }, r), /inside the overlay/);
  t.match(unfitPeer('peer', r), /object/);
});
