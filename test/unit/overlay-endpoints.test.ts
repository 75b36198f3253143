// vxlan-overlay's l2 mode without root or etcd: the pools a config gives (pools.ts), and the
// endpoints read from etcd (endpoints.ts parseEndpoints): every value is somebody's write, and
// only endpoints fit for the kernel become neighbour and FDB entries.
import t from 'tap';
import { macFor, parseEndpoints } from '../../plugins/vxlan-overlay/endpoints.ts';
import { assignable, freeIn, poolsOf } from '../../plugins/vxlan-overlay/pools.ts';
import type { KV } from '../../plugins/cluster/etcd.ts';
import type { OverlayConf } from '../../plugins/vxlan-overlay/config.ts';

const conf = (over: Record<string, unknown>): OverlayConf => ({ cniVersion: '1.0.0', name: 'ov', type: 'vxlan-overlay', vni: 42, etcd: { endpoints: ['http://192.0.2.1:2379'] }, ...over }) as OverlayConf;
const pools = poolsOf(conf({ subnets: [{ subnet: '10.90.0.0/24', ipRange: '10.90.0.128/25', gateway: '10.90.0.254', auxAddresses: { p: '10.90.0.5' } }, { subnet: 'fd00:90::/64' }] }));
const P = '/cni-ts/overlay/ov/endpoints/';
let rev = 1;
const kv = (ip: string, value: unknown): KV => ({ key: `${P}${ip}`, value: typeof value === 'string' ? value : JSON.stringify(value), modRevision: rev, createRevision: rev++ });
const ep = (ip: string, n: number, over: Record<string, unknown> = {}) => ({ ip, mac: `02:42:00:00:00:0${n}`, underlay: `192.0.2.${n}`, host: `m${n}/192.0.2.${n}`, id: `c${n}/eth0`, vni: 42, ...over });

t.test('pools: defaults, reserved addresses, the range', async (t) => {
  t.same(pools.map((p) => [p.subnet, p.gateway]), [['10.90.0.0/24', '10.90.0.254'], ['fd00:90::/64', 'fd00:90::1']]);
  for (const a of ['10.90.0.0', '10.90.0.255', '10.90.0.254', '10.90.0.5', 'fd00:90::', 'fd00:90::1', '10.91.0.1']) t.notOk(assignable(pools, a), `${a} is not assignable`);
  for (const a of ['10.90.0.2', '10.90.0.200', 'fd00:90::2']) t.ok(assignable(pools, a), `${a} is`);
  t.same(freeIn(pools[0]!, new Set(['10.90.0.128']), 2), ['10.90.0.129', '10.90.0.130'], 'the range, from its lowest free address');
  const huge = new Set(Array.from({ length: 1000 }, (_, i) => `fd00:90::${(i + 2).toString(16)}`));
  t.same(freeIn(pools[1]!, huge, 1), [`fd00:90::${(1002).toString(16)}`], 'a /64 is walked only past what is taken');
  t.throws(() => poolsOf(conf({ subnets: [{ subnet: '10.90.0.0/31' }] })), /no room/);
  t.throws(() => poolsOf(conf({ subnets: [{ subnet: '10.90.0.0/24', gateway: '10.90.0.255' }] })), /network or broadcast/);
  t.throws(() => poolsOf(conf({ subnets: [{ subnet: '10.90.0.0/24', auxAddresses: { x: 'fd00::1' } }] })), /auxAddresses\.x fd00::1 is outside/);
  t.throws(() => poolsOf(conf({ subnets: [] })), /subnets is missing or empty/);
  t.throws(() => poolsOf(conf({ subnet: '10.90.0.0/24', subnets: [{ subnet: '10.91.0.0/24' }] })), /both given/);
  t.same(poolsOf(conf({ subnet: '10.90.0.7/24' })).map((p) => p.subnet), ['10.90.0.0/24'], 'the short form, as a network address');
});

t.test('Docker\'s container MAC', async (t) => {
  t.equal(macFor(['10.90.0.130', 'fd00:90::2']), '02:42:0a:5a:00:82');
  t.match(macFor(['fd00:90::2']), /^02(:[0-9a-f]{2}){5}$/);
  t.not(macFor(['fd00:90::2']), macFor(['fd00:91::2']));
});

t.test('good endpoints are used; each hostile kind is skipped and the others still count', async (t) => {
  const good = [kv('10.90.0.130', ep('10.90.0.130', 1)), kv('fd00:90::2', ep('fd00:90::2', 1))];
  const r = parseEndpoints(good, P, pools);
  t.same(r.endpoints.map((e) => e.ip), ['10.90.0.130', 'fd00:90::2']);
  t.same(r.skipped, []);
  const cases: [string, KV, RegExp][] = [
    ['an address its key does not name', kv('10.90.0.131', ep('10.90.0.132', 3)), /not the one its key names/],
    ['an address outside the subnets', kv('192.168.250.1', ep('192.168.250.1', 3)), /outside the network's subnets or reserved/],
    ['the gateway', kv('10.90.0.254', ep('10.90.0.254', 3)), /reserved/],
    ['an aux address', kv('10.90.0.5', ep('10.90.0.5', 3)), /reserved/],
    ['an address not in canonical form', kv('fd00:90:0::3', ep('fd00:90:0::3', 3)), /canonical/],
    ['a bad MAC', kv('10.90.0.140', ep('10.90.0.140', 3, { mac: 'zz:zz' })), /mac/],
    ['a multicast MAC', kv('10.90.0.140', ep('10.90.0.140', 3, { mac: '01:00:5e:00:00:01' })), /mac/],
    ['an upper-case MAC', kv('10.90.0.140', ep('10.90.0.140', 3, { mac: '02:42:AA:00:00:01' })), /mac/],
    ['a bad underlay', kv('10.90.0.140', ep('10.90.0.140', 3, { underlay: 'not-an-ip' })), /underlay/],
    ['an IPv6 underlay', kv('10.90.0.140', ep('10.90.0.140', 3, { underlay: '2001:db8::1' })), /underlay is not an IPv4/],
    ['an underlay inside the overlay', kv('10.90.0.140', ep('10.90.0.140', 3, { underlay: '10.90.0.7' })), /inside the overlay/],
    ['a multicast underlay', kv('10.90.0.140', ep('10.90.0.140', 3, { underlay: '239.1.1.1' })), /unicast/],
    ['a VNI out of range', kv('10.90.0.140', ep('10.90.0.140', 3, { vni: 0 })), /vni/],
    ['a host that is not a string', kv('10.90.0.140', ep('10.90.0.140', 3, { host: 7 })), /host or id/],
    ['no JSON', kv('10.90.0.140', '{"ip":'), /not JSON/],
    ['null', kv('10.90.0.140', 'null'), /object/],
    ['a MAC of an older endpoint on another host', kv('10.90.0.140', ep('10.90.0.140', 3, { mac: '02:42:00:00:00:01' })), /older endpoint's of another host/],
  ];
  for (const [what, bad, why] of cases) {
    const r = parseEndpoints([...good, bad], P, pools);
    t.same(r.endpoints.map((e) => e.ip), ['10.90.0.130', 'fd00:90::2'], `${what}: skipped, the good ones kept`);
    t.equal(r.skipped.length, 1);
    t.match(r.skipped[0], why, `${what}: the reason is logged`);
    t.ok(r.taken.has(bad.key.slice(P.length)), `${what}: its key still counts as taken`);
  }
  // one container's two addresses share a MAC: not a clash
  const same = parseEndpoints([...good, kv('10.90.0.140', ep('10.90.0.140', 1, { id: 'c1/eth1' }))], P, pools);
  t.equal(same.endpoints.length, 3, 'one host holding a MAC twice is no clash');
  // the older holder of a MAC wins whichever comes first in the reply
  const late = parseEndpoints([kv('10.90.0.141', ep('10.90.0.141', 4, { mac: '02:42:00:00:00:09' })), { ...kv('10.90.0.142', ep('10.90.0.142', 5, { mac: '02:42:00:00:00:09' })), createRevision: 0 }], P, pools);
  t.same(late.endpoints.map((e) => e.ip), ['10.90.0.142'], 'by create revision');
});
