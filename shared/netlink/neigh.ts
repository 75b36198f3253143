// Neighbours (ARP/NDP entries, and bridge FDB entries for the overlay).
import { nla, type Attr } from './attrs.ts';
import { AF, NDA, NLM_F, NUD, RTM } from './constants.ts';
import { decodeBody, encodeBody, ndmsg } from './message.ts';
import type { Netlink } from './socket.ts';
import { formatIP, parseIP } from '../util/ip.ts';
import { macFromString, macToString } from './mac.ts';
import { arrMap } from '../util/arrays.ts';

export interface Neighbour { ifindex: number; family: number; ip?: string; mac?: string; state: number; flags: number }

export function parseNeighbour(payload: Buffer): Neighbour {
  const { hdr, attrs } = decodeBody(ndmsg, payload);
  const n: Neighbour = { ifindex: hdr.ifindex, family: hdr.family, state: hdr.state, flags: hdr.flags };
  const dst = attrs.raw(NDA.DST);
  if (dst) n.ip = formatIP(dst);
  const ll = attrs.raw(NDA.LLADDR);
  if (ll) n.mac = macToString(ll);
  return n;
}

export interface NeighbourSpec {
  ifindex: number;
  ip?: string;          // absent with family bridge: an FDB entry
  mac: string;
  state?: number;       // default permanent
  flags?: number;       // NTF_*
  bridge?: boolean;     // AF_BRIDGE (FDB)
}

function neighBody(n: NeighbourSpec): Buffer {
  const attrs: Attr[] = [];
  let family: number = AF.BRIDGE;
  if (n.ip) {
    const ip = parseIP(n.ip);
    if (!ip) throw new TypeError(`invalid neighbour address "${n.ip}"`);
    attrs.push(nla.bytes(NDA.DST, ip.bytes));
    if (!n.bridge) family = ip.family === 4 ? AF.INET : AF.INET6;
  }
  attrs.push(nla.bytes(NDA.LLADDR, macFromString(n.mac)));
  return encodeBody(ndmsg, { family, ifindex: n.ifindex, state: n.state ?? NUD.PERMANENT, flags: n.flags ?? 0, type: 0 }, attrs);
}

export function addNeighbour(nl: Netlink, n: NeighbourSpec): void {
  nl.request(`add neighbour ${n.ip ?? n.mac}`, RTM.NEWNEIGH, NLM_F.CREATE | NLM_F.REPLACE, neighBody(n));
}

export function deleteNeighbour(nl: Netlink, n: NeighbourSpec): void {
  nl.request(`delete neighbour ${n.ip ?? n.mac}`, RTM.DELNEIGH, 0, neighBody(n));
}

export function listNeighbours(nl: Netlink, family: number = AF.UNSPEC): Neighbour[] {
  return arrMap(nl.request('list neighbours', RTM.GETNEIGH, NLM_F.DUMP, encodeBody(ndmsg, { family, ifindex: 0, state: 0, flags: 0, type: 0 }, [])), (m) => parseNeighbour(m.payload));
}
