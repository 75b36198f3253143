// Routes: list, add, delete (gateway, onlink, scope link, table, metrics).
import { nla, type Attr } from './attrs.ts';
import { AF, NLM_F, RTA, RTAX, RTM, RTN, RTNH_F_ONLINK, RTPROT, RT_SCOPE, RT_TABLE } from './constants.ts';
import { decodeBody, encodeBody, rtmsg } from './message.ts';
import type { Netlink } from './socket.ts';
import { formatIP, parseCIDR, parseIP, type Family } from '../util/ip.ts';
import { arrMap } from '../util/arrays.ts';

export interface Route {
  family: Family;
  /** "0.0.0.0/0" for a default route */
  dst: string;
  gw?: string;
  oif?: number;
  table: number;
  protocol: number;
  scope: number;
  type: number;
  flags: number;
  priority?: number;
  prefsrc?: string;
  mtu?: number;
  advmss?: number;
}

export function parseRoute(payload: Buffer): Route {
  const { hdr, attrs } = decodeBody(rtmsg, payload);
  const family: Family = hdr.family === AF.INET ? 4 : 6;
  const dst = attrs.raw(RTA.DST);
  const r: Route = {
    family, dst: `${dst ? formatIP(dst) : family === 4 ? '0.0.0.0' : '::'}/${hdr.dstLen}`,
    table: attrs.u32(RTA.TABLE) ?? hdr.table, protocol: hdr.protocol, scope: hdr.scope, type: hdr.type, flags: hdr.flags,
  };
  const gw = attrs.raw(RTA.GATEWAY);
  if (gw) r.gw = formatIP(gw);
  const oif = attrs.u32(RTA.OIF);
  if (oif !== undefined) r.oif = oif;
  const prio = attrs.u32(RTA.PRIORITY);
  if (prio !== undefined) r.priority = prio;
  const src = attrs.raw(RTA.PREFSRC);
  if (src) r.prefsrc = formatIP(src);
  const metrics = attrs.nested(RTA.METRICS);
  const mtu = metrics?.u32(RTAX.MTU);
  if (mtu !== undefined) r.mtu = mtu;
  const advmss = metrics?.u32(RTAX.ADVMSS);
  if (advmss !== undefined) r.advmss = advmss;
  return r;
}

export function listRoutes(nl: Netlink, opts: { family?: Family; table?: number; oif?: number } = {}): Route[] {
  const family = opts.family === 4 ? AF.INET : opts.family === 6 ? AF.INET6 : AF.UNSPEC;
  const body = encodeBody(rtmsg, { family, dstLen: 0, srcLen: 0, tos: 0, table: 0, protocol: 0, scope: 0, type: 0, flags: 0 }, []);
  const table = opts.table ?? RT_TABLE.MAIN;
  const out: Route[] = [];
  for (const m of nl.request('list routes', RTM.GETROUTE, NLM_F.DUMP, body)) {
    const r = parseRoute(m.payload);
    if (r.table === table && (opts.oif === undefined || r.oif === opts.oif)) out.push(r);
  }
  return out;
}

/** The route the kernel would use to reach `ip` (as `ip route get`); undefined when unreachable. */
export function routeTo(nl: Netlink, ip: string): Route | undefined {
  const a = parseIP(ip);
  if (!a) throw new TypeError(`invalid address "${ip}"`);
  const body = encodeBody(rtmsg, { family: a.family === 4 ? AF.INET : AF.INET6, dstLen: a.family === 4 ? 32 : 128, srcLen: 0, tos: 0, table: 0, protocol: 0, scope: 0, type: 0, flags: 0 }, [nla.bytes(RTA.DST, a.bytes)]);
  try {
    return arrMap(nl.request('get route', RTM.GETROUTE, 0, body), (m) => parseRoute(m.payload))[0];
  } catch (e) {
    if (['ENETUNREACH', 'EHOSTUNREACH', 'ESRCH'].includes((e as { code?: string }).code ?? '')) return undefined;
    throw e;
  }
}

export interface RouteSpec {
  dst: string;            // CIDR; "0.0.0.0/0" / "::/0" for default
  gw?: string;
  oif?: number;
  onlink?: boolean;
  scope?: number;         // defaults: link when there is no gateway, universe otherwise
  table?: number;
  priority?: number;
  mtu?: number;
  advmss?: number;
  prefsrc?: string;
  protocol?: number;
}

function routeBody(r: RouteSpec): Buffer {
  const dst = parseCIDR(r.dst);
  if (!dst) throw new TypeError(`invalid route destination "${r.dst}"`);
  const attrs: Attr[] = [];
  if (dst.prefix > 0) attrs.push(nla.bytes(RTA.DST, dst.ip.bytes));
  if (r.gw) {
    const gw = parseIP(r.gw);
    if (!gw || gw.family !== dst.ip.family) throw new TypeError(`invalid gateway "${r.gw}" for ${r.dst}`);
    attrs.push(nla.bytes(RTA.GATEWAY, gw.bytes));
  }
  if (r.prefsrc) {
    const src = parseIP(r.prefsrc);
    if (!src) throw new TypeError(`invalid source "${r.prefsrc}"`);
    attrs.push(nla.bytes(RTA.PREFSRC, src.bytes));
  }
  if (r.oif !== undefined) attrs.push(nla.u32(RTA.OIF, r.oif));
  if (r.priority !== undefined) attrs.push(nla.u32(RTA.PRIORITY, r.priority));
  const table = r.table ?? RT_TABLE.MAIN;
  if (table > 255) attrs.push(nla.u32(RTA.TABLE, table));
  const metrics: Attr[] = [];
  if (r.mtu) metrics.push(nla.u32(RTAX.MTU, r.mtu));
  if (r.advmss) metrics.push(nla.u32(RTAX.ADVMSS, r.advmss));
  if (metrics.length) attrs.push(nla.nested(RTA.METRICS, metrics));
  return encodeBody(rtmsg, {
    family: dst.ip.family === 4 ? AF.INET : AF.INET6, dstLen: dst.prefix, srcLen: 0, tos: 0,
    table: table > 255 ? RT_TABLE.UNSPEC : table, protocol: r.protocol ?? RTPROT.BOOT,
    scope: r.scope ?? (r.gw ? RT_SCOPE.UNIVERSE : RT_SCOPE.LINK), type: RTN.UNICAST,
    flags: r.onlink ? RTNH_F_ONLINK : 0,
  }, attrs);
}

export function addRoute(nl: Netlink, r: RouteSpec, replace = false): void {
  nl.request(`add route ${r.dst}${r.gw ? ` via ${r.gw}` : ''}`, RTM.NEWROUTE, NLM_F.CREATE | (replace ? NLM_F.REPLACE : NLM_F.EXCL), routeBody(r));
}

export function deleteRoute(nl: Netlink, r: RouteSpec): void {
  nl.request(`delete route ${r.dst}`, RTM.DELROUTE, 0, routeBody({ ...r, scope: r.scope ?? RT_SCOPE.NOWHERE }));
}
