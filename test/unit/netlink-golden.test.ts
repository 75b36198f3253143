// rtnetlink decode and encode against bytes the kernel produced (test/fixtures/netlink, made
// by capture-netlink.ts): every message decodes to the objects we set up, and re-encoding the
// decoded header and attributes gives back the kernel's bytes exactly. No root needed.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { encodeAttrs } from '../../shared/netlink/attrs.ts';
import { IFLA_VXLAN, NLMSG, RTM, RT_SCOPE } from '../../shared/netlink/constants.ts';
import { parseAddress } from '../../shared/netlink/addr.ts';
import { parseLink } from '../../shared/netlink/link.ts';
import { decodeBody, decodeMessage, encodeMessage, ifaddrmsg, ifinfomsg, ndmsg, rtmsg, type Struct } from '../../shared/netlink/message.ts';
import { parseConntrack } from '../../shared/netlink/conntrack.ts';
import { parseNeighbour } from '../../shared/netlink/neigh.ts';
import { parseRoute } from '../../shared/netlink/route.ts';
import { errnoName } from '../../shared/netlink/socket.ts';

const fixture = (f: string): Buffer[] =>
  readFileSync(join(import.meta.dirname, '../fixtures/netlink', f), 'utf8').trim().split('\n').map((h) => Buffer.from(h, 'hex'));

function roundTrip<T>(t: Test, s: Struct<T>, raw: Buffer): void {
  const m = decodeMessage(raw);
  const { hdr, attrs } = decodeBody(s, m.payload);
  const again = encodeMessage(m, Buffer.concat([s.encode(hdr), encodeAttrs(attrs.list)]));
  t.same(again.toString('hex'), raw.toString('hex'), `type ${m.type} re-encodes byte for byte`);
}

const bodies = (f: string, type: number) => fixture(f).filter((b) => decodeMessage(b).type === type);

t.test('dumps end with NLMSG_DONE', async (t) => {
  for (const f of ['links.hex', 'addrs.hex', 'routes.hex', 'neighs.hex', 'conntrack.hex']) {
    const msgs = fixture(f);
    t.equal(decodeMessage(msgs.at(-1)!).type, NLMSG.DONE, f);
  }
});

t.test('links', async (t) => {
  const raws = bodies('links.hex', RTM.NEWLINK);
  for (const raw of raws) roundTrip(t, ifinfomsg, raw);
  const links = raws.map((r) => parseLink(decodeMessage(r).payload));
  const by = (n: string) => links.find((l) => l.name === n)!;
  t.same(links.map((l) => l.name).sort(), ['br0', 'lo', 'mv0', 'veth0', 'veth1', 'vx0']);
  t.equal(by('lo').mtu, 65536);
  t.equal(by('br0').kind, 'bridge');
  t.equal(by('br0').mac, '02:00:00:00:00:05');
  t.equal(by('veth0').kind, 'veth');
  t.equal(by('veth0').master, by('br0').index);
  t.equal(by('veth0').mtu, 1400);
  t.equal(by('veth0').slaveKind, 'bridge');
  t.equal(by('mv0').kind, 'macvlan');
  t.equal(by('mv0').parent, by('veth1').index);
  t.equal(by('mv0').info?.u32(1), 4, 'macvlan mode bridge');
  t.equal(by('vx0').kind, 'vxlan');
  t.equal(by('vx0').info?.u32(IFLA_VXLAN.ID), 42);
  t.equal(by('vx0').info?.u16be(IFLA_VXLAN.PORT), 4789);
  t.equal(by('vx0').info?.u8(IFLA_VXLAN.LEARNING), 0);
});

t.test('addresses', async (t) => {
  const raws = bodies('addrs.hex', RTM.NEWADDR);
  for (const raw of raws) roundTrip(t, ifaddrmsg, raw);
  const cidrs = raws.map((r) => parseAddress(decodeMessage(r).payload).cidr);
  t.ok(cidrs.includes('10.1.0.1/24'));
  t.ok(cidrs.includes('fd00:1::1/64'));
  t.ok(cidrs.includes('127.0.0.1/8'));
  const v6 = raws.map((r) => parseAddress(decodeMessage(r).payload)).find((a) => a.cidr === 'fd00:1::1/64')!;
  t.ok(v6.flags & 0x2, 'nodad flag decoded');
});

t.test('routes', async (t) => {
  const raws = bodies('routes.hex', RTM.NEWROUTE);
  for (const raw of raws) roundTrip(t, rtmsg, raw);
  const routes = raws.map((r) => parseRoute(decodeMessage(r).payload));
  const via = routes.find((r) => r.dst === '10.2.0.0/16')!;
  t.equal(via.gw, '10.1.0.254');
  t.equal(via.table, 254);
  const link = routes.find((r) => r.dst === '10.3.0.0/16')!;
  t.equal(link.scope, RT_SCOPE.LINK);
  t.equal(link.mtu, 1300);
  t.notOk(link.gw);
});

t.test('neighbours', async (t) => {
  const raws = bodies('neighs.hex', RTM.NEWNEIGH);
  for (const raw of raws) roundTrip(t, ndmsg, raw);
  const n = raws.map((r) => parseNeighbour(decodeMessage(r).payload)).find((x) => x.ip === '10.1.0.9')!;
  t.equal(n.mac, '02:00:00:00:00:09');
  t.equal(n.state, 0x80, 'permanent');
});

t.test('conntrack (ctnetlink) entries', async (t) => {
  const entries = fixture('conntrack.hex').map(decodeMessage).filter((m) => m.type === ((1 << 8) | 0)).map((m) => parseConntrack(m.payload));
  const udp = entries.find((e) => e.orig.proto === 17 && e.orig.dport === 40000)!;
  t.ok(udp, 'the UDP exchange is there');
  t.equal(udp.orig.src, '127.0.0.1');
  t.equal(udp.orig.sport, 40001);
  t.equal(udp.reply.src, '127.0.0.1');
  t.equal(udp.reply.sport, 40000);
  // the delete request carries the entry's original tuple exactly as the kernel sent it
  const raw = fixture('conntrack.hex').find((b) => b.includes(udp.origRaw))!;
  t.ok(raw, 'origRaw is a slice of the kernel message');
});

t.test('errno names (a static table for everyday ones) agree with node:os', async (t) => {
  const { constants } = await import('node:os');
  const errno = constants.errno as Record<string, number>;
  for (let n = 1; n < 134; n++) {
    const name = errnoName(n);
    if (!name.startsWith('errno ')) t.equal(errno[name], n, `${n} is ${name}`);
  }
  t.equal(errnoName(19), 'ENODEV');
});
