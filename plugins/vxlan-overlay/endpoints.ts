// The l2 mode's cluster-wide addresses: one etcd key per container address,
// <prefix>/<network>/endpoints/<ip>, holding the container's MAC, its host's underlay address and
// identity, and the attachment (container ID / ifname). A key is created only if absent, all of
// an attachment's in one transaction, so no address has two holders anywhere; it is deleted only
// while it still holds this attachment's value. Every value read is checked before it can
// become a neighbour or FDB entry on any host.
import { CniError, ErrCode } from '../../shared/cni/errors.ts';
import { formatIP, parseIP, type Family } from '../../shared/util/ip.ts';
import { shortHash } from '../../shared/util/hash.ts';
import { arrFilter, arrFind, arrMap, arrSome } from '../../shared/util/arrays.ts';
import { mark } from '../../shared/os/trace.ts';
import type { Etcd, KV } from '../cluster/etcd.ts';
import { unfitMac, unfitUnderlay, unfitVni } from './checks.ts';
import { assignable, freeIn, poolHolding, type Pool } from './pools.ts';

export interface Endpoint { ip: string; mac: string; underlay: string; host: string; id: string; vni: number }

/** Every key of one network (its endpoints, and an encrypted network's keys). */
export const networkPrefix = (prefix: string, network: string): string => `${prefix.replace(/\/$/, '')}/${network}/`;
export const endpointPrefix = (prefix: string, network: string): string => `${networkPrefix(prefix, network)}endpoints/`;

/** The endpoints fit to use, every address whose key is present (fit or not), and why the rest were skipped. */
export interface EndpointSet { endpoints: Endpoint[]; taken: Set<string>; skipped: string[] }

const canonical = (s: unknown): string | undefined => {
  const ip = typeof s === 'string' ? parseIP(s) : undefined;
  return ip && formatIP(ip.bytes) === s ? s : undefined;
};
const text = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && v.length <= 512;

/**
 * Why an endpoint value under `key` cannot reach the kernel, or undefined when it can: its
 * address the one its key names, inside a subnet and not reserved (never the gateway, which
 * answers on every host); its underlay an IPv4 unicast address outside the overlay's subnets;
 * its MAC a unicast one; host, attachment and VNI well-formed.
 */
export function unfitEndpoint(key: string, v: any, keyPrefix: string, pools: Pool[]): string | undefined {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'not a JSON object';
  if (!canonical(v.ip)) return 'ip is not an address in canonical form';
  if (key !== `${keyPrefix}${v.ip}`) return `ip ${v.ip} is not the one its key names`;
  if (!assignable(pools, v.ip)) return `ip ${v.ip} is outside the network's subnets or reserved`;
  const bad = unfitUnderlay(v.underlay, (ip) => !!poolHolding(pools, ip)) ?? unfitMac(v.mac);
  if (bad) return bad;
  if (!text(v.host) || !text(v.id)) return 'host or id is not a string of 1-512 characters';
  return unfitVni(v.vni);
}

/**
 * The endpoints under the network's keys, each checked; a MAC belongs to one host (its first
 * holder by etcd's create revision): a later record copying it cannot draw that MAC's traffic
 * to another underlay, and deleting the copy leaves the first holder's entries alone.
 */
export function parseEndpoints(kvs: KV[], keyPrefix: string, pools: Pool[]): EndpointSet {
  const out: EndpointSet = { endpoints: [], taken: new Set(), skipped: [] };
  const macs = new Map<string, string>();
  for (const kv of [...kvs].sort((a, b) => a.createRevision - b.createRevision)) {
    if (!kv.key.startsWith(keyPrefix)) continue;
    out.taken.add(kv.key.slice(keyPrefix.length));
    let v: any, why: string | undefined;
    try { v = JSON.parse(kv.value); why = unfitEndpoint(kv.key, v, keyPrefix, pools); } catch { why = 'not JSON'; }
    const owner = why ? undefined : `${v.host} ${v.underlay}`;
    if (owner && (macs.get(v.mac) ?? owner) !== owner) why = `its mac ${v.mac} is an older endpoint's of another host`;
    if (why) { out.skipped.push(`${kv.key}: ${why}`); continue; }
    macs.set(v.mac, owner!);
    out.endpoints.push({ ip: v.ip, mac: v.mac, underlay: v.underlay, host: v.host, id: v.id, vni: v.vni });
  }
  return out;
}

/** Docker's container MAC: 02:42 and the IPv4 address; without one, a hash of the first address. */
export function macFor(ips: string[]): string {
  const v4 = arrFind(arrMap(ips, (s) => parseIP(s)!), (a) => a.family === 4);
  if (v4) return `02:42:${arrMap([...v4.bytes], (b) => b.toString(16).padStart(2, '0')).join(':')}`;
  return `02:${shortHash(ips[0]!, 10).match(/../g)!.join(':')}`;
}

export interface Me { host: string; underlay: string; id: string; vni: number }

/**
 * This attachment's addresses, held in etcd: `requested` ones (any assignable address of a
 * subnet), and for every other family of the pools the lowest free one of the first pool with
 * room. The records of an earlier, interrupted ADD of the same attachment on this host are taken
 * again. One transaction creates the keys only if absent and reads the network's records in the
 * same step, so an ADD whose `guess` (what this host last saw) is right takes one round trip;
 * one that guessed wrong, or lost a race, has the records to choose again from. Returns the
 * addresses and the records as they are with them. `chosen` hears of each choice before it is
 * put.
 */
export async function allocate(etcd: Etcd, keyPrefix: string, pools: Pool[], me: Me, requested: string[], runtimeMac: string | undefined, guess: EndpointSet, lease: string | undefined, chosen: (eps: Endpoint[]) => void): Promise<{ eps: Endpoint[]; read: EndpointSet }> {
  const wanted = new Map<Family, string>();
  for (const r of requested) {
    const ip = parseIP(r)!;
    const s = formatIP(ip.bytes);
    if (wanted.has(ip.family)) throw new CniError(ErrCode.InvalidConfig, `invalid requested IPs: two IPv${ip.family} addresses (${wanted.get(ip.family)}, ${s}); an attachment takes one of each family`);
    if (!assignable(pools, s)) throw new CniError(ErrCode.AddressUnavailable, `requested IP ${s} is outside every subnet of the network or reserved (network, broadcast, gateway or aux address)`);
    wanted.set(ip.family, s);
  }
  const families = arrFilter([4, 6] as Family[], (f) => arrSome(pools, (p) => p.net.family === f));
  let read = guess, sure = false;
  for (let attempt = 0; attempt < 8; attempt++) {
    const mine = arrFilter(read.endpoints, (e) => e.host === me.host && e.id === me.id);
    const held = new Map(arrMap(read.endpoints, (e) => [e.ip, e] as const));
    const ips: string[] = [];
    for (const f of families) {
      const want = wanted.get(f);
      if (want) {
        const holder = held.get(want);
        // (a guess is not enough to refuse: the transaction finds out)
        if (sure && read.taken.has(want) && !(holder && holder.host === me.host && holder.id === me.id)) {
          throw new CniError(ErrCode.AddressUnavailable, `requested IP ${want} is already held${holder ? ` by ${holder.id} on host ${holder.underlay}` : ''}`);
        }
        ips.push(want);
        continue;
      }
      const again = arrFind(mine, (e) => parseIP(e.ip)!.family === f);
      if (again) { ips.push(again.ip); continue; }
      // after a lost race, a random one of the first free few: racing hosts spread out
      const spread = sure && attempt > 1 ? 8 * attempt : 1;
      let pick: string | undefined;
      for (const p of arrFilter(pools, (x) => x.net.family === f)) {
        const free = freeIn(p, read.taken, spread);
        if (free.length) { pick = free[(Math.random() * free.length) | 0]; break; }
      }
      if (!pick) break;
      ips.push(pick);
    }
    if (ips.length < families.length) {
      if (sure) throw new CniError(ErrCode.AddressesExhausted, `no free IPv${families[ips.length]} address left in the network's subnets`);
      // full, by the guess: look
      read = parseEndpoints((await etcd.range(keyPrefix)).kvs, keyPrefix, pools);
      sure = true;
      continue;
    }
    const mac = runtimeMac?.toLowerCase() ?? macFor(ips);
    const eps = arrMap(ips, (ip): Endpoint => ({ ip, mac, underlay: me.underlay, host: me.host, id: me.id, vni: me.vni }));
    chosen(eps);   // recorded on this host before etcd holds them: a call killed now leaves a record to release
    mark(`txn ${attempt}`);
    const r = await etcd.putAbsentAndRange(arrMap(eps, (e) => {
      const had = arrFind(mine, (m) => m.ip === e.ip);
      return [`${keyPrefix}${e.ip}`, JSON.stringify(e), had ? JSON.stringify(had) : undefined] as const;
    }), keyPrefix, lease);
    read = parseEndpoints(r.kvs, keyPrefix, pools);
    sure = true;
    if (r.succeeded) return { eps, read };
  }
  throw new CniError(ErrCode.TryAgainLater, 'vxlan-overlay: could not allocate an address (too many hosts racing): try again later');
}

/** Give an attachment's addresses back: each key only while it holds this attachment's value. */
export async function releaseAll(etcd: Etcd, keyPrefix: string, eps: Endpoint[]): Promise<void> {
  for (const e of eps) await etcd.deleteIf(`${keyPrefix}${e.ip}`, JSON.stringify(e));
}

/** The remote endpoints this host's kernel should know (its own are on its bridge). */
export const remoteOf = (eps: Endpoint[], host: string, vni: number): Endpoint[] => arrFilter(eps, (e) => e.host !== host && e.vni === vni);
