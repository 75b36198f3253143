// What the resolver answers, as Docker's embedded DNS does: a container's name, short ID and
// aliases resolve only in the networks they were given on, to a querier attached to one of
// them (the union of its networks); "name.network" and "name.<domainName>" too; link aliases
// only for the container that declared them, resolving the target at query time; PTR for
// container addresses. Everything else is forwarded, or NXDOMAIN when forwarding is off.
import * as packet from 'dns-packet';
import { familyOf, parseIP } from '../../../shared/ip.ts';
import type { Attachment } from '../records.ts';

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
  /** network -> link alias -> target, declared by this container */
  links: Map<string, Map<string, string>>;
  forward: boolean;
  upstreams: string[];
}

const push = <K, V>(m: Map<K, V[]>, k: K, v: V): void => { const l = m.get(k); if (l) l.push(v); else m.set(k, [v]); };

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

const canonical = (ip: string): string => { const p = parseIP(ip); return p ? formatted(p.bytes) : ip; };
function formatted(b: Buffer): string {
  if (b.length === 4) return b.join('.');
  const parts: string[] = [];
  for (let i = 0; i < 16; i += 2) parts.push(b.readUInt16BE(i).toString(16));
  return parts.join(':');
}

/** Names in `net` that `qname` may stand for: itself, and without ".network" or ".domainName". */
function bases(qname: string, net: string, domain: string | undefined): string[] {
  const out = [qname];
  for (const suffix of [net.toLowerCase(), domain]) {
    if (suffix && qname.endsWith(`.${suffix}`)) out.push(qname.slice(0, -suffix.length - 1));
  }
  return out;
}

interface Found { known: boolean; local: boolean; ips: string[] }

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
    if (p.length !== 4 || !p.every((x) => /^\d{1,3}$/.test(x) && Number(x) < 256)) return undefined;
    return p.reverse().join('.');
  }
  if (qname.endsWith('.ip6.arpa')) {
    const n = qname.slice(0, -'.ip6.arpa'.length).split('.');
    if (n.length !== 32 || !n.every((x) => /^[0-9a-f]$/.test(x))) return undefined;
    const hex = n.reverse().join('');
    return canonical(hex.match(/.{4}/g)!.join(':'));
  }
  return undefined;
}

export type Outcome = { reply: Buffer } | { forward: true };

const FLAG_AA = 1 << 10, FLAG_TC = 1 << 9, FLAG_RD = 1 << 8, FLAG_RA = 1 << 7;
export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3 } as const;

/** The largest UDP reply the client takes: its EDNS payload size, else 512 bytes. */
function udpLimit(q: packet.Packet): number {
  const opt = (q.additionals ?? []).find((a) => a.type === 'OPT') as { udpPayloadSize?: number } | undefined;
  return Math.max(512, Math.min(opt?.udpPayloadSize ?? 512, 4096));
}

/** A reply carrying only a status (FORMERR, SERVFAIL): the query's header and question kept. */
export function statusReply(query: Buffer, rcode: number): Buffer {
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
 * The reply to one query from a container whose view is `s`; `turn` rotates several addresses.
 * Over UDP (`udp`), a reply larger than the client takes (512 bytes, or its EDNS size) goes
 * without its answers and with TC set: the client asks again over TCP.
 */
export function answer(t: Tables, s: Scope, query: Buffer, turn: number, udp = false): Outcome {
  let q: packet.Packet;
  try { q = packet.decode(query); } catch { return { reply: statusReply(query, RCODE.FORMERR) }; }
  const question = q.questions?.[0];
  if (q.type === 'response' || !question) return { reply: statusReply(query, RCODE.FORMERR) };
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
    const ips = f.ips.filter((ip) => familyOf(ip) === family);
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
