// Buffers made without Buffer.from: it is a large runtime builtin, linked on its first use, and
// every plugin call would pay for that for a handful of short strings and bytes.

/** The UTF-8 bytes of `s`, then `zeros` NUL bytes. */
export function utf8(s: string, zeros = 0): Buffer {
  const n = Buffer.byteLength(s);
  const b = Buffer.allocUnsafe(n + zeros);
  b.write(s);
  if (zeros) b.fill(0, n);
  return b;
}

/** The UTF-8 text that base64 `s` encodes (invalid characters are skipped, as Buffer.from does). */
export function base64Text(s: string): string {
  const b = Buffer.allocUnsafe(Buffer.byteLength(s, 'base64'));
  return b.toString('utf8', 0, b.write(s, 'base64'));
}

/** A buffer holding `list`. */
export function bytesOf(list: readonly number[]): Buffer {
  const b = Buffer.alloc(list.length);
  for (let i = 0; i < list.length; i++) b[i] = list[i]!;
  return b;
}

/** A copy of `src` in a buffer of its own. */
export function copyOf(src: Uint8Array): Buffer {
  const b = Buffer.allocUnsafe(src.length);
  b.set(src);
  return b;
}
