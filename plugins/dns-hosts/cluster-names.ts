// Names across hosts: each host's resolver publishes its containers' records of a network in
// etcd, one key per attachment, <prefix>/<network>/names/<containerID>:<ifname>, holding its
// names and addresses (never its links: they are the declaring container's own), and answers the
// other hosts' records as its own. A record from etcd is somebody's write: it is answered only
// when every field checks out (names as DNS names, addresses inside the subnets this host's
// containers of the network are in, the key naming it); a bad one is skipped and logged.
import { isDnsName } from '../../shared/cni/refinements.ts';
import { parseIP, parseCIDR, subnetHolds, subnetOf, toBig, type Subnet } from '../../shared/util/ip.ts';
import { arrEvery, arrFilter, arrMap, arrSome } from '../../shared/util/arrays.ts';
import type { KV } from '../cluster/etcd.ts';
import type { Attachment } from './records.ts';

export const DEFAULT_PREFIX = '/cni-ts/dns';
export const namesPrefix = (prefix: string | undefined, network: string): string => `${(prefix ?? DEFAULT_PREFIX).replace(/\/$/, '')}/${network}/names/`;
export const nameKey = (keyPrefix: string, a: { containerId: string; ifname: string }): string => `${keyPrefix}${a.containerId}:${a.ifname}`;

/** What another host learns of an attachment. */
export interface NameRecord { network: string; containerId: string; ifname: string; host: string; name?: string; shortId: string; aliases: string[]; ips: string[] }

export const recordOf = (a: Attachment, host: string): NameRecord => ({
  network: a.network, containerId: a.containerId, ifname: a.ifname, host, ...(a.name ? { name: a.name } : {}), shortId: a.shortId, aliases: a.aliases, ips: a.ips,
});

const MAX_ALIASES = 64, MAX_IPS = 8;
const dnsNames = (v: unknown, max: number): v is string[] => Array.isArray(v) && v.length <= max && arrEvery(v, (s) => typeof s === 'string' && isDnsName(s) && s === s.toLowerCase());

/** Why a record under `key` is not answered, or undefined when it is. */
export function unfitName(key: string, v: any, keyPrefix: string, network: string, subnets: Subnet[]): string | undefined {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'not a JSON object';
  if (v.network !== network || typeof v.containerId !== 'string' || typeof v.ifname !== 'string' || key !== nameKey(keyPrefix, v)) return 'not the attachment its key names';
  if (typeof v.host !== 'string' || !v.host || v.host.length > 512) return 'host is not a string of 1-512 characters';
  if (v.name !== undefined && !dnsNames([v.name], 1)) return `name ${JSON.stringify(v.name)} is not a DNS name in lower case`;
  if (!dnsNames([v.shortId], 1)) return 'shortId is not a DNS name in lower case';
  if (!dnsNames(v.aliases, MAX_ALIASES)) return `aliases are not up to ${MAX_ALIASES} DNS names in lower case`;
  if (!Array.isArray(v.ips) || !v.ips.length || v.ips.length > MAX_IPS) return `ips is not a list of 1-${MAX_IPS} addresses`;
  for (const ip of v.ips) {
    const a = typeof ip === 'string' ? parseIP(ip) : undefined;
    if (!a) return `ip ${JSON.stringify(ip)} is not an address`;
    if (!arrSome(subnets, (s) => s.family === a.family && subnetHolds(s, toBig(a.bytes)))) return `ip ${ip} is outside the network's subnets`;
  }
  return undefined;
}

/**
 * The other hosts' records of a network as the resolver answers them (no namespace, listener,
 * links or upstreams of theirs here), and why the rest were skipped. `subnets`: those of this
 * host's containers on the network.
 */
export function remoteRecords(kvs: KV[], keyPrefix: string, network: string, subnets: string[], me: string): { remote: Attachment[]; skipped: string[] } {
  const nets = arrMap(arrFilter(arrMap(subnets, parseCIDR), (n) => !!n), (n) => subnetOf(n!));
  const out: { remote: Attachment[]; skipped: string[] } = { remote: [], skipped: [] };
  for (const kv of kvs) {
    let v: any, why: string | undefined;
    try { v = JSON.parse(kv.value); why = unfitName(kv.key, v, keyPrefix, network, nets); } catch { why = 'not JSON'; }
    if (why) { out.skipped.push(`${kv.key}: ${why}`); continue; }
    if (v.host === me) continue;
    out.remote.push({
      network, containerId: v.containerId, ifname: v.ifname, netns: '', cookie: '', listen: '', ...(v.name ? { name: v.name } : {}),
      shortId: v.shortId, aliases: v.aliases, links: [], ips: v.ips, upstreams: [], forward: false, remote: v.host,
    });
  }
  return out;
}
