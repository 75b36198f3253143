// What chained plugins read from prevResult: the container's addresses and the host side.
import { familyOf, type Family } from '../util/ip.ts';
import { CniError, ErrCode } from './errors.ts';
import type { IPConfig, Interface, Result } from './result.ts';
import { arrFilter, arrFind } from '../util/arrays.ts';

export function requirePrev(prev: Result | undefined, plugin: string): Result {
  if (!prev) throw new CniError(ErrCode.InvalidConfig, `invalid network config: ${plugin} is a chained plugin and needs prevResult from the plugin before it`);
  return prev;
}

/** Addresses on container interfaces (an address with no interface counts as the container's). */
export function containerIPs(prev: Result): IPConfig[] {
  return arrFilter(prev.ips ?? [], (ip) => ip.interface === undefined || !!prev.interfaces?.[ip.interface]?.sandbox);
}

export const ipOnly = (ip: IPConfig): string => ip.address.split('/')[0]!;

export function firstIP(prev: Result, family: Family): string | undefined {
  const ip = arrFind(containerIPs(prev), (x) => familyOf(ipOnly(x)) === family);
  return ip && ipOnly(ip);
}

export const hostInterfaces = (prev: Result): Interface[] => arrFilter(prev.interfaces ?? [], (i) => !i.sandbox);
