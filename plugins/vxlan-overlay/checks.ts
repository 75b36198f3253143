// What every value from etcd (or a state file) must be before it reaches the kernel, for both
// modes: an underlay address and a MAC another host's entries are made of. And how skipped
// values are reported: on stderr (the runtime's log, or the sync process's), a few lines a read.
import { formatIP, parseIP } from '../../shared/util/ip.ts';
import { reportSkipped } from '../cluster/log.ts';

const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

/** Why `v` cannot be a host's underlay address (an IPv4 unicast address, canonical, not one `inside` holds), or undefined. */
export function unfitUnderlay(v: unknown, inside: (ip: string) => boolean): string | undefined {
  const u = typeof v === 'string' ? parseIP(v) : undefined;
  if (!u || u.family !== 4 || formatIP(u.bytes) !== v) return 'underlay is not an IPv4 address';
  const first = u.bytes[0]!;
  if (first === 0 || first === 127 || first >= 224) return `underlay ${v} is not a unicast address`;
  if (inside(v as string)) return `underlay ${v} is inside the overlay`;
  return undefined;
}

/** Why `v` cannot be a MAC of another host's entries (a unicast MAC in lower case), or undefined. */
export const unfitMac = (v: unknown): string | undefined =>
  typeof v !== 'string' || !MAC.test(v) || (parseInt(v.slice(0, 2), 16) & 1) || v === '00:00:00:00:00:00' ? 'mac is not a unicast MAC in lower case' : undefined;

/** Why `v` cannot be a VXLAN network identifier, or undefined. */
export const unfitVni = (v: unknown): string | undefined => (Number.isInteger(v) && (v as number) >= 1 && (v as number) <= 0xffffff ? undefined : 'vni is not 1-16777215');

/** Report what a read skipped, on stderr. */
export const logSkipped = (network: string, what: string, skipped: string[]): void =>
  reportSkipped((m) => process.stderr.write(`vxlan-overlay: ${m}\n`), network, what, skipped);
