// sysctls under /proc/sys/net: read and write in the current (or a given) namespace.
import { readFileSync, writeFileSync } from 'node:fs';
import type { NetNS } from './netns.ts';

const path = (key: string): string => `/proc/sys/${key.replace(/\./g, '/')}`;

/** net.ipv4.conf.eth0.arp_notify style keys; interface names with dots use '/' form. */
export function readSysctl(key: string): string {
  return readFileSync(path(key), 'utf8').trim();
}

export function writeSysctl(key: string, value: string): void {
  writeFileSync(path(key), value);
}

/** Key for an interface setting: the interface name may contain dots, so build the path. */
export const ifSysctl = (family: 'ipv4' | 'ipv6', ifname: string, setting: string): string =>
  `net/${family}/conf/${ifname}/${setting}`;

export function setIn(ns: NetNS | undefined, entries: [string, string][]): void {
  const apply = () => { for (const [k, v] of entries) writeFileSync(k.startsWith('net/') ? `/proc/sys/${k}` : path(k), v); };
  if (ns) ns.run(apply); else apply();
}
