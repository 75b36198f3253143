// Netlink attributes (struct nlattr): 4-byte header, payload padded to 4 bytes. Decoding keeps
// every attribute in kernel order with its raw type (flag bits included) so a decoded message
// re-encodes to the same bytes.
import { bytesOf, utf8 } from '../util/bytes.ts';
import { NLA_F_NESTED, NLA_TYPE_MASK } from './constants.ts';

export interface Attr {
  /** full nla_type including NLA_F_NESTED / NLA_F_NET_BYTEORDER */
  type: number;
  /** raw payload, or nested attributes (encoded with NLA_F_NESTED unless `type` says otherwise) */
  value: Buffer | Attr[];
}

export const align4 = (n: number): number => (n + 3) & ~3;

export function encodeAttrs(attrs: readonly Attr[]): Buffer {
  const parts: Buffer[] = [];
  for (const a of attrs) {
    const payload = Array.isArray(a.value) ? encodeAttrs(a.value) : a.value;
    const hdr = Buffer.alloc(4);
    hdr.writeUInt16LE(4 + payload.length, 0);
    hdr.writeUInt16LE(a.type, 2);
    parts.push(hdr, payload, Buffer.alloc(align4(payload.length) - payload.length));
  }
  return Buffer.concat(parts);
}

export function decodeAttrs(buf: Buffer): Attr[] {
  const out: Attr[] = [];
  let off = 0;
  while (off + 4 <= buf.length) {
    const len = buf.readUInt16LE(off);
    if (len < 4 || off + len > buf.length) break;
    out.push({ type: buf.readUInt16LE(off + 2), value: buf.subarray(off + 4, off + len) });
    off += align4(len);
  }
  return out;
}

/**
 * Attribute lookup by type (flag bits ignored); the last occurrence wins, as in the kernel.
 * Built from the message itself: it records where each attribute's payload lies and reads a
 * value only when asked (a link message carries ~50 attributes, a call reads five of them).
 */
export class AttrMap {
  // type -> payload start * 65536 + payload length (a payload is shorter than 64 KiB); made
  // on the first lookup, so a nested map nobody reads costs nothing
  private index: Map<number, number> | undefined;
  private constructor(private readonly buf: Buffer) {}
  private get at(): Map<number, number> {
    if (this.index) return this.index;
    const at = (this.index = new Map<number, number>());
    const buf = this.buf, n = buf.length;
    let off = 0;
    while (off + 4 <= n) {
      const len = buf[off]! | (buf[off + 1]! << 8);
      if (len < 4 || off + len > n) break;
      at.set((buf[off + 2]! | (buf[off + 3]! << 8)) & NLA_TYPE_MASK, (off + 4) * 65536 + (len - 4));
      off += (len + 3) & ~3;
    }
    return at;
  }
  static of(buf: Buffer): AttrMap {
    return new AttrMap(buf);
  }
  /** Every attribute in kernel order, raw types kept (for re-encoding). */
  get list(): Attr[] { return decodeAttrs(this.buf); }
  has(t: number): boolean { return this.at.has(t); }
  private start(t: number): number { const v = this.at.get(t); return v === undefined ? -1 : Math.floor(v / 65536); }
  raw(t: number): Buffer | undefined {
    const v = this.at.get(t);
    if (v === undefined) return undefined;
    const start = Math.floor(v / 65536);
    return this.buf.subarray(start, start + (v % 65536));
  }
  u8(t: number): number | undefined { const o = this.start(t); return o < 0 ? undefined : this.buf.readUInt8(o); }
  u16(t: number): number | undefined { const o = this.start(t); return o < 0 ? undefined : this.buf.readUInt16LE(o); }
  u16be(t: number): number | undefined { const o = this.start(t); return o < 0 ? undefined : this.buf.readUInt16BE(o); }
  u32(t: number): number | undefined { const o = this.start(t); return o < 0 ? undefined : this.buf.readUInt32LE(o); }
  i32(t: number): number | undefined { const o = this.start(t); return o < 0 ? undefined : this.buf.readInt32LE(o); }
  str(t: number): string | undefined {
    const v = this.at.get(t);
    if (v === undefined) return undefined;
    const start = Math.floor(v / 65536), end = start + (v % 65536);
    const nul = this.buf.indexOf(0, start);
    return this.buf.toString('utf8', start, nul < 0 || nul > end ? end : nul);
  }
  nested(t: number): AttrMap | undefined {
    const b = this.raw(t);
    return b ? new AttrMap(b) : undefined;
  }
}

// builders
export const nla = {
  u8: (type: number, v: number): Attr => ({ type, value: bytesOf([v & 0xff]) }),
  u16: (type: number, v: number): Attr => { const b = Buffer.alloc(2); b.writeUInt16LE(v); return { type, value: b }; },
  u16be: (type: number, v: number): Attr => { const b = Buffer.alloc(2); b.writeUInt16BE(v); return { type, value: b }; },
  u32: (type: number, v: number): Attr => { const b = Buffer.alloc(4); b.writeUInt32LE(v >>> 0); return { type, value: b }; },
  i32: (type: number, v: number): Attr => { const b = Buffer.alloc(4); b.writeInt32LE(v); return { type, value: b }; },
  str: (type: number, v: string): Attr => ({ type, value: utf8(v, 1) }),
  bytes: (type: number, v: Buffer): Attr => ({ type, value: v }),
  nested: (type: number, v: Attr[]): Attr => ({ type: type | NLA_F_NESTED, value: v }),
};
