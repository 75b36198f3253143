// CNI results: one internal form (the 1.x shape) and conversion to and from every version,
// following libcni: 0.3.0-0.4.0 add `version` to each IP; 0.1.0/0.2.0 keep the first address
// of each family as ip4/ip6 and sort routes under them.
import { CniError, ErrCode } from './errors.ts';
import { familyOf } from '../util/ip.ts';
import { goKeys } from './go-json.ts';
import { arrFilter, arrFind, arrMap } from '../util/arrays.ts';

export interface Interface { name: string; mac?: string; mtu?: number; sandbox?: string; socketPath?: string; pciID?: string }
export interface IPConfig { interface?: number; address: string; gateway?: string }
export interface Route { dst: string; gw?: string; mtu?: number; advmss?: number; priority?: number; table?: number; scope?: number }
export interface DNS { nameservers?: string[]; domain?: string; search?: string[]; options?: string[] }
export interface Result { cniVersion: string; interfaces?: Interface[]; ips?: IPConfig[]; routes?: Route[]; dns?: DNS }

const isLegacy = (v: string): boolean => v === '0.1.0' || v === '0.2.0';
const has040Version = (v: string): boolean => v === '0.3.0' || v === '0.3.1' || v === '0.4.0';
const addrFamily = (cidr: string): 4 | 6 | undefined => familyOf(cidr.split('/')[0] ?? '');

function dropEmpty<T extends object>(o: T): T {
  for (const k of Object.keys(o) as (keyof T)[]) if (o[k] === undefined) delete o[k];
  return o;
}

/** The result as JSON for `version`. */
export function resultToVersion(r: Result, version: string): Record<string, unknown> {
  const dns = r.dns ? dropEmpty({ ...r.dns }) : {};
  if (isLegacy(version)) {
    const ip4 = arrFind(r.ips ?? [], (ip) => addrFamily(ip.address) === 4);
    const ip6 = arrFind(r.ips ?? [], (ip) => addrFamily(ip.address) === 6);
    if (!ip4 && !ip6) throw new CniError(ErrCode.IncompatibleVersion, `cannot convert result to version ${version}: no valid IP addresses`);
    const legacyIP = (ip: IPConfig, fam: 4 | 6) => {
      const routes = arrMap(arrFilter(r.routes ?? [], (rt) => addrFamily(rt.dst) === fam), (rt) => dropEmpty({ dst: rt.dst, gw: rt.gw }));
      return dropEmpty({ ip: ip.address, gateway: ip.gateway, routes: routes.length ? routes : undefined });
    };
    return dropEmpty({ cniVersion: version, ip4: ip4 && legacyIP(ip4, 4), ip6: ip6 && legacyIP(ip6, 6), dns });
  }
  const v1 = !has040Version(version);
  // interface mtu/socketPath/pciID and the route attributes beyond dst and gw arrived in 1.1.0
  const v11 = version === '1.1.0';
  const out: Record<string, unknown> = { cniVersion: version };
  if (r.interfaces?.length) {
    out.interfaces = arrMap(r.interfaces, (i) => dropEmpty(v11 ? { ...i } : { name: i.name, mac: i.mac, sandbox: i.sandbox }));
  }
  if (r.ips?.length) {
    out.ips = arrMap(r.ips, (ip) => dropEmpty(v1
      ? { interface: ip.interface, address: ip.address, gateway: ip.gateway }
      : { version: String(addrFamily(ip.address) ?? 4), interface: ip.interface, address: ip.address, gateway: ip.gateway }));
  }
  if (r.routes?.length) out.routes = arrMap(r.routes, (rt) => dropEmpty(v11 ? { ...rt } : { dst: rt.dst, gw: rt.gw }));
  out.dns = dns;
  return out;
}

type Json = Record<string, unknown>;
// the keys of libcni's result types; a result written by a Go program matches them as Go does
const KEYS = {
  result: ['cniVersion', 'interfaces', 'ips', 'routes', 'dns', 'ip4', 'ip6'],
  iface: ['name', 'mac', 'mtu', 'sandbox', 'socketPath', 'pciID'],
  ip: ['version', 'interface', 'address', 'gateway'],
  legacyIP: ['ip', 'gateway', 'routes'],
  route: ['dst', 'gw', 'mtu', 'advmss', 'priority', 'table', 'scope'],
  dns: ['nameservers', 'domain', 'search', 'options'],
} as const;
const obj = (v: unknown, keys?: readonly string[]): Json | undefined =>
  (v && typeof v === 'object' && !Array.isArray(v) ? (keys ? goKeys(v as Json, keys) : (v as Json)) : undefined);
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);

function routeFrom(v: unknown): Route | undefined {
  const o = obj(v, KEYS.route);
  const dst = str(o?.dst);
  if (!o || !dst) return undefined;
  return dropEmpty({ dst, gw: str(o.gw), mtu: num(o.mtu), advmss: num(o.advmss), priority: num(o.priority), table: num(o.table), scope: num(o.scope) });
}

function dnsFrom(v: unknown): DNS | undefined {
  const o = obj(v, KEYS.dns);
  if (!o) return undefined;
  const list = (x: unknown) => (Array.isArray(x) ? arrFilter(x, (s): s is string => typeof s === 'string') : undefined);
  return dropEmpty({ nameservers: list(o.nameservers), domain: str(o.domain), search: list(o.search), options: list(o.options) });
}

/** A result (e.g. prevResult) written in `version`, in the internal form. */
export function resultFromVersion(raw: unknown, version: string): Result {
  const o = obj(raw, KEYS.result);
  if (!o) throw new CniError(ErrCode.DecodingFailure, 'prevResult: expected an object');
  const r: Result = { cniVersion: version };
  if (isLegacy(version)) {
    for (const key of ['ip4', 'ip6'] as const) {
      const ip = obj(o[key], KEYS.legacyIP);
      const address = str(ip?.ip);
      if (!ip || !address) continue;
      (r.ips ??= []).push(dropEmpty({ address, gateway: str(ip.gateway) }));
      for (const rt of arr(ip.routes)) { const x = routeFrom(rt); if (x) (r.routes ??= []).push(x); }
    }
  } else {
    // entries are referred to by index (ips[].interface): a malformed one is refused, not skipped
    const ifs = arrMap(arr(o.interfaces), (v, i) => {
      const x = obj(v, KEYS.iface);
      if (!x || typeof x.name !== 'string' || !x.name) throw new CniError(ErrCode.InvalidConfig, `invalid network config: prevResult.interfaces[${i}] must be an object with a non-empty string name`);
      return x;
    });
    if (ifs.length) r.interfaces = arrMap(ifs, (i) => dropEmpty({ name: i.name as string, mac: str(i.mac), mtu: num(i.mtu), sandbox: str(i.sandbox), socketPath: str(i.socketPath), pciID: str(i.pciID) }));
    for (const v of arr(o.ips)) {
      const ip = obj(v, KEYS.ip);
      const address = str(ip?.address);
      if (!ip || !address) throw new CniError(ErrCode.DecodingFailure, 'prevResult.ips: every entry needs an address');
      (r.ips ??= []).push(dropEmpty({ interface: num(ip.interface), address, gateway: str(ip.gateway) }));
    }
    for (const rt of arr(o.routes)) { const x = routeFrom(rt); if (x) (r.routes ??= []).push(x); }
  }
  const dns = dnsFrom(o.dns);
  if (dns) r.dns = dns;
  return r;
}
