// Fixed netlink headers: nlmsghdr, ifinfomsg, ifaddrmsg, rtmsg, ndmsg, nlmsgerr.
import { AttrMap, encodeAttrs, type Attr } from './attrs.ts';
import { NLMSGERR_ATTR_MSG } from './constants.ts';
import { arrForEach } from '../util/arrays.ts';

export interface NlHeader { type: number; flags: number; seq: number; pid: number }
export interface NlMessage extends NlHeader { payload: Buffer }

export const NLMSG_HDRLEN = 16;

export function encodeMessage(h: NlHeader, payload: Buffer): Buffer {
  const b = Buffer.alloc(NLMSG_HDRLEN + payload.length);
  b.writeUInt32LE(b.length, 0);
  b.writeUInt16LE(h.type, 4);
  b.writeUInt16LE(h.flags, 6);
  b.writeUInt32LE(h.seq >>> 0, 8);
  b.writeUInt32LE(h.pid >>> 0, 12);
  payload.copy(b, NLMSG_HDRLEN);
  return b;
}

export function decodeMessage(buf: Buffer): NlMessage {
  if (buf.length < NLMSG_HDRLEN) throw new RangeError(`netlink message of ${buf.length} bytes is shorter than its header`);
  const len = Math.min(buf.readUInt32LE(0), buf.length);
  return {
    type: buf.readUInt16LE(4), flags: buf.readUInt16LE(6),
    seq: buf.readUInt32LE(8), pid: buf.readUInt32LE(12),
    payload: buf.subarray(NLMSG_HDRLEN, len),
  };
}

/** A fixed header followed by attributes: the shape of every rtnetlink message body. */
export interface Struct<T> {
  size: number;
  encode(v: T): Buffer;
  decode(b: Buffer): T;
}

export function encodeBody<T>(s: Struct<T>, hdr: T, attrs: readonly Attr[]): Buffer {
  return Buffer.concat([s.encode(hdr), encodeAttrs(attrs)]);
}

export function decodeBody<T>(s: Struct<T>, payload: Buffer): { hdr: T; attrs: AttrMap } {
  if (payload.length < s.size) throw new RangeError(`message body of ${payload.length} bytes is shorter than its ${s.size}-byte header`);
  return { hdr: s.decode(payload), attrs: AttrMap.of(payload.subarray(s.size)) };
}

export interface IfInfoMsg { family: number; type: number; index: number; flags: number; change: number }
export const ifinfomsg: Struct<IfInfoMsg> = {
  size: 16,
  encode(v) {
    const b = Buffer.alloc(16);
    b.writeUInt8(v.family, 0);
    b.writeUInt16LE(v.type, 2);
    b.writeInt32LE(v.index, 4);
    b.writeUInt32LE(v.flags >>> 0, 8);
    b.writeUInt32LE(v.change >>> 0, 12);
    return b;
  },
  decode: (b) => ({ family: b.readUInt8(0), type: b.readUInt16LE(2), index: b.readInt32LE(4), flags: b.readUInt32LE(8), change: b.readUInt32LE(12) }),
};

export interface IfAddrMsg { family: number; prefixlen: number; flags: number; scope: number; index: number }
export const ifaddrmsg: Struct<IfAddrMsg> = {
  size: 8,
  encode(v) {
    const b = Buffer.alloc(8);
    b.writeUInt8(v.family, 0);
    b.writeUInt8(v.prefixlen, 1);
    b.writeUInt8(v.flags & 0xff, 2);
    b.writeUInt8(v.scope, 3);
    b.writeUInt32LE(v.index, 4);
    return b;
  },
  decode: (b) => ({ family: b[0]!, prefixlen: b[1]!, flags: b[2]!, scope: b[3]!, index: b.readUInt32LE(4) }),
};

export interface RtMsg {
  family: number; dstLen: number; srcLen: number; tos: number; table: number;
  protocol: number; scope: number; type: number; flags: number;
}
export const rtmsg: Struct<RtMsg> = {
  size: 12,
  encode(v) {
    const b = Buffer.alloc(12);
    arrForEach([v.family, v.dstLen, v.srcLen, v.tos, v.table, v.protocol, v.scope, v.type], (x, i) => b.writeUInt8(x, i));
    b.writeUInt32LE(v.flags >>> 0, 8);
    return b;
  },
  decode: (b) => ({
    family: b[0]!, dstLen: b[1]!, srcLen: b[2]!, tos: b[3]!, table: b[4]!,
    protocol: b[5]!, scope: b[6]!, type: b[7]!, flags: b.readUInt32LE(8),
  }),
};

export interface NdMsg { family: number; ifindex: number; state: number; flags: number; type: number }
export const ndmsg: Struct<NdMsg> = {
  size: 12,
  encode(v) {
    const b = Buffer.alloc(12);
    b.writeUInt8(v.family, 0);
    b.writeInt32LE(v.ifindex, 4);
    b.writeUInt16LE(v.state, 8);
    b.writeUInt8(v.flags, 10);
    b.writeUInt8(v.type, 11);
    return b;
  },
  decode: (b) => ({ family: b[0]!, ifindex: b.readInt32LE(4), state: b.readUInt16LE(8), flags: b[10]!, type: b[11]! }),
};

/** struct nlmsgerr: negative errno (0 = ACK), the offending header, then extended-ack TLVs. */
export interface NlError { errno: number; message?: string }
export function decodeError(m: NlMessage): NlError {
  const errno = -m.payload.readInt32LE(0);
  // with NETLINK_CAP_ACK the request is echoed as its header only; NLM_F_ACK_TLVS (0x200) marks TLVs
  const echoed = m.flags & 0x100 ? NLMSG_HDRLEN : Math.max(NLMSG_HDRLEN, m.payload.length >= 8 ? m.payload.readUInt32LE(4) : 0);
  let message: string | undefined;
  if (m.flags & 0x200) {
    const tlvs = AttrMap.of(m.payload.subarray(4 + echoed));
    message = tlvs.str(NLMSGERR_ATTR_MSG);
  }
  return message ? { errno, message } : { errno };
}
