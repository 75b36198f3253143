// dns-hosts' answers without root or sockets: the tables the resolver builds from records and
// what one query gets, decoded with dns-packet as a client would.
import * as packet from 'dns-packet';
import t from 'tap';
import { answer, buildTables, reverseAddress, scopeOf } from '../../plugins/dns-hosts/resolver/answer.ts';
import type { Attachment } from '../../plugins/dns-hosts/records.ts';
import { isDnsName, parseLink, parseUpstream } from '../../shared/cni/refinements.ts';

const rec = (network: string, cookie: string, name: string, ips: string[], more: Partial<Attachment> = {}): Attachment => ({
  network, containerId: `${name}id0123456789`, ifname: 'eth0', netns: `/run/netns/${name}`, cookie, listen: '127.0.0.11', name, shortId: `${name}id0123456`.slice(0, 12),
  aliases: [], links: [], ips, upstreams: ['192.0.2.53:53'], forward: true, ...more,
});

const world = [
  rec('iso', '1', 'web', ['172.25.0.2', 'fd00::2'], { aliases: ['app'] }),
  rec('iso', '2', 'db', ['172.25.0.3'], { aliases: ['app'], links: [{ target: 'web', alias: 'w' }, { target: 'later', alias: 'l' }] }),
  rec('other', '3', 'cache', ['10.9.0.2'], { domainName: 'dns.podman' }),
  rec('other', '2', 'db', ['10.9.0.3']),
];
const tables = buildTables(world);
const scope = (cookie: string) => scopeOf(world.filter((a) => a.cookie === cookie));

interface Asked { forward?: true; rcode?: string; data: string[]; id?: number; tc?: boolean; ttl?: (number | undefined)[] }
function ask(cookie: string, name: string, type: packet.RecordType = 'A', udp = false, turn = 0): Asked {
  const q = packet.encode({ id: 7, type: 'query', flags: packet.RECURSION_DESIRED, questions: [{ type, name }] });
  const out = answer(tables, scope(cookie), q, turn, udp);
  if (!('reply' in out)) return { forward: true, data: [] };
  const r = packet.decode(out.reply) as packet.DecodedPacket & { rcode: string };
  return { rcode: r.rcode, data: (r.answers ?? []).map((a) => String((a as { data: unknown }).data)), id: r.id, tc: !!((r.flags ?? 0) & (1 << 9)), ttl: (r.answers ?? []).map((a) => (a as { ttl?: number }).ttl) };
}

t.test('names, short IDs, aliases and name.network, only in the querier networks', async (t) => {
  t.same(ask('2', 'web').data, ['172.25.0.2']);
  t.same(ask('2', 'WEB.iso.').data, ['172.25.0.2'], 'case-insensitive, name.network, trailing dot');
  t.same(ask('2', 'web', 'AAAA').data, ['fd00::2']);
  t.same(ask('1', 'db').data, ['172.25.0.3'], 'only the addresses on networks both share');
  t.same(ask('2', 'db').data.sort(), ['10.9.0.3', '172.25.0.3'], 'the union of the querier networks');
  t.same(ask('1', 'cache'), { forward: true, data: [] }, 'a name of another network is not ours to answer');
  t.same(ask('3', 'cache.dns.podman').data, ['10.9.0.2'], 'name.domainName');
  t.equal(ask('3', 'nothing.dns.podman').rcode, 'NXDOMAIN', 'our own domain is never forwarded');
  t.equal(ask('1', 'dbid0123456').rcode, 'NOERROR', 'the short ID');
  t.equal(ask('2', 'db', 'AAAA').rcode, 'NOERROR', 'a name without addresses of the type: NODATA');
  t.same(ask('2', 'db', 'AAAA').data, []);
  t.same(ask('2', 'web').ttl, [0], 'TTL 0');
  t.equal(ask('2', 'web').id, 7);
});

t.test('links: only for the declaring container, resolved at query time', async (t) => {
  t.same(ask('2', 'w').data, ['172.25.0.2']);
  t.same(ask('1', 'w'), { forward: true, data: [] }, 'another container does not see it');
  t.equal(ask('2', 'l').rcode, 'NOERROR', 'a link whose target does not exist yet is ours (no address)');
  t.same(ask('2', 'l').data, []);
});

t.test('shared aliases: every address, rotating', async (t) => {
  const a = ask('1', 'app', 'A', false, 0).data, b = ask('1', 'app', 'A', false, 1).data;
  t.same([...a].sort(), ['172.25.0.2', '172.25.0.3']);
  t.not(a[0], b[0]);
});

t.test('PTR, forwarding, FORMERR, truncation', async (t) => {
  t.same(ask('2', '2.0.25.172.in-addr.arpa', 'PTR').data, ['web.iso']);
  t.same(ask('1', '2.0.9.10.in-addr.arpa', 'PTR'), { forward: true, data: [] }, 'an address on no network of the querier');
  t.same(ask('2', '2.0.9.10.in-addr.arpa', 'PTR').data, ['cache.other'], 'on one of its networks');
  t.equal(reverseAddress('2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa'), 'fd00::2', 'in the one spelling the PTR table uses (RFC 5952)');
  t.same(ask('2', '2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa', 'PTR').data, ['web.iso'], 'PTR for an IPv6 address');
  t.same(ask('2', 'example.org'), { forward: true, data: [] });
  t.same(answer(tables, scope('2'), Buffer.from([0, 9, 1]), 0), { drop: true }, 'less than a header: no reply');
  const bad = answer(tables, scope('2'), Buffer.from([0, 9, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 63, 1]), 0);
  t.ok('reply' in bad && bad.reply.readUInt16BE(2) & 0x8000 && (bad.reply.readUInt16BE(2) & 15) === 1, 'FORMERR for a query whose question is garbage');
  const many = buildTables(Array.from({ length: 60 }, (_, i) => rec('big', '9', `n${i}`, [`10.8.0.${i + 1}`], { aliases: ['all'] })));
  const q = packet.encode({ id: 1, type: 'query', questions: [{ type: 'A', name: 'all' }] });
  const s = scopeOf([rec('big', '9', 'n0', ['10.8.0.1'])]);
  const udp = answer(many, s, q, 0, true) as { reply: Buffer };
  t.ok(udp.reply.readUInt16BE(2) & (1 << 9), 'over 512 bytes by UDP: TC, the client asks over TCP');
  const tcp = packet.decode((answer(many, s, q, 0, false) as { reply: Buffer }).reply);
  t.equal(tcp.answers?.length, 60, 'over TCP: all of them');
});

t.test('names, links and upstreams as the config gives them', async (t) => {
  t.ok(isDnsName('my-app_1.svc'));
  t.notOk(isDnsName('no way'));
  t.notOk(isDnsName('a'.repeat(64)), 'a label over 63');
  t.notOk(isDnsName(`${'a.'.repeat(127)}ab`), 'over 253');
  t.same(parseLink('container5:c5'), { target: 'container5', alias: 'c5' });
  t.same(parseLink('/container5:/container4/c5'), { target: 'container5', alias: 'c5' }, "Docker's stored form");
  t.same(parseLink('db'), { target: 'db', alias: 'db' });
  t.equal(parseLink('a:b:c'), undefined);
  t.same(parseUpstream('[fd00::53]:5353'), { address: 'fd00::53', port: 5353 });
  t.same(parseUpstream('fd00::53'), { address: 'fd00::53', port: 53 });
  t.same(parseUpstream('192.0.2.1:54'), { address: '192.0.2.1', port: 54 });
  t.equal(parseUpstream('host.example:53'), undefined);
});

t.test('what is not a standard query: responses dropped, other opcodes NOTIMP, other classes REFUSED', async (t) => {
  const q = (over: Partial<packet.Packet> & { flags?: number }, klass: string = 'IN') =>
    packet.encode({ id: 9, type: 'query', flags: packet.RECURSION_DESIRED, questions: [{ type: 'A', name: 'web', class: klass as 'IN' }], ...over });
  for (const udp of [true, false]) {
    const how = udp ? 'UDP' : 'TCP';
    t.same(answer(tables, scope('2'), packet.encode({ id: 9, type: 'response', flags: packet.RECURSION_DESIRED, questions: [{ type: 'A', name: 'web' }] }), 0, udp), { drop: true }, `${how}: a response (QR=1) gets no reply`);
    // our own reply, sent back to us (a spoofed datagram from 127.0.0.11:53 to itself): dropped
    const ours = answer(tables, scope('2'), q({}), 0, udp) as { reply: Buffer };
    t.same(answer(tables, scope('2'), Buffer.from(ours.reply), 0, udp), { drop: true }, `${how}: our own answer fed back is dropped`);
    const formerr = answer(tables, scope('2'), packet.encode({ id: 9, type: 'response', flags: 0, questions: [] }), 0, udp);
    t.same(formerr, { drop: true }, `${how}: a response without a question too`);
    for (const len of [0, 1, 11]) t.same(answer(tables, scope('2'), Buffer.alloc(len), 0, udp), { drop: true }, `${how}: ${len} bytes (no header) get no reply`);
    const update = answer(tables, scope('2'), q({ flags: 5 << 11 }), 0, udp) as { reply: Buffer };
    t.ok('reply' in update, `${how}: opcode UPDATE gets a reply`);
    t.equal(update.reply.length, 12, 'the header alone');
    t.equal(update.reply[3]! & 0xf, 4, 'NOTIMP');
    t.equal(update.reply[2]! & 0xf8, 0x80 | (5 << 3), 'QR set, the opcode echoed');
    t.equal(update.reply.readUInt16BE(0), 9, 'the query ID');
    for (const klass of ['CH', 'ANY', 'UNKNOWN_65535']) {
      const r = answer(tables, scope('2'), q({}, klass), 0, udp) as { reply: Buffer };
      t.equal((packet.decode(r.reply) as packet.DecodedPacket & { rcode: string }).rcode, 'REFUSED', `${how}: class ${klass} is refused, never answered with A records`);
    }
    const two = packet.encode({ id: 9, type: 'query', flags: 0, questions: [{ type: 'A', name: 'web' }, { type: 'A', name: 'db' }] });
    t.equal((packet.decode((answer(tables, scope('2'), two, 0, udp) as { reply: Buffer }).reply) as packet.DecodedPacket & { rcode: string }).rcode, 'FORMERR', `${how}: two questions: FORMERR`);
  }
});
