// nf_tables set elements over netlink (NETLINK_NETFILTER): what `nft add/delete element` and
// `nft list` do for our per-container state, without a process. Elements keep their text form
// (the one `nft list` shows: "10.1.2.3", "tcp . 8080", "\"veth1\" . 02:00:00:00:00:01"); the
// set's declared type (declared by the plugin that owns the set) says how each field is
// encoded: registers of 4 bytes, concatenations field after field, intervals as a start and an
// end element (rbtree) or a key and a key end (concatenated ranges), the comment as userdata.
import { bytesOf, copyOf, utf8 } from '../util/bytes.ts';
import { formatIP, fromBig, parseCIDR, parseIP, subnetOf, toBig } from '../util/ip.ts';
import { NLA_TYPE_MASK, NLM_F } from './constants.ts';
import { AttrMap, encodeAttrs, nla, type Attr } from './attrs.ts';
import { macToString } from './mac.ts';
import { encodeMessage } from './message.ts';
import { Netlink } from './socket.ts';
import { arrForEach, arrMap, arrSome } from '../util/arrays.ts';

export const NETLINK_NETFILTER = 12;

let shared: Netlink | undefined;
/**
 * The process's NETLINK_NETFILTER socket (nf_tables and conntrack), opened once and closed by
 * the process's exit. Closing one waits for the kernel to free what the last deletions
 * released (an RCU grace period): left to the exit, that wait overlaps whatever
 * the call still does (bridge DEL: the veth's removal) instead of adding to it.
 */
export function netfilter(): Netlink {
  return (shared ??= new Netlink(-1, NETLINK_NETFILTER));
}
const SUBSYS = 10;   // NFNL_SUBSYS_NFTABLES
export const enum NFT_MSG { NEWSETELEM = 12, GETSETELEM = 13, DELSETELEM = 14 }
export const enum BATCH { BEGIN = 0x10, END = 0x11 }
export const nftType = (msg: number): number => (SUBSYS << 8) | msg;
const FAMILY = { inet: 1, bridge: 7 } as const;
const LIST = { TABLE: 1, SET: 2, ELEMENTS: 3 } as const;
const ELEM = { KEY: 1, DATA: 2, FLAGS: 3, USERDATA: 6, KEY_END: 10 } as const;
const DATA_VALUE = 1, INTERVAL_END = 1, UDATA_COMMENT = 0;

export type Family = keyof typeof FAMILY;
type FieldType = 'ipv4_addr' | 'ipv6_addr' | 'inet_proto' | 'inet_service' | 'ifname' | 'ether_addr';
export interface SetType { family: Family; name: string; key: FieldType[]; data?: FieldType[]; interval: boolean }

const PROTOS: Record<string, number> = { tcp: 6, udp: 17, sctp: 132 };
const PROTO_NAMES: Record<number, string> = { 6: 'tcp', 17: 'udp', 132: 'sctp' };
const pad4 = (b: Buffer): Buffer => (b.length % 4 ? Buffer.concat([b, Buffer.alloc(4 - (b.length % 4))]) : b);

function encodeField(type: FieldType, text: string): Buffer {
  switch (type) {
    case 'ipv4_addr':
    case 'ipv6_addr': {
      const ip = parseIP(text);
      if (!ip || ip.family !== (type === 'ipv4_addr' ? 4 : 6)) throw new Error(`nftables: "${text}" is not an ${type}`);
      return copyOf(ip.bytes);
    }
    case 'inet_proto': {
      const p = PROTOS[text] ?? Number(text);
      if (!Number.isInteger(p) || p < 0 || p > 255) throw new Error(`nftables: "${text}" is not a protocol`);
      return pad4(bytesOf([p]));
    }
    case 'inet_service': {
      const n = Number(text);
      if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`nftables: "${text}" is not a port`);
      return pad4(bytesOf([n >> 8, n & 0xff]));
    }
    case 'ifname': {
      const name = text.length >= 2 && text.startsWith('"') && text.endsWith('"') && !text.includes('\n') ? text.slice(1, -1) : text;
      const b = Buffer.alloc(16);
      if (Buffer.byteLength(name) > 15) throw new Error(`nftables: "${name}" is not an interface name`);
      b.write(name);
      return b;
    }
    case 'ether_addr': {
      const bytes = arrMap(text.split(':'), (h) => parseInt(h, 16));
      if (bytes.length !== 6 || arrSome(bytes, (x) => !(x >= 0 && x <= 255))) throw new Error(`nftables: "${text}" is not a MAC address`);
      return pad4(bytesOf(bytes));
    }
  }
}

const WIDTH: Record<FieldType, number> = { ipv4_addr: 4, ipv6_addr: 16, inet_proto: 4, inet_service: 4, ifname: 16, ether_addr: 8 };

function decodeField(type: FieldType, b: Buffer): string {
  switch (type) {
    case 'ipv4_addr': case 'ipv6_addr': return formatIP(b);
    case 'inet_proto': return PROTO_NAMES[b[0]!] ?? String(b[0]);
    case 'inet_service': return String(b.readUInt16BE(0));
    case 'ifname': return `"${b.subarray(0, b.indexOf(0) < 0 ? 16 : b.indexOf(0)).toString()}"`;
    case 'ether_addr': return macToString(b.subarray(0, 6));
  }
}

const fieldsOf = (text: string): string[] => text.split(' . ');

/** key (and key end, for a range) of an element's text in a set of `types`. */
function encodeKey(types: FieldType[], text: string, interval: boolean): { key: Buffer; end?: Buffer } {
  const parts = fieldsOf(text);
  if (parts.length !== types.length) throw new Error(`nftables: "${text}" does not have ${types.length} fields`);
  if (!interval) return { key: Buffer.concat(arrMap(parts, (p, i) => encodeField(types[i]!, p))) };
  // an interval: each field an address, a prefix (a.b.c.d/n) or a single value
  const lo: Buffer[] = [], hi: Buffer[] = [];
  arrForEach(parts, (p, i) => {
    const t = types[i]!;
    if ((t === 'ipv4_addr' || t === 'ipv6_addr') && p.includes('/')) {
      const c = parseCIDR(p);
      if (!c) throw new Error(`nftables: "${p}" is not a prefix`);
      const s = subnetOf(c);
      lo.push(fromBig(s.first, s.family));
      hi.push(fromBig(s.last, s.family));
    } else {
      const b = encodeField(t, p);
      lo.push(b); hi.push(b);
    }
  });
  return { key: Buffer.concat(lo), end: Buffer.concat(hi) };
}

/** The text of a key from its bytes (and its range end, rendered as a prefix where it is one). */
function decodeKey(types: FieldType[], key: Buffer, end?: Buffer): string {
  let off = 0;
  return arrMap(types, (t) => {
    const w = WIDTH[t];
    const a = key.subarray(off, off + w), b = end?.subarray(off, off + w);
    off += w;
    const text = decodeField(t, a);
    if (!b || a.equals(b) || (t !== 'ipv4_addr' && t !== 'ipv6_addr')) return text;
    const first = toBig(a), last = toBig(b), bits = a.length * 8;
    const size = last - first + 1n;
    const prefix = bits - (size.toString(2).length - 1);
    return (size & (size - 1n)) === 0n && (first & (size - 1n)) === 0n ? `${text}/${prefix}` : `${text}-${decodeField(t, b)}`;
  }).join(' . ');
}

/** One element as text, as the plugins name them. */
export interface ElemText { key: string; value?: string; comment?: string }

/** NFTA_SET_ELEM_FLAGS and the like: big-endian u32 attributes. */
const be32 = (type: number, v: number): Attr => { const b = Buffer.alloc(4); b.writeUInt32BE(v >>> 0); return nla.bytes(type, b); };

function comment(text: string): Buffer {
  const s = utf8(text, 1);
  if (s.length > 128) throw new Error(`nftables: comment longer than 127 characters: ${text}`);
  return Buffer.concat([bytesOf([UDATA_COMMENT, s.length]), s]);
}

const dataAttr = (type: number, b: Buffer): Attr => nla.nested(type, [nla.bytes(DATA_VALUE, b)]);

/** The netlink elements (each its attributes) for one element text: two for an rbtree interval, start and end. */
function elementAttrs(set: SetType, e: ElemText, forDelete: boolean): Attr[][] {
  const { key, end } = encodeKey(set.key, e.key, set.interval);
  const common: Attr[] = [];
  if (set.data && e.value !== undefined && !forDelete) common.push(dataAttr(ELEM.DATA, encodeKey(set.data, e.value, false).key));
  if (e.comment !== undefined) common.push(nla.bytes(ELEM.USERDATA, comment(e.comment)));   // nft sends it on delete too
  if (!set.interval) return [[dataAttr(ELEM.KEY, key), ...common]];
  if (set.key.length > 1) return [[dataAttr(ELEM.KEY, key), dataAttr(ELEM.KEY_END, end!), ...common]];
  // a single-field interval: [start, end + 1) as two elements, the second flagged as an end
  const after = toBig(end!) + 1n;
  const elems = [[dataAttr(ELEM.KEY, key), ...common]];
  if (after < 1n << BigInt(end!.length * 8)) elems.push([be32(ELEM.FLAGS, INTERVAL_END), dataAttr(ELEM.KEY, fromBig(after, end!.length === 4 ? 4 : 6))]);
  return elems;
}

/** The nfnetlink header: family, version 0, resource id (big-endian). */
export const nfgenmsg = (family: number, resId = 0): Buffer => { const b = Buffer.alloc(4); b[0] = family; b.writeUInt16BE(resId, 2); return b; };

const message = (type: number, flags: number, seq: number, body: Buffer): Buffer => encodeMessage({ type, flags, seq, pid: 0 }, body);
const listBody = (set: SetType, more: Attr[]): Buffer =>
  Buffer.concat([nfgenmsg(FAMILY[set.family]), encodeAttrs([nla.str(LIST.TABLE, TABLE), nla.str(LIST.SET, set.name), ...more])]);

export const TABLE = 'cni-ts';
const MAX_ELEMENTS_ATTR = 60_000;

/** One change to a set: elements to add or to delete. */
export interface SetChange { set: SetType; op: 'add' | 'delete'; elems: ElemText[] }

/**
 * One atomic batch (begin, a NEWSETELEM/DELSETELEM per set, end), every message under `seq`, the
 * last one acknowledged: the kernel applies all of it or none, and answers with the first error.
 */
export function encodeBatch(changes: SetChange[], seq: number): Buffer {
  const msgs = [message(BATCH.BEGIN, NLM_F.REQUEST, seq, nfgenmsg(0, SUBSYS))];
  const bodies: { add: boolean; body: Buffer }[] = [];
  for (const c of changes) {
    const add = c.op === 'add';
    // list entries numbered from 1, as libnftnl numbers them (the kernel reads them in order);
    // an attribute holds at most 64 KiB, so a long list goes in several messages
    let chunk: Attr[] = [], size = 0;
    const flush = () => {
      if (!chunk.length) return;
      bodies.push({ add, body: listBody(c.set, [nla.nested(LIST.ELEMENTS, chunk)]) });
      chunk = []; size = 0;
    };
    for (const parts of c.elems.flatMap((e) => elementAttrs(c.set, e, !add))) {
      const bytes = 4 + encodeAttrs(parts).length;
      if (size + bytes > MAX_ELEMENTS_ATTR) flush();
      chunk.push(nla.nested(chunk.length + 1, parts));
      size += bytes;
    }
    flush();
  }
  arrForEach(bodies, ({ add, body }, i) => {
    const last = i === bodies.length - 1;
    msgs.push(message(nftType(add ? NFT_MSG.NEWSETELEM : NFT_MSG.DELSETELEM), NLM_F.REQUEST | (add ? NLM_F.CREATE : 0) | (last ? NLM_F.ACK : 0), seq, body));
  });
  msgs.push(message(BATCH.END, NLM_F.REQUEST, seq, nfgenmsg(0, SUBSYS)));
  return Buffer.concat(msgs);
}

/** The GETSETELEM dump request body for one set. */
export const dumpBody = (set: SetType): Buffer => listBody(set, []);

/**
 * The elements of one NEWSETELEM message (a dump reply), as text; interval end markers left out.
 * With `comment` (its bytes), only the elements whose comment is exactly that: the others are
 * passed over by a scan of their bytes, never decoded (a DEL looks for its own few among every
 * container's).
 */
export function decodeElements(set: SetType, payload: Buffer, comment?: Uint8Array): ElemText[] {
  const list = AttrMap.of(payload.subarray(4)).nested(LIST.ELEMENTS);
  const out: ElemText[] = [];
  for (const a of list?.list ?? []) {
    if (!Buffer.isBuffer(a.value)) continue;   // entries are numbered 1, 2, ... (libnftnl) or all 1
    if (comment && !commentIs(a.value, comment)) continue;
    const e = AttrMap.of(a.value);
    const flags = e.raw(ELEM.FLAGS)?.readUInt32BE(0) ?? 0;
    if (flags & INTERVAL_END) continue;
    const key = e.nested(ELEM.KEY)?.raw(DATA_VALUE);
    if (!key) continue;
    const end = e.nested(ELEM.KEY_END)?.raw(DATA_VALUE);
    const el: ElemText = { key: decodeKey(set.key, key, end) };
    const data = e.nested(ELEM.DATA)?.raw(DATA_VALUE);
    if (data && set.data) el.value = decodeKey(set.data, data);
    const ud = e.raw(ELEM.USERDATA);
    const c = ud && userdataComment(ud);
    if (c !== undefined) el.comment = c;
    out.push(el);
  }
  return out;
}

/** Where the comment lies in a userdata TLV list (from `at` to `to`: its ending NULs left out), or undefined. */
function commentSpan(buf: Uint8Array, at: number, to: number): [number, number] | undefined {
  for (let i = at; i + 2 <= to;) {
    const type = buf[i]!, len = buf[i + 1]!;
    if (type === UDATA_COMMENT) {
      let end = Math.min(i + 2 + len, to);
      while (end > i + 2 && buf[end - 1] === 0) end--;   // the NUL that ends it
      return [i + 2, end];
    }
    i += 2 + len;
  }
  return undefined;
}

function userdataComment(ud: Buffer): string | undefined {
  const span = commentSpan(ud, 0, ud.length);
  return span && ud.toString('utf8', span[0], span[1]);
}

/** Whether an element's attributes (one list entry) carry exactly this comment: a byte scan, nothing decoded. */
function commentIs(elem: Buffer, want: Uint8Array): boolean {
  for (let off = 0; off + 4 <= elem.length;) {
    const len = elem[off]! | (elem[off + 1]! << 8);
    if (len < 4 || off + len > elem.length) return false;
    if (((elem[off + 2]! | (elem[off + 3]! << 8)) & NLA_TYPE_MASK) === ELEM.USERDATA) {
      const span = commentSpan(elem, off + 4, off + len);
      return !!span && span[1] - span[0] === want.length && elem.subarray(span[0], span[1]).equals(want);
    }
    off += (len + 3) & ~3;
  }
  return false;
}
