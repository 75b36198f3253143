// IP addresses as bytes, for netlink and for CIDR math. Strings in, Buffers out, and back.
// (own parsers: node:net's isIP costs milliseconds of start-up in the compiled binary)
import { isDigit, isDigits } from './chars.ts';
import { arrEvery, arrForEach, arrMap } from './arrays.ts';

export type Family = 4 | 6;
export interface IPAddr { family: Family; bytes: Buffer }
export interface IPNet { ip: IPAddr; prefix: number }

// (plain loops, no regular expressions or iterators: these run in every call's cold start)
const isHex = (c: number): boolean => isDigit(c) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70);

/** Dotted quad, decimal, no leading zeros (as node:net and Go's net.ParseIP accept). */
function parseV4(s: string): Buffer | undefined {
  const out = Buffer.alloc(4);
  let part = 0, digits = 0, value = 0;
  for (let i = 0; i <= s.length; i++) {
    const c = i < s.length ? s.charCodeAt(i) : 46;
    if (isDigit(c)) {
      if (digits === 1 && value === 0) return undefined;   // leading zero
      value = value * 10 + (c - 48);
      if (++digits > 3 || value > 255) return undefined;
    } else if (c === 46 && digits > 0 && part < 4) {
      out[part++] = value;
      digits = 0; value = 0;
    } else return undefined;
  }
  return part === 4 ? out : undefined;
}

const isWord = (g: string): boolean => {
  if (g.length < 1 || g.length > 4) return false;
  for (let i = 0; i < g.length; i++) if (!isHex(g.charCodeAt(i))) return false;
  return true;
};

/** Dotted-quad tail (::ffff:1.2.3.4), '::' at most once, 1-4 hex digits a word; no zone. */
function parseV6(s: string): Buffer | undefined {
  const lastColon = s.lastIndexOf(':');
  if (lastColon < 0) return undefined;
  let text = s;
  let tail: number[] = [];
  if (s.includes('.', lastColon)) {
    const v4 = parseV4(s.slice(lastColon + 1));
    if (!v4) return undefined;
    tail = [(v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!];
    text = s.slice(0, lastColon + 1);
    if (!text.endsWith('::')) text = text.slice(0, -1);
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const words = (x: string | undefined): number[] | undefined => {
    if (!x) return [];
    const w = x.split(':');
    return arrEvery(w, isWord) ? arrMap(w, (g) => parseInt(g, 16)) : undefined;
  };
  const head = words(halves[0]);
  const rest = halves.length === 2 ? words(halves[1]) : [];
  if (!head || !rest) return undefined;
  const given = head.length + rest.length + tail.length;
  if (halves.length === 1 ? given !== 8 : given > 7) return undefined;
  const all = [...head, ...new Array<number>(8 - given).fill(0), ...rest, ...tail];
  const bytes = Buffer.alloc(16);
  arrForEach(all, (w, i) => bytes.writeUInt16BE(w, i * 2));
  return bytes;
}

export function parseIP(s: string): IPAddr | undefined {
  const v4 = parseV4(s);
  if (v4) return { family: 4, bytes: v4 };
  const v6 = parseV6(s);
  return v6 ? { family: 6, bytes: v6 } : undefined;
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
  const hex = (a: number[]) => arrMap(a, (x) => x.toString(16)).join(':');
  if (best < 0) return hex(w);
  return `${hex(w.slice(0, best))}::${hex(w.slice(best + bestLen))}`;
}

/** "10.0.0.5/24" -> address with prefix (host bits kept, as CNI results carry them). */
export function parseCIDR(s: string): IPNet | undefined {
  const slash = s.indexOf('/');
  if (slash < 0) return undefined;
  const ip = parseIP(s.slice(0, slash));
  const p = s.slice(slash + 1);
  if (!ip || !isDigits(p, 3)) return undefined;
  const prefix = Number(p);
  if (prefix > (ip.family === 4 ? 32 : 128)) return undefined;
  return { ip, prefix };
}

export const familyOf = (s: string): Family | undefined => parseIP(s)?.family;

/** 0.0.0.0 or :: (loops: see arrays.ts) */
export function isUnspecified(a: IPAddr): boolean {
  for (let i = 0; i < a.bytes.length; i++) if (a.bytes[i] !== 0) return false;
  return true;
}

export function isLoopback(a: IPAddr): boolean {
  if (a.family === 4) return a.bytes[0] === 127;
  for (let i = 0; i < 16; i++) if (a.bytes[i] !== (i === 15 ? 1 : 0)) return false;
  return true;
}

// ---- arithmetic on addresses as bigints (host-local's ranges) ----

export const bitsOf = (f: Family): number => (f === 4 ? 32 : 128);

export function toBig(b: Buffer): bigint {
  let n = 0n;
  for (let i = 0; i < b.length; i++) n = (n << 8n) | BigInt(b[i]!);
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

/** Whether the subnet holds the address `n` (toBig of its bytes, of the subnet's family). */
export const subnetHolds = (s: Subnet, n: bigint): boolean => n >= s.first && n <= s.last;

export const subnetString = (s: Subnet): string => `${bigToString(s.first, s.family)}/${s.prefix}`;
