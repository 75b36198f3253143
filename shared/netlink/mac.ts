// MAC addresses as the kernel carries them (6 bytes) and as configs and results spell them.

const NIBBLE = '0123456789abcdef';
/** aa:bb:cc:... (run for every link a call reads: no per-byte formatting calls) */
export function macToString(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) {
    const x = b[i]!;
    s += (i ? ':' : '') + NIBBLE[x >> 4]! + NIBBLE[x & 15]!;
  }
  return s;
}

export function macFromString(s: string): Buffer {
  if (!/^([0-9a-fA-F]{2}[:-]){5}[0-9a-fA-F]{2}$/.test(s)) throw new TypeError(`invalid MAC address "${s}"`);
  const b = Buffer.alloc(6);
  for (let i = 0; i < 6; i++) b[i] = parseInt(s.slice(i * 3, i * 3 + 2), 16);
  return b;
}
