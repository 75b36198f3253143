// A UDP thread's forwarding (resolver/upstream-lane.ts) without sockets: the query rewritten for
// the upstream and the answer for the client in place, and what is never taken as an answer.
import * as packet from 'dns-packet';
import t from 'tap';
import { MAX_PER_CONTAINER, UpstreamLane } from '../../plugins/dns-hosts/resolver/upstream-lane.ts';

const UP = ['127.0.0.53'], UP_ADDR = 0x7f000035, CLIENT = { fd: 9, port: 40000, addr: 0x7f000001 };
const query = (id: number, name = 'www.example.test') => packet.encode({ id, type: 'query', flags: packet.RECURSION_DESIRED, questions: [{ type: 'A', name }] });
const answerTo = (q: Buffer, id: number) => { const a = Buffer.from(packet.encode({ id, type: 'response', flags: 0x8180, questions: packet.decode(q).questions!, answers: [{ type: 'A', name: 'www.example.test', data: '192.0.2.7' }] })); return a; };
const meta = (m: { fd: number; port: number; addr: number }) => Int32Array.from([1, m.fd, m.port, m.addr]);

t.test('a query goes to the upstream under an ID of ours; its answer back to the client with the client\'s', async (t) => {
  const lane = new UpstreamLane(77);
  t.ok(lane.takes(UP), 'an IPv4 upstream is forwarded from the thread');
  t.notOk(lane.takes(['fd00::53']), 'an IPv6 one is not (the main thread forwards it)');
  const buf = Buffer.alloc(512);
  const q = query(4321);
  q.copy(buf);
  const m = meta(CLIENT);
  const n = lane.ask(buf, q.length, m, UP, 5);
  t.equal(n, q.length, 'the query, to send');
  t.same([m[1], m[2], m[3]], [77, 53, UP_ADDR], 'from the thread\'s socket to the upstream');
  const ours = buf.readUInt16BE(0);
  t.ok(buf.subarray(2, q.length).equals(q.subarray(2)), 'the query itself unchanged but for the ID');
  // the upstream's answer under our ID
  const a = answerTo(q, ours);
  const abuf = Buffer.alloc(512);
  a.copy(abuf);
  const wrongSource = meta({ fd: 77, port: 53, addr: 0x7f000036 });
  t.equal(lane.answer(abuf, a.length, wrongSource), 0, 'an answer from another address is not taken');
  t.equal(lane.answer(abuf, a.length, meta({ fd: 77, port: 5353, addr: UP_ADDR })), 0, 'nor from another port');
  const other = answerTo(query(1, 'other.example.test'), ours);
  const obuf = Buffer.alloc(512);
  other.copy(obuf);
  t.equal(lane.answer(obuf, other.length, meta({ fd: 77, port: 53, addr: UP_ADDR })), 0, 'nor one to another question under the same ID');
  const back = meta({ fd: 77, port: 53, addr: UP_ADDR });
  t.equal(lane.answer(abuf, a.length, back), a.length, 'the answer, to send');
  t.same([back[1], back[2], back[3]], [CLIENT.fd, CLIENT.port, CLIENT.addr], 'to the client, from its listener');
  t.equal(abuf.readUInt16BE(0), 4321, "under the client's ID");
  t.same((packet.decode(abuf.subarray(0, a.length)).answers ?? []).map((x) => (x as { data: string }).data), ['192.0.2.7'], 'the upstream\'s answer unchanged');
  t.equal(lane.answer(abuf, a.length, meta({ fd: 77, port: 53, addr: UP_ADDR })), 0, 'a second copy is not taken');
  t.equal(lane.waitMs(), 60_000, 'nothing out: the thread waits long');
});

t.test('past the bound for one container: SERVFAIL at once, the others go on', async (t) => {
  const lane = new UpstreamLane(77);
  const buf = Buffer.alloc(512);
  for (let i = 0; i < MAX_PER_CONTAINER; i++) {
    const q = query(i);
    q.copy(buf);
    t.equal(lane.ask(buf, q.length, meta(CLIENT), UP, 5), q.length);
  }
  const q = query(999);
  q.copy(buf);
  const m = meta(CLIENT);
  const n = lane.ask(buf, q.length, m, UP, 5);
  const r = packet.decode(buf.subarray(0, n)) as packet.DecodedPacket & { rcode: string };
  t.equal(r.rcode, 'SERVFAIL', `query ${MAX_PER_CONTAINER + 1} of one container: SERVFAIL`);
  t.equal(r.id, 999, 'to the client, under its ID');
  t.same([m[1], m[2], m[3]], [CLIENT.fd, CLIENT.port, CLIENT.addr], 'meta still names the client');
  q.copy(buf);
  t.equal(lane.ask(buf, q.length, meta(CLIENT), UP, 6), q.length, 'another container\'s query still goes');
  t.ok(lane.waitMs() < 1000, 'queries out: the thread wakes to expire them');
  lane.keep(new Set());
  t.equal(lane.waitMs(), 60_000, 'listeners gone: their queries forgotten');
});
