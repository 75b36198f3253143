// The l2 mode's address pools, as `docker network create -d overlay` takes them: subnets (IPv4
// and IPv6), each with an optional ipRange that dynamic addresses come from, a gateway (default:
// the subnet's first host address), and auxAddresses that are never handed out. Checked as a
// whole before anything is made.
import { CniError, ErrCode } from '../../shared/cni/errors.ts';
import { bigToString, parseCIDR, parseIP, subnetHolds, subnetOf, subnetString, toBig, type Family, type Subnet } from '../../shared/util/ip.ts';
import { arrFilter, arrFind, arrSome } from '../../shared/util/arrays.ts';
import { validateCommon, type OverlayConf } from './config.ts';

export interface Pool {
  /** the subnet as written canonically (network address / prefix) */
  subnet: string;
  net: Subnet;
  /** where dynamic addresses come from: ipRange, else the subnet */
  range: Subnet;
  gateway: string;
  /** addresses never handed out: network, broadcast (IPv4), gateway, aux addresses */
  reserved: Set<bigint>;
}

const bad = (field: string, why: string): CniError => new CniError(ErrCode.InvalidConfig, `invalid network config: ${field} ${why}`);

/** The pools of an l2 config (`subnets`, or the short form `subnet`), checked. */
export function poolsOf(c: OverlayConf): Pool[] {
  if (c.hostSubnetLength !== undefined) throw bad('hostSubnetLength', 'is a key of mode "routed" (per-host subnets); mode "l2", the default, shares its subnets across hosts');
  if (c.subnet && c.subnets) throw bad('subnet', 'and subnets are both given: subnet is the short form of one entry of subnets');
  const entries = c.subnets ?? (c.subnet ? [{ subnet: c.subnet }] : []);
  if (!entries.length) throw bad('subnets', 'is missing or empty: an overlay needs a subnet');
  validateCommon(c);
  const pools: Pool[] = [];
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    const field = c.subnets ? `subnets[${i}]` : 'subnet';
    const net = subnetOf(parseCIDR(e.subnet)!);
    const bits = net.family === 4 ? 32 : 128;
    if (net.prefix > bits - 2) throw bad(`${field}.subnet`, `${e.subnet} has no room for a gateway and a container`);
    const inside = (addr: string, what: string): bigint => {
      const ip = parseIP(addr)!;
      const n = toBig(ip.bytes);
      if (ip.family !== net.family || !subnetHolds(net, n)) throw bad(`${field}.${what}`, `${addr} is outside ${subnetString(net)}`);
      return n;
    };
    const reserved = new Set<bigint>([net.first]);
    if (net.family === 4) reserved.add(net.last);
    const gw = e.gateway ? inside(e.gateway, 'gateway') : net.first + 1n;
    if (reserved.has(gw)) throw bad(`${field}.gateway`, `${e.gateway} is the subnet's network or broadcast address`);
    reserved.add(gw);
    for (const [name, a] of Object.entries(e.auxAddresses ?? {})) reserved.add(inside(a, `auxAddresses.${name}`));
    let range = net;
    if (e.ipRange) {
      range = subnetOf(parseCIDR(e.ipRange)!);
      if (range.family !== net.family || range.first < net.first || range.last > net.last) throw bad(`${field}.ipRange`, `${e.ipRange} is not inside ${subnetString(net)}`);
    }
    const clash = arrFind(pools, (p) => p.net.family === net.family && p.net.first <= net.last && net.first <= p.net.last);
    if (clash) throw bad(`${field}.subnet`, `${subnetString(net)} overlaps ${clash.subnet}`);
    pools.push({ subnet: subnetString(net), net, range, gateway: bigToString(gw, net.family), reserved });
  }
  return pools;
}

export const familiesOf = (pools: Pool[]): Family[] => arrFilter([4, 6] as Family[], (f) => arrSome(pools, (p) => p.net.family === f));

/** The pool holding `addr`, if any. */
export function poolHolding(pools: Pool[], addr: string): Pool | undefined {
  const ip = parseIP(addr);
  if (!ip) return undefined;
  const n = toBig(ip.bytes);
  return arrFind(pools, (p) => p.net.family === ip.family && subnetHolds(p.net, n));
}

/** Whether `addr` (canonical text) can be a container's: inside a pool and not reserved. */
export function assignable(pools: Pool[], addr: string): Pool | undefined {
  const p = poolHolding(pools, addr);
  return p && !p.reserved.has(toBig(parseIP(addr)!.bytes)) ? p : undefined;
}

/**
 * Free addresses of `pool`'s range, in order from the lowest, skipping `taken` (canonical text):
 * at most `count`, found in at most taken.size + reserved.size + count steps whatever the range's size.
 */
export function freeIn(pool: Pool, taken: Set<string>, count: number): string[] {
  const out: string[] = [];
  for (let n = pool.range.first; n <= pool.range.last && out.length < count; n++) {
    if (pool.reserved.has(n)) continue;
    const s = bigToString(n, pool.net.family);
    if (!taken.has(s)) out.push(s);
  }
  return out;
}
