// host-local's config, as the reference reads it (ranges, the legacy single range, routes,
// dataDir, resolvConf) plus Docker's controls: ipRange inside a range (--ip-range), reserved
// addresses (--aux-address, "name=ip" allowed), the gateway defaulting to the first address.
import * as z from 'zod/mini';
import { CniError, ErrCode } from '../../shared/cni/errors.ts';
import { baseShape, cidrString, ipString } from '../../shared/cni/schema.ts';
import { bigToString, parseCIDR, parseIP, subnetOf, subnetString, toBig, type Family, type Subnet } from '../../shared/util/ip.ts';
import { arrFind, arrForEach, arrMap } from '../../shared/util/arrays.ts';

const reservedSchema = () => z.union([z.array(z.string()), z.record(z.string(), z.string())]);

const rangeSchema = () => z.looseObject({
  subnet: cidrString(),
  rangeStart: z.optional(ipString()),
  rangeEnd: z.optional(ipString()),
  gateway: z.optional(ipString()),
  ipRange: z.optional(cidrString()),
  reserved: z.optional(reservedSchema()),
});

const routeSchema = () => z.looseObject({ dst: cidrString(), gw: z.optional(ipString()) });

export const ipamSchema = () => z.looseObject({
  type: z.string(),
  ranges: z.optional(z.array(z.array(rangeSchema()))),
  subnet: z.optional(cidrString()),
  rangeStart: z.optional(ipString()),
  rangeEnd: z.optional(ipString()),
  gateway: z.optional(ipString()),
  ipRange: z.optional(cidrString()),
  reserved: z.optional(reservedSchema()),
  routes: z.optional(z.array(routeSchema())),
  dataDir: z.optional(z.string()),
  resolvConf: z.optional(z.string()),
  resolveConf: z.optional(z.string()),   // nerdctl's spelling
});

const ipList = () => z.optional(z.array(z.string()));

export const hostLocalSchema = () => z.looseObject({
  ...baseShape(),
  ipam: ipamSchema(),
  args: z.optional(z.looseObject({ cni: z.optional(z.looseObject({ ips: ipList() })) })),
  // the ipRanges capability (containerd's CRI sends the pod CIDR this way): range sets put first
  runtimeConfig: z.optional(z.looseObject({ ips: ipList(), ipRanges: z.optional(z.array(z.array(rangeSchema()))) })),
  'cni.dev/valid-attachments': z.optional(z.array(z.looseObject({ containerID: z.string(), ifname: z.string() }))),
});

export type HostLocalConf = z.infer<ReturnType<typeof hostLocalSchema>>;
export type IpamConf = HostLocalConf['ipam'];
type RangeConf = z.infer<ReturnType<typeof rangeSchema>>;

export interface Range {
  subnet: Subnet;
  start: bigint;
  end: bigint;
  gateway: bigint;
  reserved: Set<bigint>;
}

export interface RangeSet { family: Family; ranges: Range[] }

const invalid = (field: string, msg: string): CniError => new CniError(ErrCode.InvalidConfig, `invalid network config: ${field} ${msg}`);

function reservedAddresses(r: RangeConf['reserved'], field: string): bigint[] {
  if (!r) return [];
  const entries = Array.isArray(r) ? arrMap(r, (s) => s.slice(s.indexOf('=') + 1)) : Object.values(r);
  return arrMap(entries, (s) => {
    const ip = parseIP(s.trim());
    if (!ip) throw invalid(field, `has "${s}", which is not an IP address (use "ip" or "name=ip")`);
    return toBig(ip.bytes);
  });
}

function ipIn(s: Subnet, text: string, field: string): bigint {
  const ip = parseIP(text)!;
  const n = toBig(ip.bytes);
  if (ip.family !== s.family || n < s.first || n > s.last) throw invalid(field, `${text} is not in subnet ${subnetString(s)}`);
  return n;
}

function canonicalRange(r: RangeConf, field: string, shared: bigint[]): Range {
  const subnet = subnetOf(parseCIDR(r.subnet)!);
  const bits = subnet.family === 4 ? 32 : 128;
  if (subnet.prefix > bits - 2) throw invalid(`${field}.subnet`, `${r.subnet} is too small to allocate from`);
  // never the network address, nor the IPv4 broadcast
  let start = subnet.first + 1n;
  let end = subnet.family === 4 ? subnet.last - 1n : subnet.last;
  if (r.ipRange) {
    const pool = subnetOf(parseCIDR(r.ipRange)!);
    if (pool.family !== subnet.family || pool.first < subnet.first || pool.last > subnet.last) throw invalid(`${field}.ipRange`, `${r.ipRange} is not inside subnet ${subnetString(subnet)}`);
    if (pool.first > start) start = pool.first;
    if (pool.last < end) end = pool.last;
  }
  if (r.rangeStart) { const s = ipIn(subnet, r.rangeStart, `${field}.rangeStart`); if (s > start) start = s; }
  if (r.rangeEnd) { const e = ipIn(subnet, r.rangeEnd, `${field}.rangeEnd`); if (e < end) end = e; }
  if (start > end) throw invalid(field, `has no addresses: rangeStart ${bigToString(start, subnet.family)} is after rangeEnd ${bigToString(end, subnet.family)}`);
  const gateway = r.gateway ? toBig(parseIP(r.gateway)!.bytes) : subnet.first + 1n;
  const reserved = new Set([...shared, ...reservedAddresses(r.reserved, `${field}.reserved`)]);
  return { subnet, start, end, gateway, reserved };
}

/**
 * The config's range sets, validated: one family per set, no overlaps anywhere. As the
 * reference orders them: the runtime's ipRanges, the legacy single range, then `ranges`.
 */
const computed = new WeakMap<object, RangeSet[]>();

export function rangeSets(conf: Pick<HostLocalConf, 'ipam' | 'runtimeConfig'>): RangeSet[] {
  // (once per config: ADD validates before its first change, then allocates from the same sets)
  let out = computed.get(conf);
  if (!out) computed.set(conf, (out = computeRangeSets(conf)));
  return out;
}

function computeRangeSets(conf: Pick<HostLocalConf, 'ipam' | 'runtimeConfig'>): RangeSet[] {
  const ipam = conf.ipam;
  const shared = reservedAddresses(ipam.reserved, 'ipam.reserved');
  const sets: { conf: RangeConf[]; field: string }[] = [];
  arrForEach(conf.runtimeConfig?.ipRanges ?? [], (rs, i) => sets.push({ conf: rs, field: `runtimeConfig.ipRanges[${i}]` }));
  if (ipam.subnet) {
    const legacy: RangeConf = { subnet: ipam.subnet };
    for (const k of ['rangeStart', 'rangeEnd', 'gateway', 'ipRange'] as const) if (ipam[k]) legacy[k] = ipam[k];
    sets.push({ conf: [legacy], field: 'ipam' });
  }
  arrForEach(ipam.ranges ?? [], (rs, i) => sets.push({ conf: rs, field: `ipam.ranges[${i}]` }));
  if (!sets.length) throw invalid('ipam.ranges', 'is empty: no IP ranges specified');
  const out: RangeSet[] = [];
  const all: { r: Range; field: string; order: number }[] = [];
  for (const { conf, field } of sets) {
    if (!conf.length) throw invalid(field, 'is an empty range set');
    const ranges = arrMap(conf, (r, j) => canonicalRange(r, field === 'ipam' ? 'ipam' : `${field}[${j}]`, shared));
    const family = ranges[0]!.subnet.family;
    arrForEach(ranges, (r, j) => {
      if (r.subnet.family !== family) throw invalid(`${field}[${j}]`, 'mixes address families within one range set');
      all.push({ r, field: `${field}[${j}]`, order: all.length });
    });
    out.push({ family, ranges });
  }
  noOverlaps(all);
  return out;
}

/** No two ranges of a family share an address: sorted by start, each checked against the furthest end before it. */
export function noOverlaps(all: { r: Range; field: string; order: number }[]): void {
  const sorted = [...all].sort((a, b) => a.r.subnet.family - b.r.subnet.family || (a.r.start < b.r.start ? -1 : a.r.start > b.r.start ? 1 : a.order - b.order));
  let reach: (typeof all)[number] | undefined;
  for (const x of sorted) {
    if (reach && reach.r.subnet.family === x.r.subnet.family && x.r.start <= reach.r.end) {
      const [first, later] = reach.order < x.order ? [reach, x] : [x, reach];
      throw invalid(later.field, `overlaps with ${first.field}`);
    }
    if (!reach || reach.r.subnet.family !== x.r.subnet.family || x.r.end > reach.r.end) reach = x;
  }
}

export const rangeSetText = (rs: RangeSet): string =>
  arrMap(rs.ranges, (r) => `${subnetString(r.subnet)} (${bigToString(r.start, rs.family)}-${bigToString(r.end, rs.family)})`).join(', ');

export const rangeFor = (rs: RangeSet, family: Family, ip: bigint): Range | undefined =>
  family === rs.family ? arrFind(rs.ranges, (r) => ip >= r.start && ip <= r.end) : undefined;
