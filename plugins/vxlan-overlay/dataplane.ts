// The host side of the overlay, flannel's vxlan way: a VXLAN device without learning on the
// underlay holding <host subnet>.0/32 (its VTEP address) and a MAC derived from the host; per
// remote host one route (its subnet via its VTEP address, onlink), one permanent neighbour
// entry (that address -> its VTEP MAC) and one FDB entry (that MAC -> its underlay address).
import { CniError, ErrCode } from '../../shared/cni/errors.ts';
import { shortHash } from '../../shared/util/hash.ts';
import { parseCIDR, parseIP, subnetOf, bigToString } from '../../shared/util/ip.ts';
import { addAddress, listAddresses } from '../../shared/netlink/addr.ts';
import { AF, NTF, NUD } from '../../shared/netlink/constants.ts';
import { addLink, deleteLink, getLink, listLinks, requireLink, setLink, type Link } from '../../shared/netlink/link.ts';
import { addNeighbour, deleteNeighbour, listNeighbours } from '../../shared/netlink/neigh.ts';
import { addRoute, deleteRoute, listRoutes } from '../../shared/netlink/route.ts';
import type { Netlink } from '../../shared/netlink/socket.ts';
import type { Peer } from './lease.ts';
import { arrFind, arrMap, arrSome } from '../../shared/util/arrays.ts';

export const VXLAN_OVERHEAD = 50;
/** ESP in transport mode with AES-GCM: its header (8), IV (8), trailer (2, and up to 3 of padding) and ICV (16), rounded up */
export const ESP_OVERHEAD = 40;

/** defaultGateway: the default route's gateway (null: none) when the route dump was read to find the underlay */
export interface Underlay { link: Link; address: string; mtu: number; defaultGateway?: string | null }

/** The underlay: the configured interface or address, else the interface of the default route. */
export function findUnderlay(nl: Netlink, iface: string | undefined, address: string | undefined): Underlay {
  let link: Link | undefined, defaultGateway: string | null | undefined;
  if (iface) link = getLink(nl, iface);
  else if (address) {
    for (const a of listAddresses(nl, { family: 4 })) if (a.ip === address && (link = getLink(nl, a.index))) break;
  }
  else {
    const routes = listRoutes(nl, { family: 4 });
    const r = arrFind(routes, (x) => x.dst === '0.0.0.0/0' && x.oif);
    link = r?.oif ? getLink(nl, r.oif) : undefined;
    defaultGateway = arrFind(routes, (x) => x.dst === '0.0.0.0/0' && !!x.gw)?.gw ?? null;
  }
  if (!link) throw new CniError(ErrCode.InvalidConfig, `invalid network config: ${iface ? `underlayInterface "${iface}" does not exist` : address ? `underlayAddress ${address} is on no interface of this host` : 'no underlayInterface given and this host has no default route'}`);
  const addr = address ?? arrFind(listAddresses(nl, { index: link.index, family: 4 }), (a) => a.scope === 0)?.ip;
  if (!addr) throw new CniError(ErrCode.InvalidConfig, `invalid network config: the underlay interface "${link.name}" has no IPv4 address (set underlayAddress)`);
  return { link, address: addr, mtu: link.mtu ?? 1500, ...(defaultGateway !== undefined ? { defaultGateway } : {}) };
}

/** A stable, locally administered unicast MAC for this host's VTEP. */
export function vtepMac(host: string, vni: number): string {
  const h = shortHash(`${host}/${vni}`, 10);
  return `0a:${h.match(/../g)!.join(':')}`;
}

/** The VTEP address of a host subnet: its first (network) address, as flannel uses it. */
export const vtepAddress = (subnet: string): string => bigToString(subnetOf(parseCIDR(subnet)!).first, 4);

/**
 * `subnet`: the routed mode's host subnet, whose first address the device holds (its VTEP
 * address); `proxy`: the l2 mode's ARP and ND answered by the device from its neighbour entries,
 * so no ARP or ND crosses the tunnel.
 */
export interface VxlanSpec { name: string; vni: number; port: number; underlay: Underlay; mac: string; mtu: number; subnet?: string; proxy?: boolean }

/** The VXLAN device, made if missing (`created`), up, with its VTEP address (routed mode). */
export function ensureVxlan(nl: Netlink, v: VxlanSpec): { link: Link; created: boolean } {
  let l = getLink(nl, v.name);
  let created = false;
  if (l && l.kind !== 'vxlan') throw new CniError(ErrCode.InvalidConfig, `invalid network config: "${v.name}" exists and is not a vxlan device`);
  if (!l) {
    try {
      addLink(nl, { name: v.name, mac: v.mac, mtu: v.mtu, spec: { kind: 'vxlan', vni: v.vni, port: v.port, local: parseIP(v.underlay.address)!.bytes, parent: v.underlay.link.index, learning: false, proxy: !!v.proxy } });
      created = true;
    } catch (e) { if ((e as { code?: string }).code !== 'EEXIST') throw new CniError(ErrCode.Plugin, `could not create vxlan device ${v.name}: ${(e as Error).message}`); }
    l = requireLink(nl, v.name);
  }
  // a bridge port (l2) holds no address of its own, not even a link-local one
  if (created && v.proxy) setLink(nl, l.index, { inet6AddrGenMode: 'none' });
  if (!(l.flags & 1)) setLink(nl, l.index, { up: true });
  if (!v.subnet) return { link: l, created };
  const addr = vtepAddress(v.subnet);
  if (!arrSome(listAddresses(nl, { index: l.index, family: 4 }), (a) => a.ip === addr)) {
    try { addAddress(nl, { index: l.index, cidr: `${addr}/32`, nodad: true }); } catch (e) { if ((e as { code?: string }).code !== 'EEXIST') throw e; }
  }
  return { link: l, created };
}

const peerKey = (p: Peer): string => `${p.subnet} ${p.underlay} ${p.mac}`;

function addPeer(nl: Netlink, dev: number, p: Peer): void {
  const gw = vtepAddress(p.subnet);
  addNeighbour(nl, { ifindex: dev, ip: gw, mac: p.mac, state: NUD.PERMANENT });
  addNeighbour(nl, { ifindex: dev, ip: p.underlay, mac: p.mac, bridge: true, flags: NTF.SELF, state: NUD.PERMANENT });
  addRoute(nl, { dst: p.subnet, gw, oif: dev, onlink: true }, true);
}

function removePeer(nl: Netlink, dev: number, p: Peer): void {
  const gw = vtepAddress(p.subnet);
  for (const undo of [
    () => deleteRoute(nl, { dst: p.subnet, gw, oif: dev, onlink: true }),
    () => deleteNeighbour(nl, { ifindex: dev, ip: gw, mac: p.mac }),
    () => deleteNeighbour(nl, { ifindex: dev, ip: p.underlay, mac: p.mac, bridge: true, flags: NTF.SELF }),
  ]) { try { undo(); } catch { /* already gone */ } }
}

/**
 * Make the kernel's peer entries those of `want`, given those of `had` (the last sync): only
 * the differences, or every entry again (`all`: a device just made, or one being verified).
 */
export function applyPeers(nl: Netlink, dev: number, had: Peer[], want: Peer[], all: boolean): void {
  const keep = new Set(arrMap(want, peerKey));
  const have = new Set(arrMap(had, peerKey));
  for (const p of had) if (!keep.has(peerKey(p))) removePeer(nl, dev, p);
  for (const p of want) if (all || !have.has(peerKey(p))) addPeer(nl, dev, p);
}

/** The host's overlay goes (with its last container): the VXLAN device (its routes and entries with it) and the bridge if empty. */
export function teardown(nl: Netlink, vxlan: string, bridge: string): void {
  const v = getLink(nl, vxlan);
  if (v?.kind === 'vxlan') deleteLink(nl, v.index);
  const b = getLink(nl, bridge);
  if (b?.kind === 'bridge' && !arrSome(listLinks(nl), (l) => l.master === b.index)) deleteLink(nl, b.index);
}

const entryKey = (ip: string, mac: string): string => `${ip} ${mac}`;

/**
 * The l2 mode's entries on the VXLAN device made exactly `want`, from what the kernel holds (not
 * from an earlier sync): per remote address a permanent neighbour (address -> MAC, what the
 * device answers ARP and ND with), per remote MAC an FDB entry (MAC -> its host's underlay).
 * Whatever else is there as permanent goes, so removing a bad record heals every host.
 */
export function syncEndpoints(nl: Netlink, dev: number, want: { ip: string; mac: string; underlay: string }[]): void {
  const neigh = new Map<string, { ip: string; mac: string }>(), fdb = new Map<string, { ip: string; mac: string }>();
  for (const e of want) {
    neigh.set(entryKey(e.ip, e.mac), { ip: e.ip, mac: e.mac });
    fdb.set(entryKey(e.underlay, e.mac), { ip: e.underlay, mac: e.mac });
  }
  const haveNeigh = new Set<string>(), haveFdb = new Set<string>();
  // (a dump of every family leaves out the bridge family's: its FDB is a dump of its own)
  for (const n of [...listNeighbours(nl), ...listNeighbours(nl, AF.BRIDGE)]) {
    if (n.ifindex !== dev || !n.ip || !n.mac || !(n.state & NUD.PERMANENT)) continue;
    const k = entryKey(n.ip, n.mac);
    if (n.family === AF.BRIDGE) {
      if (!(n.flags & NTF.SELF)) continue;
      if (fdb.has(k)) haveFdb.add(k);
      else try { deleteNeighbour(nl, { ifindex: dev, ip: n.ip, mac: n.mac, bridge: true, flags: NTF.SELF }); } catch { /* gone */ }
    } else if (neigh.has(k)) haveNeigh.add(k);
    else try { deleteNeighbour(nl, { ifindex: dev, ip: n.ip, mac: n.mac }); } catch { /* gone */ }
  }
  for (const [k, e] of neigh) if (!haveNeigh.has(k)) addNeighbour(nl, { ifindex: dev, ip: e.ip, mac: e.mac, state: NUD.PERMANENT });
  for (const [k, e] of fdb) if (!haveFdb.has(k)) addNeighbour(nl, { ifindex: dev, ip: e.ip, mac: e.mac, bridge: true, flags: NTF.SELF, state: NUD.PERMANENT });
}
