// Netlink attributes (struct nlattr): 4-byte header, payload padded to 4 bytes. Decoding keeps
// every attribute in kernel order with its raw type (flag bits included) so a decoded message
// re-encodes to the same bytes.
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

/** Attribute lookup by type (flag bits ignored); the last occurrence wins, as in the kernel. */
export class AttrMap {
  private readonly byType = new Map<number, Buffer>();
  constructor(readonly list: Attr[]) {
    for (const a of list) if (Buffer.isBuffer(a.value)) this.byType.set(a.type & NLA_TYPE_MASK, a.value);
  }
  static of(buf: Buffer): AttrMap {
    return new AttrMap(decodeAttrs(buf));
  }
  has(t: number): boolean { return this.byType.has(t); }
  raw(t: number): Buffer | undefined { return this.byType.get(t); }
  u8(t: number): number | undefined { return this.byType.get(t)?.readUInt8(0); }
  u16(t: number): number | undefined { return this.byType.get(t)?.readUInt16LE(0); }
  u16be(t: number): number | undefined { return this.byType.get(t)?.readUInt16BE(0); }
  u32(t: number): number | undefined { return this.byType.get(t)?.readUInt32LE(0); }
  i32(t: number): number | undefined { return this.byType.get(t)?.readInt32LE(0); }
  str(t: number): string | undefined {
    const b = this.byType.get(t);
    if (!b) return undefined;
    const nul = b.indexOf(0);
    return b.toString('utf8', 0, nul < 0 ? b.length : nul);
  }
  nested(t: number): AttrMap | undefined {
    const b = this.byType.get(t);
    return b ? AttrMap.of(b) : undefined;
  }
}

// builders
export const nla = {
  u8: (type: number, v: number): Attr => ({ type, value: Buffer.from([v & 0xff]) }),
  u16: (type: number, v: number): Attr => { const b = Buffer.alloc(2); b.writeUInt16LE(v); return { type, value: b }; },
  u16be: (type: number, v: number): Attr => { const b = Buffer.alloc(2); b.writeUInt16BE(v); return { type, value: b }; },
  u32: (type: number, v: number): Attr => { const b = Buffer.alloc(4); b.writeUInt32LE(v >>> 0); return { type, value: b }; },
  i32: (type: number, v: number): Attr => { const b = Buffer.alloc(4); b.writeInt32LE(v); return { type, value: b }; },
  str: (type: number, v: string): Attr => ({ type, value: Buffer.concat([Buffer.from(v, 'utf8'), Buffer.alloc(1)]) }),
  bytes: (type: number, v: Buffer): Attr => ({ type, value: v }),
  nested: (type: number, v: Attr[]): Attr => ({ type: type | NLA_F_NESTED, value: v }),
};
