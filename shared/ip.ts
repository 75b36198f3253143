// IP addresses as bytes, for netlink and for CIDR math. Strings in, Buffers out, and back.
import { isIPv4, isIPv6 } from 'node:net';

export type Family = 4 | 6;
export interface IPAddr { family: Family; bytes: Buffer }
export interface IPNet { ip: IPAddr; prefix: number }

export function parseIP(s: string): IPAddr | undefined {
  if (isIPv4(s)) return { family: 4, bytes: Buffer.from(s.split('.').map(Number)) };
  if (!isIPv6(s)) return undefined;
  const bytes = Buffer.alloc(16);
  let text = s;
  const lastColon = text.lastIndexOf(':');
  if (text.includes('.', lastColon)) {            // embedded IPv4 (::ffff:1.2.3.4) -> two words
    const v = text.slice(lastColon + 1).split('.').map(Number) as [number, number, number, number];
    text = `${text.slice(0, lastColon + 1)}${((v[0] << 8) | v[1]).toString(16)}:${((v[2] << 8) | v[3]).toString(16)}`;
  }
  const [head, rest] = text.split('::') as [string, string | undefined];
  const words = (x: string | undefined): number[] => (x ? x.split(':').filter((w) => w !== '').map((w) => parseInt(w, 16)) : []);
  const h = words(head);
  const r = words(rest);
  const all = rest === undefined ? h : [...h, ...new Array<number>(8 - h.length - r.length).fill(0), ...r];
  all.forEach((w, i) => bytes.writeUInt16BE(w, i * 2));
  return { family: 6, bytes };
}

export function formatIP(b: Buffer): string {
  if (b.length === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  const w: number[] = [];
  for (let i = 0; i < 16; i += 2) w.push(b.readUInt16BE(i));
  // longest run of zero words (length >= 2) becomes '::' (RFC 5952)
  let best = -1, bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (w[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    if (j - i > bestLen) { best = i; bestLen = j - i; }
    i = j;
  }
  const hex = (a: number[]) => a.map((x) => x.toString(16)).join(':');
  if (best < 0) return hex(w);
  return `${hex(w.slice(0, best))}::${hex(w.slice(best + bestLen))}`;
}

/** "10.0.0.5/24" -> address with prefix (host bits kept, as CNI results carry them). */
export function parseCIDR(s: string): IPNet | undefined {
  const slash = s.indexOf('/');
  if (slash < 0) return undefined;
  const ip = parseIP(s.slice(0, slash));
  const p = s.slice(slash + 1);
  if (!ip || !/^\d{1,3}$/.test(p)) return undefined;
  const prefix = Number(p);
  if (prefix > (ip.family === 4 ? 32 : 128)) return undefined;
  return { ip, prefix };
}

export function familyOf(s: string): Family | undefined {
  return isIPv4(s) ? 4 : isIPv6(s) ? 6 : undefined;
}

export const isLoopback = (a: IPAddr): boolean =>
  a.family === 4 ? a.bytes[0] === 127 : a.bytes.equals(Buffer.from('00000000000000000000000000000001', 'hex'));

// ---- arithmetic on addresses as bigints (host-local's ranges) ----

export const bitsOf = (f: Family): number => (f === 4 ? 32 : 128);

export function toBig(b: Buffer): bigint {
  let n = 0n;
  for (const x of b) n = (n << 8n) | BigInt(x);
  return n;
}

export function fromBig(n: bigint, f: Family): Buffer {
  const b = Buffer.alloc(f === 4 ? 4 : 16);
  for (let i = b.length - 1; i >= 0; i--) { b[i] = Number(n & 0xffn); n >>= 8n; }
  return b;
}

export const bigToString = (n: bigint, f: Family): string => formatIP(fromBig(n, f));

/** A subnet as numbers: first (network) and last address. */
export interface Subnet { family: Family; prefix: number; first: bigint; last: bigint }

export function subnetOf(n: IPNet): Subnet {
  const host = BigInt(bitsOf(n.ip.family) - n.prefix);
  const first = (toBig(n.ip.bytes) >> host) << host;
  return { family: n.ip.family, prefix: n.prefix, first, last: first + (1n << host) - 1n };
}

export const subnetString = (s: Subnet): string => `${bigToString(s.first, s.family)}/${s.prefix}`;
