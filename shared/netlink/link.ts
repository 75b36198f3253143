// Links: list, get, add (veth/bridge/macvlan/ipvlan/vxlan/vlan), delete, set attributes, move.
import { nla, type Attr, type AttrMap } from './attrs.ts';
import {
  AF, IFF, IFLA, IFLA_BRPORT, IFLA_INET_CONF, IFLA_INET6_ADDR_GEN_MODE, IN6_ADDR_GEN_MODE, IFLA_INFO, IFLA_IPVLAN, IFLA_MACVLAN, IFLA_VLAN, IFLA_VXLAN, IPVLAN_MODE,
  MACVLAN_MODE, NLM_F, RTM, VETH_INFO_PEER,
} from './constants.ts';
import { macFromString, macToString } from './mac.ts';
import { decodeBody, encodeBody, ifinfomsg, type IfInfoMsg } from './message.ts';
import type { Netlink } from './socket.ts';
import { arrMap } from '../util/arrays.ts';

export interface Link {
  index: number;
  name: string;
  flags: number;
  type: number;            // ARPHRD_*
  mtu?: number;
  mac?: string;
  master?: number;
  parent?: number;         // IFLA_LINK
  linkNetnsId?: number;
  operstate?: number;
  txqlen?: number;
  promiscuity?: number;
  allmulti?: number;
  kind?: string;
  slaveKind?: string;
  info?: AttrMap;          // IFLA_INFO_DATA
  attrs: AttrMap;
}

export function parseLink(payload: Buffer): Link {
  const { hdr, attrs } = decodeBody(ifinfomsg, payload);
  const linkinfo = attrs.nested(IFLA.LINKINFO);
  const mac = attrs.raw(IFLA.ADDRESS);
  const l: Link = { index: hdr.index, name: attrs.str(IFLA.IFNAME) ?? '', flags: hdr.flags, type: hdr.type, attrs };
  let v: number | string | AttrMap | undefined;
  if ((v = attrs.u32(IFLA.MTU)) !== undefined) l.mtu = v;
  if (mac) l.mac = macToString(mac);
  if ((v = attrs.u32(IFLA.MASTER)) !== undefined) l.master = v;
  if ((v = attrs.u32(IFLA.LINK)) !== undefined) l.parent = v;
  if ((v = attrs.i32(IFLA.LINK_NETNSID)) !== undefined) l.linkNetnsId = v;
  if ((v = attrs.u8(IFLA.OPERSTATE)) !== undefined) l.operstate = v;
  if ((v = attrs.u32(IFLA.TXQLEN)) !== undefined) l.txqlen = v;
  if ((v = attrs.u32(IFLA.PROMISCUITY)) !== undefined) l.promiscuity = v;
  if ((v = attrs.u32(IFLA.ALLMULTI)) !== undefined) l.allmulti = v;
  if (linkinfo) {
    if ((v = linkinfo.str(IFLA_INFO.KIND)) !== undefined) l.kind = v;
    if ((v = linkinfo.str(IFLA_INFO.SLAVE_KIND)) !== undefined) l.slaveKind = v;
    if ((v = linkinfo.nested(IFLA_INFO.DATA)) !== undefined) l.info = v;
  }
  return l;
}

const hdr = (over: Partial<IfInfoMsg> = {}): IfInfoMsg => ({ family: AF.UNSPEC, type: 0, index: 0, flags: 0, change: 0, ...over });

export function listLinks(nl: Netlink): Link[] {
  return arrMap(nl.request('list links', RTM.GETLINK, NLM_F.DUMP, encodeBody(ifinfomsg, hdr(), [])), (m) => parseLink(m.payload));
}

/** The link, or undefined when there is none of that name (ENODEV). */
export function getLink(nl: Netlink, nameOrIndex: string | number): Link | undefined {
  const byName = typeof nameOrIndex === 'string';
  const body = encodeBody(ifinfomsg, hdr({ index: byName ? 0 : nameOrIndex }), byName ? [nla.str(IFLA.IFNAME, nameOrIndex)] : []);
  try {
    const [m] = nl.request(`get link ${nameOrIndex}`, RTM.GETLINK, 0, body);
    return m ? parseLink(m.payload) : undefined;
  } catch (e) {
    if ((e as { code?: string }).code === 'ENODEV') return undefined;
    throw e;
  }
}

export function requireLink(nl: Netlink, nameOrIndex: string | number): Link {
  const l = getLink(nl, nameOrIndex);
  if (!l) throw Object.assign(new Error(`link ${nameOrIndex} not found`), { code: 'ENODEV' });
  return l;
}

/** Kind-specific data for IFLA_LINKINFO. */
export type LinkKind =
  | { kind: 'veth'; peer: { name: string; nsFd?: number; mac?: string; mtu?: number; queues?: number } }
  | { kind: 'bridge'; data?: Attr[] }
  | { kind: 'macvlan'; mode: keyof typeof MACVLAN_MODE; bcQueueLen?: number }
  | { kind: 'ipvlan'; mode: keyof typeof IPVLAN_MODE; flags?: number }
  | { kind: 'vlan'; id: number }
  | { kind: 'vxlan'; vni: number; port?: number; local?: Buffer; parent?: number; learning?: boolean; ttl?: number; proxy?: boolean }
  | { kind: 'dummy' };

/**
 * A fixed number of TX and RX queues. Without them a veth end gets one of each per possible
 * CPU and is then cut down to one active queue, which waits for an RCU grace period under RTNL
 * (synchronize_net, twice a pair on kernels >= 6.7).
 */
const queueAttrs = (n: number): Attr[] => [nla.u32(IFLA.NUM_TX_QUEUES, n), nla.u32(IFLA.NUM_RX_QUEUES, n)];

function infoData(k: LinkKind): Attr[] | undefined {
  switch (k.kind) {
    case 'veth': {
      const peerAttrs: Attr[] = [nla.str(IFLA.IFNAME, k.peer.name)];
      if (k.peer.nsFd !== undefined) peerAttrs.push(nla.u32(IFLA.NET_NS_FD, k.peer.nsFd));
      if (k.peer.mac) peerAttrs.push(nla.bytes(IFLA.ADDRESS, macFromString(k.peer.mac)));
      if (k.peer.mtu) peerAttrs.push(nla.u32(IFLA.MTU, k.peer.mtu));
      if (k.peer.queues) peerAttrs.push(...queueAttrs(k.peer.queues));
      // VETH_INFO_PEER carries a whole ifinfomsg, then the peer's attributes
      return [{ type: VETH_INFO_PEER, value: encodeBody(ifinfomsg, hdr(), peerAttrs) }];
    }
    case 'bridge': return k.data;
    case 'macvlan': {
      const d = [nla.u32(IFLA_MACVLAN.MODE, MACVLAN_MODE[k.mode])];
      if (k.bcQueueLen !== undefined) d.push(nla.u32(IFLA_MACVLAN.BC_QUEUE_LEN, k.bcQueueLen));
      return d;
    }
    case 'ipvlan': return [nla.u16(IFLA_IPVLAN.MODE, IPVLAN_MODE[k.mode]), nla.u16(IFLA_IPVLAN.FLAGS, k.flags ?? 0)];
    case 'vlan': return [nla.u16(IFLA_VLAN.ID, k.id)];
    case 'vxlan': {
      const d = [nla.u32(IFLA_VXLAN.ID, k.vni), nla.u16be(IFLA_VXLAN.PORT, k.port ?? 4789), nla.u8(IFLA_VXLAN.LEARNING, k.learning ? 1 : 0)];
      if (k.local) d.push(nla.bytes(k.local.length === 4 ? IFLA_VXLAN.LOCAL : IFLA_VXLAN.LOCAL6, k.local));
      if (k.parent) d.push(nla.u32(IFLA_VXLAN.LINK, k.parent));
      if (k.ttl !== undefined) d.push(nla.u8(IFLA_VXLAN.TTL, k.ttl));
      if (k.proxy) d.push(nla.u8(IFLA_VXLAN.PROXY, 1));
      return d;
    }
    case 'dummy': return undefined;
  }
}

export interface NewLink {
  name: string;
  spec: LinkKind;
  mtu?: number;
  mac?: string;
  parent?: number;     // IFLA_LINK (macvlan/ipvlan/vlan parent)
  master?: number;
  nsFd?: number;       // create directly in that namespace
  txqlen?: number;
  queues?: number;     // TX and RX queues (see queueAttrs)
  up?: boolean;
}

/**
 * Create the link. With `echo`, the kernel's own message for the new link comes back with the
 * ACK (NLM_F_ECHO, kernels >= 6.2: before the master is set, index and MAC final) and is
 * returned, saving a GETLINK; undefined from an older kernel.
 */
export function addLink(nl: Netlink, l: NewLink, echo = false): Link | undefined {
  const attrs: Attr[] = [nla.str(IFLA.IFNAME, l.name)];
  if (l.mtu) attrs.push(nla.u32(IFLA.MTU, l.mtu));
  if (l.mac) attrs.push(nla.bytes(IFLA.ADDRESS, macFromString(l.mac)));
  if (l.parent) attrs.push(nla.u32(IFLA.LINK, l.parent));
  if (l.master) attrs.push(nla.u32(IFLA.MASTER, l.master));
  if (l.txqlen !== undefined) attrs.push(nla.u32(IFLA.TXQLEN, l.txqlen));
  if (l.nsFd !== undefined) attrs.push(nla.u32(IFLA.NET_NS_FD, l.nsFd));
  if (l.queues) attrs.push(...queueAttrs(l.queues));
  const data = infoData(l.spec);
  const info: Attr[] = [nla.str(IFLA_INFO.KIND, l.spec.kind)];
  if (data) info.push(nla.nested(IFLA_INFO.DATA, data));
  attrs.push(nla.nested(IFLA.LINKINFO, info));
  const flags = l.up ? IFF.UP : 0;
  const replies = nl.request(`add ${l.spec.kind} link ${l.name}`, RTM.NEWLINK, NLM_F.CREATE | NLM_F.EXCL | (echo ? NLM_F.ECHO : 0),
    encodeBody(ifinfomsg, hdr({ flags, change: flags }), attrs));
  for (const m of replies) {
    if (m.type !== RTM.NEWLINK) continue;
    const link = parseLink(m.payload);
    if (link.name === l.name) return link;
  }
  return undefined;
}

export function deleteLink(nl: Netlink, index: number): void {
  nl.request(`delete link ${index}`, RTM.DELLINK, 0, encodeBody(ifinfomsg, hdr({ index }), []));
}

export interface LinkChange {
  up?: boolean;
  mtu?: number;
  mac?: string;
  master?: number;     // 0 detaches
  name?: string;
  nsFd?: number;       // move to that namespace
  txqlen?: number;
  promisc?: boolean;
  allmulti?: boolean;
  /** IPv4 settings of the interface, [IPV4_DEVCONF_* index, value] (IFLA_AF_SPEC): what a write to net/ipv4/conf/<if>/<name> sets */
  inet4Conf?: [number, number][];
  /** how IPv6 addresses are made on it (`none`: not even a link-local one) */
  inet6AddrGenMode?: keyof typeof IN6_ADDR_GEN_MODE;
}

export function setLink(nl: Netlink, index: number, c: LinkChange): void {
  const attrs: Attr[] = [];
  if (c.mtu !== undefined) attrs.push(nla.u32(IFLA.MTU, c.mtu));
  if (c.mac !== undefined) attrs.push(nla.bytes(IFLA.ADDRESS, macFromString(c.mac)));
  if (c.master !== undefined) attrs.push(nla.u32(IFLA.MASTER, c.master));
  if (c.name !== undefined) attrs.push(nla.str(IFLA.IFNAME, c.name));
  if (c.nsFd !== undefined) attrs.push(nla.u32(IFLA.NET_NS_FD, c.nsFd));
  if (c.txqlen !== undefined) attrs.push(nla.u32(IFLA.TXQLEN, c.txqlen));
  const afSpec: Attr[] = [];
  if (c.inet4Conf?.length) afSpec.push(nla.nested(AF.INET, [nla.nested(IFLA_INET_CONF, arrMap(c.inet4Conf, ([k, v]) => nla.u32(k, v)))]));
  if (c.inet6AddrGenMode) afSpec.push(nla.nested(AF.INET6, [nla.u8(IFLA_INET6_ADDR_GEN_MODE, IN6_ADDR_GEN_MODE[c.inet6AddrGenMode])]));
  if (afSpec.length) attrs.push(nla.nested(IFLA.AF_SPEC, afSpec));
  let flags = 0, change = 0;
  const flag = (bit: number, on: boolean | undefined) => {
    if (on === undefined) return;
    change |= bit;
    if (on) flags |= bit;
  };
  flag(IFF.UP, c.up);
  flag(IFF.PROMISC, c.promisc);
  flag(IFF.ALLMULTI, c.allmulti);
  nl.request(`set link ${index}`, RTM.NEWLINK, 0, encodeBody(ifinfomsg, hdr({ index, flags, change }), attrs));
}

export const isUp = (l: Link): boolean => (l.flags & IFF.UP) !== 0;

/** Bridge port options (hairpin, port isolation) through IFLA_INFO_SLAVE_DATA. */
export function setBridgePort(nl: Netlink, index: number, o: { hairpin?: boolean; isolated?: boolean }): void {
  const data: Attr[] = [];
  if (o.hairpin !== undefined) data.push(nla.u8(IFLA_BRPORT.MODE, o.hairpin ? 1 : 0));
  if (o.isolated !== undefined) data.push(nla.u8(IFLA_BRPORT.ISOLATED, o.isolated ? 1 : 0));
  if (!data.length) return;
  const info = [nla.str(IFLA_INFO.SLAVE_KIND, 'bridge'), nla.nested(IFLA_INFO.SLAVE_DATA, data)];
  nl.request(`set bridge port ${index}`, RTM.NEWLINK, 0, encodeBody(ifinfomsg, hdr({ index }), [nla.nested(IFLA.LINKINFO, info)]));
}
