// nf_tables set elements over netlink (shared/netlink/nftables.ts), held to nft itself: the
// NEWSETELEM/DELSETELEM messages nft sends for one element of every set and map of our tables
// (test/fixtures/nft-setelem.json, captured by test/fixtures/capture-nft.ts) are what we encode,
// byte for byte, and decode back to the same element text. No root needed.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { decodeAttrs, encodeAttrs } from '../../shared/netlink/attrs.ts';
import { decodeElements, encodeBatch, nftType, NFT_MSG, BATCH } from '../../shared/netlink/nftables.ts';
import { skeleton, uniqueElems } from '../../plugins/nft-state/batch.ts';
import type { SetType } from '../../shared/netlink/nftables.ts';
import { NFT_OWNERS } from '../../cli/attachments.ts';

/** Every set and map of every owner, by name (names are unique across owners). */
const setTypes = (): Map<string, SetType> => new Map(NFT_OWNERS.flatMap((o) => o.sets.map((s) => [s.name, s] as [string, SetType])));
import { utf8 } from '../../shared/util/bytes.ts';

interface Fixture { family: string; set: string; key: string; value?: string; comment?: string; op: 'add' | 'delete'; body: string }
const fixtures = JSON.parse(readFileSync(join(import.meta.dirname, '../fixtures/nft-setelem.json'), 'utf8')) as Fixture[];

/** nft's body without NFTA_SET_ELEM_LIST_SET_ID (nft's own set handle within its transaction; we name the set). */
function withoutSetId(body: Buffer): Buffer {
  const attrs = decodeAttrs(body.subarray(4)).filter((a) => (a.type & 0x3fff) !== 4);
  return Buffer.concat([body.subarray(0, 4), encodeAttrs(attrs)]);
}

/** The messages of a batch: [type, flags, seq, body]. */
function messages(batch: Buffer): [number, number, number, Buffer][] {
  const out: [number, number, number, Buffer][] = [];
  for (let off = 0; off < batch.length;) {
    const len = batch.readUInt32LE(off);
    out.push([batch.readUInt16LE(off + 4), batch.readUInt16LE(off + 6), batch.readUInt32LE(off + 8), batch.subarray(off + 16, off + len)]);
    off += len;
  }
  return out;
}

t.test('every set and map of every owner has a type, under a name of its own', async (t) => {
  t.equal(NFT_OWNERS.reduce((n, o) => n + o.sets.length, 0), 22);
  t.equal(setTypes().size, 22, 'no two owners declare the same set');
  t.same(setTypes().get('ov_same')?.key, ['ifname', 'ifname'], "vxlan-overlay's isolation pairs");
  t.same(setTypes().get('pm4ip'), { family: 'inet', name: 'pm4ip', key: ['ipv4_addr', 'inet_proto', 'inet_service'], data: ['ipv4_addr', 'inet_service'], interval: false });
  t.same(setTypes().get('masq_skip6')?.interval, true);
});

t.test("each owner's chains use only its own sets, and no two owners share a chain", async (t) => {
  const chains = new Set<string>();
  for (const o of NFT_OWNERS) {
    const own = new Set<string>(o.sets.map((s) => s.name));
    for (const c of o.chains) {
      t.notOk(chains.has(`${c.family} ${c.name}`), `${o.owner}: chain ${c.family} ${c.name} is its own`);
      chains.add(`${c.family} ${c.name}`);
      for (const r of c.rules) for (const [, name] of r.matchAll(/@(\w+)/g)) t.ok(own.has(name!), `${o.owner}: ${c.name} uses its own set @${name}`);
    }
    const lines = skeleton(o);
    t.ok(lines.every((l) => / cni-ts( |$)/.test(l)), `${o.owner}: every declaration is in our tables`);
    t.equal(lines.filter((l) => l.startsWith('flush')).length, o.chains.length, `${o.owner}: only its own chains are flushed`);
  }
});

for (const f of fixtures) {
  t.test(`${f.op} ${f.family} ${f.set} { ${f.key}${f.value ? ` : ${f.value}` : ''} }: as nft sends it`, async (t) => {
    const set = setTypes().get(f.set)!;
    const nftBody = Buffer.from(f.body, 'hex');
    // what nft sent, decoded: the element's text (a delete carries the comment only where nft had it cached)
    const decoded = decodeElements(set, nftBody);
    t.equal(decoded.length, 1);
    t.equal(decoded[0]!.key, f.key);
    if (f.op === 'add') t.same(decoded[0], { key: f.key, ...(f.value ? { value: f.value } : {}), ...(f.comment ? { comment: f.comment } : {}) }, 'decoded back to the same text');
    // and encoded again: the same bytes
    const batch = messages(encodeBatch([{ set, op: f.op, elems: decoded }], 77));
    t.same(batch.map((m) => m[0]), [BATCH.BEGIN, nftType(f.op === 'add' ? NFT_MSG.NEWSETELEM : NFT_MSG.DELSETELEM), BATCH.END]);
    t.ok(batch.every((m) => m[2] === 77), 'one sequence number for the whole batch');
    t.ok(batch[1]![1] & 0x4, 'the last change is acknowledged');
    t.equal(batch[1]![3].toString('hex'), withoutSetId(nftBody).toString('hex'), 'byte for byte what nft sends');
  });
}

t.test('several changes in one batch, a prefix that is no prefix shown as a range', async (t) => {
  const ts = setTypes();
  const batch = messages(encodeBatch([
    { set: ts.get('fw_accept4')!, op: 'add', elems: [{ key: '10.0.0.1', comment: 'x' }, { key: '10.0.0.2', comment: 'x' }] },
    { set: ts.get('pm4')!, op: 'delete', elems: [{ key: 'tcp . 80' }] },
  ], 5));
  t.same(batch.map((m) => m[0] & 0xff), [0x10, 12, 14, 0x11]);
  t.same(batch.map((m) => !!(m[1] & 0x4)), [false, false, true, false], 'only the last change asks for an ACK');
  t.same(decodeElements(ts.get('fw_accept4')!, batch[1]![3]).map((e) => e.key), ['10.0.0.1', '10.0.0.2']);
});

t.test('thousands of elements: several messages, each attribute under 64 KiB, numbering restarting', async (t) => {
  const set = setTypes().get('pm4')!;
  const elems = Array.from({ length: 3000 }, (_, i) => ({ key: `udp . ${10000 + i}`, value: `10.0.0.2 . ${i + 1}`, comment: 'net=n id=c' }));
  const batch = messages(encodeBatch([{ set, op: 'add', elems }], 9));
  t.ok(batch.length > 3, `${batch.length - 2} messages`);
  t.ok(batch.every((m) => m[3].length < 65535));
  const back = batch.slice(1, -1).flatMap((m) => decodeElements(set, m[3]));
  t.same(back, elems, 'every element once, in order');
  t.same(batch.map((m) => !!(m[1] & 0x4)), batch.map((_, i) => i === batch.length - 2), 'only the last change asks for an ACK');
});

t.test("a DEL's look-up: only the elements with exactly its comment, the others passed over undecoded", async (t) => {
  const set = setTypes().get('pm4')!;
  const tags = ['net=n id=c1', 'net=n id=c12', 'net=n id=c', 'net=n2 id=c1', 'net=n id=c1'];
  const elems = tags.map((comment, i) => ({ key: `tcp . ${8000 + i}`, value: `10.0.0.${i + 2} . 80`, comment }));
  const batch = messages(encodeBatch([{ set, op: 'add', elems: [...elems, { key: 'udp . 53', value: '10.0.0.9 . 53' }] }], 3));
  const body = batch[1]![3];
  t.same(decodeElements(set, body, utf8('net=n id=c1')), [elems[0], elems[4]], 'a longer, a shorter and another network\'s tag are not it; an element without a comment neither');
  t.same(decodeElements(set, body, utf8('net=n id=c')).map((e) => e.key), ['tcp . 8002']);
  t.same(decodeElements(set, body, utf8('net=x id=y')), [], 'no such tag: nothing');
  t.equal(decodeElements(set, body).length, 6, 'without a comment to look for: every element');
  // a comment as nft writes it (with its NUL) is the same comment
  const nftAdd = fixtures.find((f) => f.op === 'add' && f.comment);
  if (nftAdd) t.equal(decodeElements(setTypes().get(nftAdd.set)!, Buffer.from(nftAdd.body, 'hex'), utf8(nftAdd.comment!)).length, 1, `nft's own bytes (${nftAdd.set}): found by its comment`);
  else t.fail('a fixture with a comment');
});

t.test('a removal names each element once: a set dumped while others change it can list one twice', async (t) => {
  const a = { family: 'inet' as const, set: 'pm4', key: 'tcp . 8080', value: '10.1.2.3 . 80' };
  const b = { family: 'inet' as const, set: 'pm_local4', key: '10.1.2.3' };
  t.same(uniqueElems([a, b, { ...a }, b, { ...b, set: 'pm_masqall4' }]), [a, b, { ...b, set: 'pm_masqall4' }], 'first occurrences, in order; same key in another set kept');
});
