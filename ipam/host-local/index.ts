// host-local IPAM: addresses from ranges, kept in a store the reference host-local shares.
// Runs as its own executable, and in-process when a main plugin's ipam.type is host-local.
import { readFile } from '../../shared/os/fs.ts';
import { CniError, ErrCode } from '../../shared/cni/errors.ts';
import type { Context, Plugin } from '../../shared/cni/plugin.ts';
import type { DNS, Result } from '../../shared/cni/result.ts';
import { configSchema } from '../../shared/cni/schema.ts';
import { requestedIPs } from '../../shared/cni/args.ts';
import { familyOf, parseIP, subnetHolds, toBig } from '../../shared/util/ip.ts';
import { allocateDynamic, allocateStatic, staticRange, type Allocation } from './allocate.ts';
import { hostLocalSchema, rangeFor, rangeSets, rangeSetText, type HostLocalConf, type RangeSet } from './config.ts';
import { DEFAULT_DATA_DIR, Store, leaseKey } from './store.ts';
import { arrEvery, arrFilter, arrFind, arrMap, arrSome } from '../../shared/util/arrays.ts';

type Ctx = Context<HostLocalConf>;

const storeFor = (c: HostLocalConf): Store => new Store(c.ipam.dataDir || DEFAULT_DATA_DIR, c.name);

function parseResolvConf(path: string): DNS {
  let text: string;
  try { text = readFile(path); } catch (e) {
    throw new CniError(ErrCode.IOFailure, `cannot read resolvConf "${path}" (ipam.resolvConf): ${(e as Error).message}`);
  }
  const dns: DNS = {};
  for (const line of text.split('\n')) {
    const [key, ...vals] = line.trim().split(/\s+/);
    if (!key || key.startsWith('#') || key.startsWith(';') || !vals.length) continue;
    if (key === 'nameserver') (dns.nameservers ??= []).push(vals[0]!);
    else if (key === 'domain') dns.domain = vals[0]!;
    else if (key === 'search') dns.search = vals;
    else if (key === 'options') (dns.options ??= []).push(...vals);
  }
  return dns;
}

const inSet = (rs: RangeSet, ip: string): boolean => {
  const f = familyOf(ip);
  return f !== undefined && rangeFor(rs, f, toBig(parseIP(ip)!.bytes)) !== undefined;
};
const inSetSubnet = (rs: RangeSet, ip: string): boolean => {
  const a = parseIP(ip);
  return !!a && a.family === rs.family && arrSome(rs.ranges, (r) => subnetHolds(r.subnet, toBig(a.bytes)));
};

const outsideEvery = (conf: HostLocalConf, ips: string[]): CniError =>
  new CniError(ErrCode.AddressUnavailable, `requested address ${ips.join(', ')} is outside every range of network ${conf.name}`);

/** ADD's checks that need no state: the ranges, and every requested address's place in them. */
export function ipamValidate(ctx: Ctx): void {
  const sets = rangeSets(ctx.conf);
  const requested = requestedIPs(ctx);
  const outside = arrFilter(requested, (ip) => {
    const rs = arrFind(sets, (s) => inSetSubnet(s, ip));
    if (rs) staticRange(rs, ip);
    return !rs;
  });
  if (outside.length) throw outsideEvery(ctx.conf, outside);
}

export function ipamAdd(ctx: Ctx): Result {
  const { conf, env } = ctx;
  const sets = rangeSets(conf);
  const requested = requestedIPs(ctx);
  const store = storeFor(conf);
  const key = leaseKey(env.containerId, env.ifname);
  const allocs = store.locked(() => {
    const held = store.hintedLeases(env.containerId, env.ifname);
    const made: string[] = [];
    try {
      const out: Allocation[] = arrMap(sets, (rs, i) => {
        const want = arrFind(requested, (ip) => inSetSubnet(rs, ip));
        if (want) requested.splice(requested.indexOf(want), 1);
        const mine = arrFind(held, (ip) => inSetSubnet(rs, ip));
        // the attachment already holds an address here: the same answer again, no second lease
        if (mine && (!want || want === mine)) return allocateStatic(store, rs, i, key, mine);
        const a = want ? allocateStatic(store, rs, i, key, want) : allocateDynamic(store, rs, i, key);
        made.push(a.ip);
        return a;
      });
      if (requested.length) throw outsideEvery(conf, requested);
      store.setHint(env.containerId, env.ifname, arrMap(out, (a) => a.ip));
      return out;
    } catch (e) {
      for (const ip of made) store.release(ip);   // an ADD that fails leaves nothing behind
      throw e;
    }
  });
  const r: Result = { cniVersion: ctx.version, ips: arrMap(allocs, (a) => ({ address: `${a.ip}/${a.prefix}`, gateway: a.gateway })) };
  if (conf.ipam.routes?.length) r.routes = arrMap(conf.ipam.routes, (rt) => (rt.gw ? { dst: rt.dst, gw: rt.gw } : { dst: rt.dst }));
  const resolv = conf.ipam.resolvConf || conf.ipam.resolveConf;
  if (resolv) r.dns = parseResolvConf(resolv);
  return r;
}

export function ipamDel(ctx: Ctx): void {
  const { conf, env } = ctx;
  const store = storeFor(conf);
  const key = leaseKey(env.containerId, env.ifname);
  store.locked(() => {
    // every lease of this attachment, whoever made it (ours, the reference, a killed ADD)
    const leases = store.leases();
    let mine = arrFilter(leases, (l) => l.holder === key);
    if (!mine.length) mine = arrFilter(leases, (l) => l.holder === env.containerId.trim());   // old single-line format
    for (const l of mine) store.release(l.ip);
    store.dropHint(env.containerId, env.ifname);
  }, true);
}

export function ipamCheck(ctx: Ctx): void {
  const { conf, env } = ctx;
  const store = storeFor(conf);
  const key = leaseKey(env.containerId, env.ifname);
  const sets = rangeSets(conf);
  // the previous result's addresses in these ranges (valid IP text: a lease file's name)
  const prev = arrFilter(arrMap(ctx.prevResult?.ips ?? [], (ip) => ip.address.split('/')[0]!), (addr) => arrSome(sets, (rs) => inSetSubnet(rs, addr)));
  store.locked(() => {
    // each one's lease read directly; the whole store is scanned only when that cannot answer
    const missing = arrFind(prev, (addr) => store.holder(addr) !== key);
    if (prev.length && missing === undefined) return;
    // none to check: any lease the attachment's hint names and holds will do
    if (!prev.length && store.hintedLeases(env.containerId, env.ifname).length) return;
    if (!arrSome(store.leases(), (l) => l.holder === key)) throw new CniError(ErrCode.Plugin, `host-local: no address is allocated to container ${env.containerId} (interface ${env.ifname})`);
    if (missing !== undefined) throw new CniError(ErrCode.Plugin, `host-local: address ${missing} of the previous result is not allocated to container ${env.containerId}`);
  });
}

/** Spec 1.1.0 GC: release every lease whose attachment is not in cni.dev/valid-attachments. */
export function ipamGc(ctx: Ctx): void {
  const valid = ctx.conf['cni.dev/valid-attachments'] ?? [];
  const keep = new Set(arrMap(valid, (a) => leaseKey(a.containerID, a.ifname)));
  const keepIds = new Set(arrMap(valid, (a) => a.containerID.trim()));
  const store = storeFor(ctx.conf);
  store.locked(() => {
    for (const l of store.leases()) if (!keep.has(l.holder) && !keepIds.has(l.holder)) store.release(l.ip);
    store.dropHintsExcept(keep);
  }, true);
}

/** Spec 1.1.0 STATUS: code 50 when no range set has a free address. */
export function ipamStatus(ctx: Ctx): void {
  const sets = rangeSets(ctx.conf);
  const store = storeFor(ctx.conf);
  const leased = store.leaseAddresses();
  const full = arrEvery(sets, (rs) => {
    let capacity = 0n;
    for (const r of rs.ranges) {
      capacity += r.end - r.start + 1n;
      if (r.gateway >= r.start && r.gateway <= r.end) capacity--;
      for (const x of r.reserved) if (x >= r.start && x <= r.end && x !== r.gateway) capacity--;
    }
    return BigInt(arrFilter(leased, (ip) => inSet(rs, ip)).length) >= capacity;
  });
  if (full) throw new CniError(ErrCode.NotAvailable, `no addresses left in any range set of network ${ctx.conf.name}: ${arrMap(sets, rangeSetText).join('; ')}`);
}

export const hostLocal: Plugin<HostLocalConf> = {
  type: 'host-local',
  knownArgs: ['IP'],
  config: configSchema('host-local', hostLocalSchema),
  add: ipamAdd,
  del: ipamDel,
  check: ipamCheck,
  gc: ipamGc,
  status: ipamStatus,
};
