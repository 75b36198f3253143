// Configure a container interface from a result, as the reference's ipam.ConfigureIface does:
// addresses, link up, then routes (a route without gateway uses its family's gateway).
// Neighbours learn the addresses at once: arp_notify / ndisc_notify make the kernel send a
// gratuitous ARP / unsolicited NA when the link comes up.
import { familyOf } from '../util/ip.ts';
import { addAddress, listAddresses } from '../netlink/addr.ts';
import { requireLink, setLink, type Link } from '../netlink/link.ts';
import { addRoute, listRoutes } from '../netlink/route.ts';
import { IPV4_DEVCONF } from '../netlink/constants.ts';
import type { Netlink } from '../netlink/socket.ts';
import type { NetNS } from '../os/netns.ts';
import { setIn } from '../os/sysctl.ts';
import { CniError, ErrCode } from './errors.ts';
import type { IPConfig, Result } from './result.ts';
import { arrFilter, arrFind, arrFindIndex, arrMap, arrSome } from '../util/arrays.ts';

export interface ConfigureOptions {
  /** run duplicate address detection (addresses are optimistic meanwhile, so usable at once) */
  dad?: boolean;
  /** leave the link down (bridge's disableContainerInterface) */
  down?: boolean;
}

/** The result's addresses that belong to `ifname` (no interface index means all). */
export function ipsFor(result: Result, ifname: string, sandbox?: string): IPConfig[] {
  const idx = arrFindIndex(result.interfaces ?? [], (i) => i.name === ifname && (sandbox === undefined || i.sandbox === sandbox));
  return arrFilter(result.ips ?? [], (ip) => ip.interface === undefined || ip.interface === idx);
}

/** Returns the link as found before configuring (index, MAC; not its new flags). */
export function configureInterface(ns: NetNS, nl: Netlink, ifname: string, result: Result, o: ConfigureOptions = {}): Link {
  const link = requireLink(nl, ifname);
  const ips = ipsFor(result, ifname);
  const has4 = arrSome(ips, (ip) => familyOf(ip.address.split('/')[0]!) === 4);
  const has6 = arrSome(ips, (ip) => familyOf(ip.address.split('/')[0]!) === 6);
  // (IPv4's through the link's own netlink message, no namespace switch or /proc write; IPv6's
  // settings other than its token and address mode can be set under /proc/sys only)
  if (has4) try { setLink(nl, link.index, { inet4Conf: [[IPV4_DEVCONF.ARP_NOTIFY, 1]] }); } catch { /* as below: addresses still work */ }
  if (has6) {
    const sysctls: [string, string][] = [[`net/ipv6/conf/${ifname}/disable_ipv6`, '0'], [`net/ipv6/conf/${ifname}/ndisc_notify`, '1']];
    if (o.dad) sysctls.push([`net/ipv6/conf/${ifname}/optimistic_dad`, '1']);
    else sysctls.push([`net/ipv6/conf/${ifname}/accept_dad`, '0']);
    try { setIn(ns, sysctls); } catch { /* a kernel without IPv6, or read-only /proc: addresses still work */ }
  }
  for (const ip of ips) {
    try {
      addAddress(nl, { index: link.index, cidr: ip.address, nodad: !o.dad, broadcast: true }, true);
    } catch (e) {
      throw new CniError(ErrCode.Plugin, `failed to add address ${ip.address} to ${ifname}: ${(e as Error).message}`);
    }
  }
  if (!o.down) setLink(nl, link.index, { up: true });
  const gw4 = arrFind(ips, (ip) => ip.gateway && familyOf(ip.gateway) === 4)?.gateway;
  const gw6 = arrFind(ips, (ip) => ip.gateway && familyOf(ip.gateway) === 6)?.gateway;
  for (const r of result.routes ?? []) {
    const fam = familyOf(r.dst.split('/')[0]!);
    const gw = r.gw ?? (fam === 4 ? gw4 : gw6);
    try {
      addRoute(nl, { dst: r.dst, oif: link.index, ...(gw ? { gw } : {}), ...(r.mtu ? { mtu: r.mtu } : {}), ...(r.priority !== undefined ? { priority: r.priority } : {}), ...(r.table ? { table: r.table } : {}) }, true);
    } catch (e) {
      throw new CniError(ErrCode.Plugin, `failed to add route ${r.dst}${gw ? ` via ${gw}` : ''} dev ${ifname}: ${(e as Error).message}`);
    }
  }
  return link;
}

/** CHECK's part for an interface: every address of prevResult on it, every route present. */
export function verifyInterface(nl: Netlink, link: Link, prev: Result, ifname: string, sandbox: string): void {
  const addrs = arrMap(listAddresses(nl, { index: link.index }), (a) => a.cidr);
  for (const ip of ipsFor(prev, ifname, sandbox)) {
    if (!addrs.includes(ip.address)) throw new CniError(ErrCode.Plugin, `address ${ip.address} is missing from ${ifname}`);
  }
  const routes = listRoutes(nl, { oif: link.index });
  for (const r of prev.routes ?? []) {
    if (!arrSome(routes, (x) => x.dst === r.dst)) throw new CniError(ErrCode.Plugin, `route to ${r.dst} is missing in the container`);
  }
}
