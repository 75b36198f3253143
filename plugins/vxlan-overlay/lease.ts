// Per-host subnets leased in etcd, flannel's way: one key per leased subnet under
// <prefix>/<network>/subnets/, holding the host's identity, underlay address and VTEP MAC. A
// lease is created only if the key is absent (a transaction), so hosts racing for subnets get
// distinct ones; a host that holds one keeps it (found by its identity); a host's lease is
// deleted only while it still holds this host's value.
import { CniError, ErrCode } from '../../shared/cni/errors.ts';
import { bigToString, parseCIDR, subnetOf } from '../../shared/util/ip.ts';
import { shortHash } from '../../shared/util/hash.ts';
import type { Etcd, KV } from './etcd.ts';
import { arrFilter, arrFind, arrMap } from '../../shared/util/arrays.ts';

export interface Lease { subnet: string; host: string; underlay: string; mac: string; vni: number }
export interface Peer { subnet: string; underlay: string; mac: string }

export const leasePrefix = (prefix: string, network: string): string => `${prefix.replace(/\/$/, '')}/${network}/subnets/`;
const keyOf = (prefix: string, network: string, subnet: string): string => `${leasePrefix(prefix, network)}${subnet.replace('/', '-')}`;

export function parseLeases(kvs: KV[]): Lease[] {
  const out: Lease[] = [];
  for (const kv of kvs) {
    try {
      const v = JSON.parse(kv.value) as Lease;
      if (typeof v.subnet === 'string' && parseCIDR(v.subnet) && typeof v.host === 'string' && typeof v.underlay === 'string' && typeof v.mac === 'string') out.push(v);
    } catch { /* not a lease of ours */ }
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

/** This host's lease: the one it holds (its underlay and MAC brought up to date), or a new one. */
export async function acquire(etcd: Etcd, prefix: string, network: string, overlay: string, hostLen: number, me: Omit<Lease, 'subnet'>, leases: Lease[]): Promise<Lease> {
  for (let attempt = 0; attempt < 8; attempt++) {
    const mine = arrFind(leases, (l) => l.host === me.host);
    if (mine) {
      if (mine.underlay === me.underlay && mine.mac === me.mac && mine.vni === me.vni) return mine;
      const next: Lease = { ...me, subnet: mine.subnet };
      if (await etcd.swap(keyOf(prefix, network, mine.subnet), JSON.stringify(mine), JSON.stringify(next))) return next;
    } else {
      const taken = new Set(arrMap(leases, (l) => l.subnet));
      const free = arrFind(candidates(overlay, hostLen, me.host), (s) => !taken.has(s));
      if (!free) throw new CniError(ErrCode.Plugin, `vxlan-overlay: every /${hostLen} subnet of ${overlay} is leased to another host`);
      const lease: Lease = { ...me, subnet: free };
      if (await etcd.create(keyOf(prefix, network, free), JSON.stringify(lease))) return lease;
    }
    leases = parseLeases((await etcd.range(leasePrefix(prefix, network))).kvs);   // lost a race: look again
  }
  throw new CniError(ErrCode.TryAgainLater, 'vxlan-overlay: could not lease a subnet (too many hosts racing): try again later');
}

export const release = (etcd: Etcd, prefix: string, network: string, lease: Lease): Promise<boolean> =>
  etcd.deleteIf(keyOf(prefix, network, lease.subnet), JSON.stringify(lease));

export const peersOf = (leases: Lease[], host: string, vni: number): Peer[] =>
  arrMap(arrFilter(leases, (l) => l.host !== host && l.vni === vni), (l) => ({ subnet: l.subnet, underlay: l.underlay, mac: l.mac })).sort((a, b) => a.subnet.localeCompare(b.subnet));
