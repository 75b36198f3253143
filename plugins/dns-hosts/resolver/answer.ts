// What the resolver answers, as Docker's embedded DNS does: a container's name, short ID and
// aliases resolve only in the networks they were given on, to a querier attached to one of
// them (the union of its networks); "name.network" and "name.<domainName>" too; link aliases
// only for the container that declared them, resolving the target at query time; PTR for
// container addresses. Everything else is forwarded, or NXDOMAIN when forwarding is off.
import * as packet from 'dns-packet';
import { familyOf, formatIP, parseIP } from '../../../shared/util/ip.ts';
import type { Attachment } from '../records.ts';
import { arrEvery, arrFilter, arrFind, arrMap } from '../../../shared/util/arrays.ts';

/** TTL of local answers: 0, as dnsmasq gives local names, so no cache outlives a DEL. */
export const LOCAL_TTL = 0;

export interface Tables {
  /** network -> name (container name, short ID, alias) -> attachments */
  names: Map<string, Map<string, Attachment[]>>;
  /** network -> address -> attachment */
  addresses: Map<string, Map<string, Attachment>>;
  domains: Map<string, string>;
}

export interface Scope {
  networks: string[];
  /** A and AAAA lookups of this view, remembered until the next reload (which makes new scopes) */
  cache?: Map<number, Found>;
  /** network -> link alias -> target, declared by this container */
  links: Map<string, Map<string, string>>;
  forward: boolean;
  upstreams: string[];
}

const push = <K, V>(m: Map<K, V[]>, k: K, v: V): void => { const l = m.get(k); if (l) l.push(v); else m.set(k, [v]); };

/** Attachments by their namespace's cookie: one container, whose view is the union of them. */
export function byNamespace(list: Attachment[]): Map<string, Attachment[]> {
  const m = new Map<string, Attachment[]>();
  for (const a of list) push(m, a.cookie, a);
  return m;
}

export function buildTables(list: Attachment[]): Tables {
  const t: Tables = { names: new Map(), addresses: new Map(), domains: new Map() };
  for (const a of list) {
    let names = t.names.get(a.network);
    if (!names) t.names.set(a.network, (names = new Map()));
    for (const n of new Set([a.name, a.shortId, ...a.aliases])) if (n) push(names, n, a);
    let addrs = t.addresses.get(a.network);
    if (!addrs) t.addresses.set(a.network, (addrs = new Map()));
    for (const ip of a.ips) addrs.set(canonical(ip), a);
    if (a.domainName) t.domains.set(a.network, a.domainName.toLowerCase());
  }
  return t;
}

/** The view of one container (all its attachments share its network namespace). */
export function scopeOf(attachments: Attachment[]): Scope {
  const s: Scope = { networks: [], links: new Map(), forward: false, upstreams: [] };
  for (const a of attachments) {
    if (!s.networks.includes(a.network)) s.networks.push(a.network);
    let l = s.links.get(a.network);
    if (!l) s.links.set(a.network, (l = new Map()));
    for (const k of a.links) l.set(k.alias, k.target);
    // forwarding when any network allows it (a container on an external network reaches out)
    if (a.forward) { s.forward = true; for (const u of a.upstreams) if (!s.upstreams.includes(u)) s.upstreams.push(u); }
  }
  return s;
}

/** One spelling per address (RFC 5952), for the PTR table: "fd00:0::2" and "fd00::2" are one key. */
const canonical = (ip: string): string => { const p = parseIP(ip); return p ? formatIP(p.bytes) : ip; };

/** Names in `net` that `qname` may stand for: itself, and without ".network" or ".domainName". */
function bases(qname: string, net: string, domain: string | undefined): string[] {
  const out = [qname];
  for (const suffix of [net.toLowerCase(), domain]) {
    if (suffix && qname.endsWith(`.${suffix}`)) out.push(qname.slice(0, -suffix.length - 1));
  }
  return out;
}

interface Found { known: boolean; local: boolean; ips: string[]; rdata?: Buffer[]; wire?: Buffer }

function lookup(t: Tables, s: Scope, qname: string): Found {
  const f: Found = { known: false, local: false, ips: [] };
  for (const net of s.networks) {
    const domain = t.domains.get(net);
    const names = t.names.get(net);
    const links = s.links.get(net);
    for (const base of bases(qname, net, domain)) {
      if (base !== qname) f.local = true;
      const direct = names?.get(base) ?? [];
      const target = links?.get(base);
      const linked = target ? names?.get(target) ?? [] : [];
      if (target) f.known = true;   // a declared link is ours to answer, even before its target exists
      for (const a of [...direct, ...linked]) {
        f.known = true;
        for (const ip of a.ips) if (!f.ips.includes(ip)) f.ips.push(ip);
      }
    }
  }
  return f;
}

/** The address a reverse name stands for ("4.3.2.1.in-addr.arpa", nibbles under "ip6.arpa"). */
export function reverseAddress(qname: string): string | undefined {
  if (qname.endsWith('.in-addr.arpa')) {
    const p = qname.slice(0, -'.in-addr.arpa'.length).split('.');
    if (p.length !== 4 || !arrEvery(p, (x) => /^\d{1,3}$/.test(x) && Number(x) < 256)) return undefined;
    return p.reverse().join('.');
  }
  if (qname.endsWith('.ip6.arpa')) {
    const n = qname.slice(0, -'.ip6.arpa'.length).split('.');
    if (n.length !== 32 || !arrEvery(n, (x) => /^[0-9a-f]$/.test(x))) return undefined;
    const hex = n.reverse().join('');
    return canonical(hex.match(/.{4}/g)!.join(':'));
  }
  return undefined;
}

export type Outcome = { reply: Buffer } | { forward: true } | { drop: true };

/** screen()'s outcome for a message that gets no reply at all */
export const DROP = -1;

/**
 * What a message is before anything is looked up: DROP for what is not a query (shorter than a
 * header, or a response: QR set), which never gets a reply, so that two servers, or a spoofed
 * datagram from our own address to itself, cannot keep each other answering; NOTIMP for a query
 * of another opcode than QUERY; 0 for a standard query (its class and question are checked
 * once it is decoded).
 */
export function screen(q: Buffer, len: number): number {
  if (len < 12 || (q[2]! & 0x80) !== 0) return DROP;
  if ((q[2]! & 0x78) !== 0) return RCODE.NOTIMP;
  return 0;
}

const CACHE_MAX = 4096;
const TYPE_A = 1, TYPE_AAAA = 28;
/** replies are built here: a datagram is sent (copied by the kernel) before the next is built */
const scratch = Buffer.allocUnsafe(512);
export const scratchReply = (): Buffer => scratch;

/** The question's name, lower-cased, dotted; undefined for anything unusual (answer() decides). */
function questionName(q: Buffer, end: number): string | undefined {
  let i = 12, name = '';
  for (let len = q[i]!; len !== 0; len = q[i]!) {
    if (len > 63 || i + len + 1 >= end) return undefined;
    for (let k = i + 1; k <= i + len; k++) { const c = q[k]!; if (c <= 0x20 || c === 0x2e || c >= 0x7f) return undefined; }
    name += (name ? '.' : '') + q.toString('latin1', i + 1, i + 1 + len).toLowerCase();
    i += len + 1;
  }
  return name || undefined;
}

/** FNV-1a of the question's wire form (name and type), letters folded: the cache's key. */
function questionHash(q: Buffer, from: number, to: number): number {
  let h = 0x811c9dc5;
  for (let i = from; i < to; i++) {
    const c = q[i]!;
    h = Math.imul(h ^ (c >= 0x41 && c <= 0x5a ? c + 32 : c), 0x01000193);
  }
  return h >>> 0;
}

const sameQuestion = (wire: Buffer, q: Buffer, from: number): boolean => {
  for (let i = 0; i < wire.length; i++) {
    const c = q[from + i]!;
    if ((c >= 0x41 && c <= 0x5a ? c + 32 : c) !== wire[i]) return false;
  }
  return true;
};

/** quickReply's outcomes besides a length */
export const NOT_QUICK = 0, FORWARD = -1;

/**
 * The common case, without decoding the message or allocating: one A or AAAA question, no
 * compression in it, at most an EDNS record after it. The reply (the query's header and
 * question, then answers pointing back at the name) is built in `scratch`; returned: its
 * length, FORWARD, or NOT_QUICK (answer() decides). Lookups are remembered per view, keyed by
 * a hash of the question's wire form with letters folded (length bytes are below 64), checked
 * against the stored form: a repeated query costs a hash and a map lookup.
 */
export function quickReply(t: Tables, s: Scope, q: Buffer, len: number, turn: number): number {
  if (len < 17 || len > 512 || (q[2]! & 0xf8) !== 0 || q.readUInt16BE(4) !== 1 || q.readUInt32BE(6) !== 0 || q[10] !== 0 || q[11]! > 1) return NOT_QUICK;
  const zero = q.indexOf(0, 12);
  const end = zero + 5;
  if (zero < 13 || end > len || q.readUInt16BE(zero + 3) !== 1) return NOT_QUICK;
  const qtype = q.readUInt16BE(zero + 1);
  if (qtype !== TYPE_A && qtype !== TYPE_AAAA) return NOT_QUICK;
  const key = questionHash(q, 12, zero + 3);
  let f = s.cache?.get(key);
  if (f && !sameQuestion(f.wire!, q, 12)) f = undefined;
  if (!f) {
    const name = questionName(q, zero + 1);
    if (!name) return NOT_QUICK;
    f = lookup(t, s, name);
    const family = qtype === TYPE_A ? 4 : 6;
    f.rdata = arrMap(arrFilter(f.ips, (ip) => familyOf(ip) === family), (ip) => parseIP(ip)!.bytes);
    f.wire = Buffer.from(q.toString('latin1', 12, zero + 3).toLowerCase(), 'latin1');
    if (!s.cache || s.cache.size >= CACHE_MAX) s.cache = new Map();
    s.cache.set(key, f);
  }
  if (!f.known && !f.local && s.forward && s.upstreams.length) return FORWARD;
  const rd = f.rdata!;
  let size = end;
  for (let k = 0; k < rd.length; k++) size += 12 + rd[k]!.length;
  if (size > 512) return NOT_QUICK;   // answer() truncates as the client's EDNS size says, or sends all over TCP
  const out = scratch;
  q.copy(out, 0, 0, end);
  out[2] = 0x84 | (q[2]! & 0x01);   // QR, AA, the client's RD
  out[3] = 0x80 | (f.known ? 0 : RCODE.NXDOMAIN);   // RA
  out.writeUInt16BE(rd.length, 6);
  out.writeUInt32BE(0, 8);   // no authority, no additional (the EDNS record is not echoed)
  let o = end;
  for (let k = 0; k < rd.length; k++) {
    const r = rd[(k + turn) % rd.length]!;
    out.writeUInt32BE((0xc00c0000 | qtype) >>> 0, o);
    out.writeUInt32BE(0x00010000 | (LOCAL_TTL >>> 16), o + 4);
    out.writeUInt32BE(((LOCAL_TTL & 0xffff) << 16 | r.length) >>> 0, o + 8);
    r.copy(out, o + 12);
    o += 12 + r.length;
  }
  return size;
}


const FLAG_AA = 1 << 10, FLAG_TC = 1 << 9, FLAG_RD = 1 << 8, FLAG_RA = 1 << 7;
export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;

/** The largest UDP reply the client takes: its EDNS payload size, else 512 bytes. */
function udpLimit(q: packet.Packet): number {
  const opt = arrFind(q.additionals ?? [], (a) => a.type === 'OPT') as { udpPayloadSize?: number } | undefined;
  return Math.max(512, Math.min(opt?.udpPayloadSize ?? 512, 4096));
}

/**
 * A reply carrying only a status (FORMERR, SERVFAIL, REFUSED): the query's header and question
 * kept. NOTIMP (another opcode, whose message may not be a question at all) is the header alone,
 * its opcode echoed.
 */
export function statusReply(query: Buffer, rcode: number): Buffer {
  if (rcode === RCODE.NOTIMP) {
    const h = Buffer.alloc(12);
    query.copy(h, 0, 0, 2);
    h.writeUInt16BE(0x8000 | ((query[2]! & 0x79) << 8) | FLAG_RA | rcode, 2);   // QR, the opcode, RD
    return h;
  }
  try {
    const q = packet.decode(query);
    return packet.encode({ id: q.id, type: 'response', flags: ((q.flags ?? 0) & FLAG_RD) | FLAG_RA | rcode, questions: q.questions ?? [] });
  } catch {
    const h = Buffer.alloc(12);
    if (query.length >= 2) query.copy(h, 0, 0, 2);
    h.writeUInt16BE(0x8000 | FLAG_RA | rcode, 2);
    return h;
  }
}

/**
 * The reply to one query from a container whose view is `s`; `turn` rotates several addresses:
 * the quick path when it applies (the reply copied out of the scratch buffer unless `udp`,
 * whose caller sends it at once), else the whole message decoded (decodedAnswer).
 */
export function answer(t: Tables, s: Scope, query: Buffer, turn: number, udp = false): Outcome {
  // (what is not a standard query the quick path refuses, and decodedAnswer screens)
  const n = quickReply(t, s, query, query.length, turn);
  if (n === FORWARD) return { forward: true };
  if (n !== NOT_QUICK) return { reply: udp ? scratch.subarray(0, n) : Buffer.from(scratch.subarray(0, n)) };
  return decodedAnswer(t, s, query, turn, udp);
}

/**
 * answer() for what the quick path does not take: PTR, other types, unusual messages, and
 * replies too large for the quick path. Over UDP (`udp`), a reply larger than the client takes
 * (512 bytes, or its EDNS size) goes without its answers and with TC set: the client asks
 * again over TCP.
 */
export function decodedAnswer(t: Tables, s: Scope, query: Buffer, turn: number, udp: boolean): Outcome {
  const kind = screen(query, query.length);
  if (kind === DROP) return { drop: true };
  if (kind) return { reply: statusReply(query, kind) };
  let q: packet.Packet;
  try { q = packet.decode(query); } catch { return { reply: statusReply(query, RCODE.FORMERR) }; }
  const question = q.questions?.[0];
  if (!question || q.questions!.length !== 1) return { reply: statusReply(query, RCODE.FORMERR) };
  // class IN only (and nothing is forwarded for another: CH, HS, ANY are not ours to relay)
  if (question.class !== 'IN') return { reply: statusReply(query, RCODE.REFUSED) };
  const qname = question.name.toLowerCase().replace(/\.$/, '');
  const answers: packet.Answer[] = [];
  let known = false, local = false;

  if (question.type === 'PTR') {
    const ip = reverseAddress(qname);
    for (const net of ip ? s.networks : []) {
      const a = t.addresses.get(net)?.get(ip!);
      if (a) { known = true; answers.push({ type: 'PTR', name: question.name, ttl: LOCAL_TTL, data: `${a.name ?? a.shortId}.${net}` }); }
    }
  } else {
    const f = lookup(t, s, qname);
    known = f.known;
    local = f.local;
    const family = question.type === 'A' ? 4 : question.type === 'AAAA' ? 6 : 0;
    const ips = arrFilter(f.ips, (ip) => familyOf(ip) === family);
    for (let i = 0; i < ips.length; i++) {
      answers.push({ type: question.type as 'A', name: question.name, ttl: LOCAL_TTL, data: ips[(i + turn) % ips.length]! });
    }
  }
  if (!known && !local && s.forward && s.upstreams.length) return { forward: true };
  // a name of ours: its records, or none of this type (NODATA); anything else here: NXDOMAIN
  const rcode = known ? RCODE.NOERROR : RCODE.NXDOMAIN;
  const flags = FLAG_AA | ((q.flags ?? 0) & FLAG_RD) | FLAG_RA | rcode;
  const reply = packet.encode({ id: q.id, type: 'response', flags, questions: [question], answers });
  if (udp && reply.length > udpLimit(q)) return { reply: packet.encode({ id: q.id, type: 'response', flags: flags | FLAG_TC, questions: [question] }) };
  return { reply };
}
