// A short deterministic name hash (64-bit FNV-1a over UTF-8), for interface names derived from
// container IDs. Not cryptographic: only stable and well spread. Avoids loading node:crypto.
const OFFSET = 0xcbf29ce484222325n;
const PRIME = 0x100000001b3n;
const MASK = (1n << 64n) - 1n;

export function shortHash(text: string, hexDigits: number): string {
  let h = OFFSET;
  const bytes = Buffer.from(text);
  for (let i = 0; i < bytes.length; i++) h = ((h ^ BigInt(bytes[i]!)) * PRIME) & MASK;   // no iterator: cold path
  return h.toString(16).padStart(16, '0').slice(0, hexDigits);
}
