// XFRM (NETLINK_XFRM): IPsec security associations and policies, encoded and decoded here as
// iproute2 and the kernel lay them out (linux/xfrm.h, x86-64): states of ESP in transport mode
// with an AEAD algorithm, policies over one flow with one template. Golden-tested against the
// bytes `ip xfrm` sends and the kernel dumps (test/fixtures/netlink/xfrm.hex).
import { nla, type Attr, AttrMap, encodeAttrs } from './attrs.ts';
import { formatIP, parseIP } from '../util/ip.ts';
import { arrMap } from '../util/arrays.ts';
import { NLM_F } from './constants.ts';
import type { Netlink } from './socket.ts';

export const NETLINK_XFRM = 6;
export const enum XFRM_MSG { NEWSA = 0x10, DELSA = 0x11, GETSA = 0x12, NEWPOLICY = 0x13, DELPOLICY = 0x14, GETPOLICY = 0x15, UPDPOLICY = 0x19, UPDSA = 0x1a }
export const enum XFRMA { TMPL = 5, SRCADDR = 13, POLICY_TYPE = 16, ALG_AEAD = 18 }
export const IPPROTO_ESP = 50;
export const enum XFRM_DIR { IN = 0, OUT = 1, FWD = 2 }
export const enum XFRM_MODE { TRANSPORT = 0, TUNNEL = 1 }
const AF_INET = 2, AF_INET6 = 10;
const INF = 0xffffffffffffffffn;

/** Which traffic a state or policy is for: one flow of a protocol between two prefixes. */
export interface Selector { src: string; dst: string; srcLen?: number; dstLen?: number; proto?: number; sport?: number; dport?: number }

function addr16(b: Buffer, at: number, ip: string): number {
  const a = parseIP(ip);
  if (!a) throw new TypeError(`xfrm: "${ip}" is not an address`);
  a.bytes.copy(b, at);
  return a.family === 4 ? AF_INET : AF_INET6;
}
const readAddr = (b: Buffer, at: number, family: number): string => formatIP(b.subarray(at, at + (family === AF_INET6 ? 16 : 4)));

function encodeSelector(b: Buffer, at: number, s: Selector): number {
  const family = addr16(b, at, s.dst);
  addr16(b, at + 16, s.src);
  const bits = family === AF_INET ? 32 : 128;
  if (s.dport !== undefined) { b.writeUInt16BE(s.dport, at + 32); b.writeUInt16BE(0xffff, at + 34); }
  if (s.sport !== undefined) { b.writeUInt16BE(s.sport, at + 36); b.writeUInt16BE(0xffff, at + 38); }
  b.writeUInt16LE(family, at + 40);
  b.writeUInt8(s.dstLen ?? bits, at + 42);
  b.writeUInt8(s.srcLen ?? bits, at + 43);
  b.writeUInt8(s.proto ?? 0, at + 44);
  return family;
}
function decodeSelector(b: Buffer, at: number): Selector {
  const family = b.readUInt16LE(at + 40);
  const s: Selector = { dst: readAddr(b, at, family), src: readAddr(b, at + 16, family), dstLen: b.readUInt8(at + 42), srcLen: b.readUInt8(at + 43) };
  if (b.readUInt8(at + 44)) s.proto = b.readUInt8(at + 44);
  if (b.readUInt16BE(at + 34)) s.dport = b.readUInt16BE(at + 32);
  if (b.readUInt16BE(at + 38)) s.sport = b.readUInt16BE(at + 36);
  return s;
}

/** xfrm_lifetime_cfg with no limits (as iproute2 sends it), at `at`. */
function noLimits(b: Buffer, at: number): void {
  for (let i = 0; i < 4; i++) b.writeBigUInt64LE(INF, at + 8 * i);
}

/** An ESP state in transport mode: the packets of `sel` from `src` to `dst` under `spi`, sealed with `aead`. */
export interface StateSpec {
  src: string; dst: string; spi: number; reqid: number; sel: Selector;
  /** e.g. rfc4106(gcm(aes)); the key with its salt (20 bytes for AES-128-GCM), the ICV in bits */
  aead: { name: string; key: Buffer; icvBits: number };
}

const SA_INFO_SIZE = 224;
export function encodeNewSA(s: StateSpec): Buffer {
  const b = Buffer.alloc(SA_INFO_SIZE);
  encodeSelector(b, 0, s.sel);
  const family = addr16(b, 56, s.dst);                 // id.daddr
  b.writeUInt32BE(s.spi >>> 0, 72);                    // id.spi
  b.writeUInt8(IPPROTO_ESP, 76);                       // id.proto
  addr16(b, 80, s.src);                                // saddr
  noLimits(b, 96);                                     // lft
  b.writeUInt32LE(s.reqid >>> 0, 208);
  b.writeUInt16LE(family, 212);
  b.writeUInt8(XFRM_MODE.TRANSPORT, 214);
  return Buffer.concat([b, encodeAttrs([aeadAttr(s.aead)])]);
}

function aeadAttr(a: StateSpec['aead']): Attr {
  if (Buffer.byteLength(a.name) >= 64) throw new TypeError(`xfrm: algorithm name "${a.name}" is too long`);
  const v = Buffer.alloc(72 + a.key.length);
  v.write(a.name, 0, 'latin1');
  v.writeUInt32LE(a.key.length * 8, 64);
  v.writeUInt32LE(a.icvBits, 68);
  a.key.copy(v, 72);
  return nla.bytes(XFRMA.ALG_AEAD, v);
}

export interface StateId { src: string; dst: string; spi: number }

/** xfrm_usersa_id and the source address: one state, to delete or get. */
export function encodeStateId(s: StateId): Buffer {
  const b = Buffer.alloc(24);
  const family = addr16(b, 0, s.dst);
  b.writeUInt32BE(s.spi >>> 0, 16);
  b.writeUInt16LE(family, 20);
  b.writeUInt8(IPPROTO_ESP, 22);
  const src = Buffer.alloc(16);
  addr16(src, 0, s.src);
  return Buffer.concat([b, encodeAttrs([nla.bytes(XFRMA.SRCADDR, src)])]);
}

export interface State extends StateId { reqid: number; sel: Selector; proto: number; mode: number; aead?: { name: string; key: Buffer; icvBits: number } }

export function decodeSA(payload: Buffer): State {
  const family = payload.readUInt16LE(212);
  const st: State = {
    sel: decodeSelector(payload, 0), dst: readAddr(payload, 56, family), spi: payload.readUInt32BE(72), proto: payload.readUInt8(76),
    src: readAddr(payload, 80, family), reqid: payload.readUInt32LE(208), mode: payload.readUInt8(214),
  };
  const a = AttrMap.of(payload.subarray(SA_INFO_SIZE)).raw(XFRMA.ALG_AEAD);
  if (a && a.length >= 72) {
    const name = a.toString('latin1', 0, 64);
    st.aead = { name: name.slice(0, name.indexOf('\0') < 0 ? 64 : name.indexOf('\0')), key: Buffer.from(a.subarray(72, 72 + a.readUInt32LE(64) / 8)), icvBits: a.readUInt32LE(68) };
  }
  return st;
}

/** A policy: packets of `sel` in direction `dir` go through ESP (transport) from tmpl.src to tmpl.dst. */
export interface PolicySpec { sel: Selector; dir: number; priority?: number; tmpl: { src: string; dst: string; reqid: number } }

const POLICY_INFO_SIZE = 168;
export function encodeNewPolicy(p: PolicySpec): Buffer {
  const b = Buffer.alloc(POLICY_INFO_SIZE);
  encodeSelector(b, 0, p.sel);
  noLimits(b, 56);                                     // lft
  b.writeUInt32LE(p.priority ?? 0, 152);
  b.writeUInt8(p.dir, 160);
  const t = Buffer.alloc(64);
  const family = addr16(t, 0, p.tmpl.dst);             // id.daddr
  t.writeUInt8(IPPROTO_ESP, 20);                       // id.proto (spi 0: any)
  t.writeUInt16LE(family, 24);
  addr16(t, 28, p.tmpl.src);
  t.writeUInt32LE(p.tmpl.reqid >>> 0, 44);
  t.writeUInt8(XFRM_MODE.TRANSPORT, 48);
  t.writeUInt32LE(0xffffffff, 52);                     // any auth, encryption and compression algorithm
  t.writeUInt32LE(0xffffffff, 56);
  t.writeUInt32LE(0xffffffff, 60);
  return Buffer.concat([b, encodeAttrs([nla.bytes(XFRMA.TMPL, t)])]);
}

/** xfrm_userpolicy_id: one policy by its selector and direction, to delete or get. */
export function encodePolicyId(sel: Selector, dir: number): Buffer {
  const b = Buffer.alloc(64);
  encodeSelector(b, 0, sel);
  b.writeUInt8(dir, 60);
  return b;
}

export interface Policy { sel: Selector; dir: number; priority: number; index: number; action: number; tmpls: { src: string; dst: string; proto: number; reqid: number; mode: number }[] }

export function decodePolicy(payload: Buffer): Policy {
  const p: Policy = { sel: decodeSelector(payload, 0), priority: payload.readUInt32LE(152), index: payload.readUInt32LE(156), dir: payload.readUInt8(160), action: payload.readUInt8(161), tmpls: [] };
  const t = AttrMap.of(payload.subarray(POLICY_INFO_SIZE)).raw(XFRMA.TMPL);
  for (let at = 0; t && at + 64 <= t.length; at += 64) {
    const family = t.readUInt16LE(at + 24);
    p.tmpls.push({ dst: readAddr(t, at, family), proto: t.readUInt8(at + 20), src: readAddr(t, at + 28, family), reqid: t.readUInt32LE(at + 44), mode: t.readUInt8(at + 48) });
  }
  return p;
}

// The requests, on a socket opened as new Netlink(nsFd, NETLINK_XFRM).

/** Add a state, or replace the one of its ID (UPDSA only updates: ESRCH when there is none). */
export function addState(nl: Netlink, s: StateSpec): void {
  const op = `add xfrm state ${s.src} -> ${s.dst} spi ${s.spi}`;
  try {
    nl.request(op, XFRM_MSG.NEWSA, 0, encodeNewSA(s));
  } catch (e) {
    if ((e as { code?: string }).code !== 'EEXIST') throw e;
    nl.request(op, XFRM_MSG.UPDSA, 0, encodeNewSA(s));
  }
}

export function deleteState(nl: Netlink, id: StateId): void {
  nl.request(`delete xfrm state ${id.src} -> ${id.dst} spi ${id.spi}`, XFRM_MSG.DELSA, 0, encodeStateId(id));
}

/** Add (or replace) a policy: UPDPOLICY does both. */
export function addPolicy(nl: Netlink, p: PolicySpec): void {
  nl.request(`add xfrm policy ${p.sel.src} -> ${p.sel.dst} dir ${p.dir}`, XFRM_MSG.UPDPOLICY, 0, encodeNewPolicy(p));
}

export function deletePolicy(nl: Netlink, sel: Selector, dir: number): void {
  nl.request(`delete xfrm policy ${sel.src} -> ${sel.dst} dir ${dir}`, XFRM_MSG.DELPOLICY, 0, encodePolicyId(sel, dir));
}

export const listStates = (nl: Netlink): State[] =>
  arrMap(nl.request('list xfrm states', XFRM_MSG.GETSA, NLM_F.DUMP, Buffer.alloc(0)), (m) => decodeSA(m.payload));

export const listPolicies = (nl: Netlink): Policy[] =>
  arrMap(nl.request('list xfrm policies', XFRM_MSG.GETPOLICY, NLM_F.DUMP, Buffer.alloc(0)), (m) => decodePolicy(m.payload));
