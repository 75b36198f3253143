// ctnetlink (NETLINK_NETFILTER): list conntrack entries and delete the ones a removed port
// mapping leaves behind (UDP entries would otherwise keep steering packets to a gone container).
import { AttrMap, encodeAttrs } from './attrs.ts';
import { NLA_F_NESTED, NLM_F } from './constants.ts';
import { netfilter, nfgenmsg } from './nftables.ts';
import type { Netlink } from './socket.ts';
import { formatIP, parseIP } from '../util/ip.ts';
import { mark } from '../os/trace.ts';
import { arrMap } from '../util/arrays.ts';

const CTNL = (msg: number): number => (1 << 8) | msg;   // NFNL_SUBSYS_CTNETLINK
const MSG = { GET: 1, DELETE: 2 } as const;
const CTA = { TUPLE_ORIG: 1, TUPLE_REPLY: 2 } as const;
const TUPLE = { IP: 1, PROTO: 2 } as const;
const IP = { V4_SRC: 1, V4_DST: 2, V6_SRC: 3, V6_DST: 4 } as const;
const PROTO = { NUM: 1, SRC_PORT: 2, DST_PORT: 3 } as const;

export interface CtTuple { src: string; dst: string; proto: number; sport?: number; dport?: number }
export interface CtEntry { orig: CtTuple; reply: CtTuple; origRaw: Buffer }


function tuple(m: AttrMap | undefined): CtTuple {
  const ip = m?.nested(TUPLE.IP);
  const p = m?.nested(TUPLE.PROTO);
  const src = ip?.raw(IP.V4_SRC) ?? ip?.raw(IP.V6_SRC);
  const dst = ip?.raw(IP.V4_DST) ?? ip?.raw(IP.V6_DST);
  const t: CtTuple = { src: src ? formatIP(src) : '', dst: dst ? formatIP(dst) : '', proto: p?.u8(PROTO.NUM) ?? 0 };
  const sp = p?.u16be(PROTO.SRC_PORT), dp = p?.u16be(PROTO.DST_PORT);
  if (sp !== undefined) t.sport = sp;
  if (dp !== undefined) t.dport = dp;
  return t;
}

/** One IPCTNL_MSG_CT_NEW message (nfgenmsg, then attributes). */
export function parseConntrack(payload: Buffer): CtEntry {
  const a = AttrMap.of(payload.subarray(4));
  return { orig: tuple(a.nested(CTA.TUPLE_ORIG)), reply: tuple(a.nested(CTA.TUPLE_REPLY)), origRaw: a.raw(CTA.TUPLE_ORIG)! };
}

export function listConntrack(nl: Netlink, family: 4 | 6): CtEntry[] {
  return arrMap(nl.request('list conntrack', CTNL(MSG.GET), NLM_F.DUMP, nfgenmsg(family === 4 ? 2 : 10)), (m) => parseConntrack(m.payload));
}

export function deleteConntrack(nl: Netlink, e: CtEntry, family: 4 | 6): void {
  const body = Buffer.concat([nfgenmsg(family === 4 ? 2 : 10), encodeAttrs([{ type: CTA.TUPLE_ORIG | NLA_F_NESTED, value: e.origRaw }])]);
  try {
    nl.request('delete conntrack entry', CTNL(MSG.DELETE), 0, body);
  } catch (err) {
    if ((err as { code?: string }).code !== 'ENOENT') throw err;   // expired meanwhile
  }
}

/**
 * Delete the UDP entries DNAT'ed to any of `containerIPs` through any of `hostPorts`: one dump
 * per address family, however many mappings (a dump per mapping is quadratic). Returns how many.
 */
export function flushUdpMappings(containerIPs: Iterable<string>, hostPorts: Iterable<number>): number {
  const ports = new Set(hostPorts);
  const byFamily = new Map<4 | 6, Set<string>>();
  for (const text of containerIPs) {
    const ip = parseIP(text);
    if (!ip) continue;
    let s = byFamily.get(ip.family);
    if (!s) byFamily.set(ip.family, (s = new Set()));
    s.add(formatIP(ip.bytes));
  }
  if (!ports.size || !byFamily.size) return 0;
  const nl = netfilter();
  let n = 0;
  for (const [family, ips] of byFamily) {
    mark(`conntrack dump ipv${family}`);
    for (const e of listConntrack(nl, family)) {
      if (e.orig.proto === 17 && e.orig.dport !== undefined && ports.has(e.orig.dport) && ips.has(e.reply.src)) {
        deleteConntrack(nl, e, family);
        n++;
      }
    }
  }
  return n;
}
