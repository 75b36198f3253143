// Per-host subnets leased in etcd, flannel's way: one key per leased subnet under
// <prefix>/<network>/subnets/, holding the host's identity, underlay address and VTEP MAC. A
// lease is created only if the key is absent (a transaction), so hosts racing for subnets get
// distinct ones; a host that holds one keeps it (found by its identity); a host's lease is
// deleted only while it still holds this host's value.
import { CniError, ErrCode } from '../../shared/cni/errors.ts';
import { bigToString, parseCIDR, parseIP, subnetHolds, subnetOf, subnetString, toBig, type Subnet } from '../../shared/util/ip.ts';
import { shortHash } from '../../shared/util/hash.ts';
import type { Etcd, KV } from '../cluster/etcd.ts';
import { unfitMac, unfitUnderlay, unfitVni } from './checks.ts';
import { arrFilter, arrFind, arrMap } from '../../shared/util/arrays.ts';

export interface Lease { subnet: string; host: string; underlay: string; mac: string; vni: number }
export interface Peer { subnet: string; underlay: string; mac: string }

export const leasePrefix = (prefix: string, network: string): string => `${prefix.replace(/\/$/, '')}/${network}/subnets/`;
const keyUnder = (keyPrefix: string, subnet: string): string => `${keyPrefix}${subnet.replace('/', '-')}`;
export const keyOf = (prefix: string, network: string, subnet: string): string => keyUnder(leasePrefix(prefix, network), subnet);

/** What a lease must be to be used: of this network's key space, subnets and host length. */
export interface LeaseRules { keyPrefix: string; network: string; hostLen: number }

/** The leases fit to use, every subnet whose key is present (fit or not), and why the rest were skipped. */
export interface LeaseSet { leases: Lease[]; taken: Set<string>; skipped: string[] }

/**
 * Why a peer (a lease's subnet, underlay and MAC, from etcd or from the state file) cannot reach
 * the kernel, or undefined when it can: its subnet a /hostLen network address inside the network
 * (so it can never route the host's underlay, etcd or gateway into the tunnel: the network is
 * checked against those), its underlay and MAC well-formed unicast addresses outside it.
 */
export function unfitPeer(v: any, r: Omit<LeaseRules, 'keyPrefix'>, net = subnetOf(parseCIDR(r.network)!)): string | undefined {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'not a JSON object';
  const sub = typeof v.subnet === 'string' ? parseCIDR(v.subnet) : undefined;
  if (!sub || sub.ip.family !== 4) return 'subnet is not an IPv4 CIDR';
  const s = subnetOf(sub);
  if (subnetString(s) !== v.subnet || sub.prefix !== r.hostLen) return `subnet ${v.subnet} is not a /${r.hostLen} network address`;
  if (s.first < net.first || s.last > net.last) return `subnet ${v.subnet} is outside the network's ${r.network}`;
  return unfitUnderlay(v.underlay, (ip) => subnetHolds(net, toBig(parseIP(ip)!.bytes))) ?? unfitMac(v.mac);
}

/** Why a lease value under `key` cannot be used (a peer that cannot, or a key, host or VNI that do not fit), or undefined. */
function unfit(key: string, v: any, r: LeaseRules, net: Subnet): string | undefined {
  const bad = unfitPeer(v, r, net);
  if (bad) return bad;
  if (key !== keyUnder(r.keyPrefix, v.subnet)) return `subnet ${v.subnet} is not the one its key names`;
  if (typeof v.host !== 'string' || !v.host || v.host.length > 512) return 'host is not a string of 1-512 characters';
  return unfitVni(v.vni);
}

/**
 * The leases of the network's keys, each checked (unfit), and unique in host, underlay and MAC:
 * of two claiming one, the older (etcd's create revision) stays, so a later write can neither
 * take another host's traffic nor, once deleted, take that host's entries with it.
 */
export function parseLeases(kvs: KV[], r: LeaseRules): LeaseSet {
  const net = subnetOf(parseCIDR(r.network)!);
  const out: LeaseSet = { leases: [], taken: new Set(), skipped: [] };
  const seen = new Set<string>();
  for (const kv of [...kvs].sort((a, b) => a.createRevision - b.createRevision)) {
    if (!kv.key.startsWith(r.keyPrefix)) continue;
    const named = kv.key.slice(r.keyPrefix.length).replace('-', '/');
    if (parseCIDR(named)) out.taken.add(named);
    let v: any, why: string | undefined;
    try { v = JSON.parse(kv.value); why = unfit(kv.key, v, r, net); } catch { why = 'not JSON'; }
    if (!why) {
      const clash = arrFind([`host ${v.host}`, `underlay ${v.underlay}`, `mac ${v.mac}`], (k) => seen.has(k));
      if (clash) why = `its ${clash} is an older lease's`;
    }
    if (why) { out.skipped.push(`${kv.key}: ${why}`); continue; }
    for (const k of [`host ${v.host}`, `underlay ${v.underlay}`, `mac ${v.mac}`]) seen.add(k);
    out.leases.push({ subnet: v.subnet, host: v.host, underlay: v.underlay, mac: v.mac, vni: v.vni });
  }
  return out;
}

/** Every host subnet of the overlay, starting at a place derived from the host (fewer collisions when hosts race). */
function candidates(overlay: string, hostLen: number, host: string): string[] {
  const net = subnetOf(parseCIDR(overlay)!);
  const count = 1 << (hostLen - net.prefix);
  const size = 1n << BigInt(32 - hostLen);
  const start = parseInt(shortHash(host, 8), 16) % count;
  const out: string[] = [];
  for (let i = 0; i < count; i++) out.push(`${bigToString(net.first + BigInt((start + i) % count) * size, 4)}/${hostLen}`);
  return out;
}

/** This host's lease: the one it holds (its underlay and MAC brought up to date), or a new one under a key nobody holds. */
export async function acquire(etcd: Etcd, prefix: string, network: string, overlay: string, hostLen: number, me: Omit<Lease, 'subnet'>, read: LeaseSet, ttlLease?: string): Promise<Lease> {
  for (let attempt = 0; attempt < 8; attempt++) {
    const mine = arrFind(read.leases, (l) => l.host === me.host);
    if (mine) {
      if (mine.underlay === me.underlay && mine.mac === me.mac && mine.vni === me.vni) return mine;
      const next: Lease = { ...me, subnet: mine.subnet };
      if (await etcd.putAbsent([[keyOf(prefix, network, mine.subnet), JSON.stringify(next), JSON.stringify(mine)]], ttlLease)) return next;
    } else {
      // a key held by an unfit value is taken too: creating it would fail
      const free = arrFind(candidates(overlay, hostLen, me.host), (s) => !read.taken.has(s));
      if (!free) throw new CniError(ErrCode.Plugin, `vxlan-overlay: every /${hostLen} subnet of ${overlay} is leased to another host`);
      const lease: Lease = { ...me, subnet: free };
      if (await etcd.putAbsent([[keyOf(prefix, network, free), JSON.stringify(lease), undefined]], ttlLease)) return lease;
    }
    read = parseLeases((await etcd.range(leasePrefix(prefix, network))).kvs, { keyPrefix: leasePrefix(prefix, network), network: overlay, hostLen });   // lost a race: look again
  }
  throw new CniError(ErrCode.TryAgainLater, 'vxlan-overlay: could not lease a subnet (too many hosts racing): try again later');
}

export const release = (etcd: Etcd, prefix: string, network: string, lease: Lease): Promise<boolean> =>
  etcd.deleteIf(keyOf(prefix, network, lease.subnet), JSON.stringify(lease));

export const peersOf = (leases: Lease[], host: string, vni: number): Peer[] =>
  arrMap(arrFilter(leases, (l) => l.host !== host && l.vni === vni), (l) => ({ subnet: l.subnet, underlay: l.underlay, mac: l.mac })).sort((a, b) => a.subnet.localeCompare(b.subnet));
