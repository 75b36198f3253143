// Writing sysctls under /proc/sys, in the current namespace or inside a given one. Keys are
// paths ("net/ipv4/conf/eth0.50/arp_notify"): interface names may contain dots.
import { writeFile } from './fs.ts';
import type { NetNS } from './netns.ts';

export function setIn(ns: NetNS | undefined, entries: [string, string][]): void {
  const apply = () => { for (const [k, v] of entries) writeFile(`/proc/sys/${k}`, v); };
  if (ns) ns.run(apply); else apply();
}
