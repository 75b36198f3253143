// A short deterministic name hash (64-bit FNV-1a over UTF-8), for interface and file names
// derived from container IDs. Not cryptographic: only stable and well spread. Avoids loading
// node:crypto; computed on two 32-bit halves (a BigInt per byte is dear in a short process).
import { utf8 } from './bytes.ts';

const PRIME_LOW = 0x1b3;   // FNV's 64-bit prime is 2^40 + 0x1b3

export function shortHash(text: string, hexDigits: number): string {
  let hi = 0xcbf29ce4, lo = 0x84222325;   // the 64-bit offset basis
  const bytes = utf8(text);
  for (let i = 0; i < bytes.length; i++) {
    lo = (lo ^ bytes[i]!) >>> 0;
    // (hi:lo) * (2^40 + 0x1b3) mod 2^64, every partial product exact in a double
    const low = lo * PRIME_LOW;
    hi = (hi * PRIME_LOW + Math.floor(low / 0x100000000) + ((lo << 8) >>> 0)) >>> 0;
    lo = low >>> 0;
  }
  return (hi.toString(16).padStart(8, '0') + lo.toString(16).padStart(8, '0')).slice(0, hexDigits);
}
