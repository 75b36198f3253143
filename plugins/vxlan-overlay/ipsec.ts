// An encrypted network's IPsec on this host: its VXLAN traffic (UDP to the network's port, from
// and to this host's underlay address) in ESP, transport mode, AES-GCM (rfc4106). Two policies,
// whoever the peer: out, every such packet must go in ESP (to a host with no state yet it is
// dropped, never sent in clear); in, every such packet must have come in ESP (a clear one,
// from anyone, is dropped before the VXLAN device sees it). States per peer and direction: in,
// one per key the network holds (a peer may still send with the old one, or already with the
// new); out, one for the key this host sends with. Each SA has its own SPI and key, derived
// from the network key, the two addresses and the key's id, so both ends compute the same
// without exchanging anything and no two SAs share a key. What is ours is told by the reqid
// (our tag and the port), which is why an encrypted network needs a VXLAN port of its own on a
// host; everything else in the kernel's tables is left alone.
import { CniError, ErrCode } from '../../shared/cni/errors.ts';
import { Netlink } from '../../shared/netlink/socket.ts';
import {
  NETLINK_XFRM, XFRM_DIR, addPolicy, addState, deletePolicy, deleteState, listPolicies, listStates, type PolicySpec, type Selector, type State, type StateSpec,
} from '../../shared/netlink/xfrm.ts';
import { nodeCrypto } from '../../shared/util/lazy.ts';
import { utf8 } from '../../shared/util/bytes.ts';
import { arrFilter, arrMap, arrSome } from '../../shared/util/arrays.ts';
import type { IpsecKey } from './keys.ts';

export const AEAD = 'rfc4106(gcm(aes))';
const ICV_BITS = 128;
const UDP = 17;
const TAG = 0x4354;

/** Our states and policies for VXLAN port `port`: the tag in the high half. */
export const reqidOf = (port: number): number => ((TAG << 16) | port) >>> 0;

const derived = (key: Buffer, info: string, bytes: number): Buffer => Buffer.from(nodeCrypto().hkdfSync('sha256', key, utf8('cni-ts vxlan-overlay ipsec'), utf8(info), bytes));

/** One direction's SA between two hosts under key `k`: its SPI (above the reserved 0-255) and its AES-128 key with the 4-byte salt. */
export function saOf(network: string, src: string, dst: string, k: IpsecKey): { spi: number; key: Buffer } {
  const d = derived(k.key, `${network}\n${src}\n${dst}\n${k.id}`, 24);
  return { spi: 0x100 + (d.readUInt32BE(0) % (0xffffffff - 0x100)), key: d.subarray(4) };
}

/** What this host should hold for one encrypted network. */
export interface Pairing { network: string; me: string; port: number; peers: string[]; keys: IpsecKey[]; send: IpsecKey | undefined }

const flow = (src: string, dst: string, port: number): Selector => ({ src, dst, proto: UDP, dport: port });

export function desiredStates(p: Pairing): StateSpec[] {
  const reqid = reqidOf(p.port);
  const out: StateSpec[] = [];
  const sa = (src: string, dst: string, k: IpsecKey): StateSpec => {
    const { spi, key } = saOf(p.network, src, dst, k);
    return { src, dst, spi, reqid, sel: flow(src, dst, p.port), aead: { name: AEAD, key, icvBits: ICV_BITS } };
  };
  for (const peer of p.peers) {
    for (const k of p.keys) out.push(sa(peer, p.me, k));
    if (p.send) out.push(sa(p.me, peer, p.send));
  }
  return out;
}

export function desiredPolicies(me: string, port: number): PolicySpec[] {
  const reqid = reqidOf(port);
  return [
    { sel: { ...flow(me, '0.0.0.0', port), dstLen: 0 }, dir: XFRM_DIR.OUT, tmpl: { src: me, dst: '0.0.0.0', reqid } },
    { sel: { ...flow('0.0.0.0', me, port), srcLen: 0 }, dir: XFRM_DIR.IN, tmpl: { src: '0.0.0.0', dst: me, reqid } },
  ];
}

const stateKey = (s: { src: string; dst: string; spi: number }): string => `${s.src}>${s.dst}#${s.spi}`;
const policyKey = (p: { sel: Selector; dir: number }): string => `${p.dir}:${p.sel.src}/${p.sel.srcLen ?? 32}>${p.sel.dst}/${p.sel.dstLen ?? 32}:${p.sel.proto}:${p.sel.dport}`;

/** The XFRM socket of this namespace, with the kernel's refusal turned into what the user can act on. */
export function openXfrm(): Netlink {
  try {
    return new Netlink(-1, NETLINK_XFRM);
  } catch (e) {
    throw new CniError(ErrCode.UnsupportedField, `encrypted: true: this host's kernel has no IPsec netlink (xfrm_user): ${(e as Error).message}; the overlay is not made in clear text`);
  }
}

/**
 * Make the kernel's states and policies for `port` exactly what `p` wants (states first, so no
 * packet meets a policy without its state); with no `p`, remove them all.
 */
export function syncIpsec(port: number, p: Pairing | undefined): void {
  const nl = openXfrm();
  try {
    const reqid = reqidOf(port);
    const want = p ? desiredStates(p) : [];
    const wantPolicies = p ? desiredPolicies(p.me, port) : [];
    const have = new Map<string, State>();
    for (const s of listStates(nl)) if (s.reqid === reqid) have.set(stateKey(s), s);
    const keep = new Set<string>();
    for (const s of want) {
      const k = stateKey(s);
      keep.add(k);
      const had = have.get(k)?.aead?.key;
      if (!had || !had.equals(s.aead.key)) addState(nl, s);
    }
    // wanted policies in before unwanted ones go: never a moment without one (clear text)
    const policies = arrFilter(listPolicies(nl), (x) => arrSome(x.tmpls, (t) => t.reqid === reqid));
    const hadPolicies = new Set(arrMap(policies, policyKey));
    for (const x of wantPolicies) if (!hadPolicies.has(policyKey(x))) addPolicy(nl, x);
    const keepPolicies = new Set(arrMap(wantPolicies, policyKey));
    for (const x of policies) if (!keepPolicies.has(policyKey(x))) deletePolicy(nl, x.sel, x.dir);
    for (const [k, s] of have) if (!keep.has(k)) deleteState(nl, s);
  } finally {
    nl.close();
  }
}

/**
 * Whether this kernel can seal the network's traffic: a state like the network's is added and
 * removed again, before anything of the network is made. Throws code 2 naming what is missing.
 */
export function probeIpsec(me: string, port: number): void {
  const nl = openXfrm();
  try {
    const id = { src: me, dst: me, spi: 0xff };
    try {
      addState(nl, { ...id, reqid: reqidOf(port), sel: flow(me, me, port), aead: { name: AEAD, key: nodeCrypto().randomBytes(20), icvBits: ICV_BITS } });
    } catch (e) {
      const code = (e as { code?: string }).code;
      const missing = code === 'ENOSYS' ? `${AEAD} (AES-GCM: the gcm module)` : code === 'EPROTONOSUPPORT' ? 'ESP (the esp4 module)' : undefined;
      throw new CniError(ErrCode.UnsupportedField, `encrypted: true: this host's kernel cannot seal the overlay: ${missing ? `it has no ${missing}` : (e as Error).message}; the overlay is not made in clear text`);
    }
    deleteState(nl, id);
  } finally {
    nl.close();
  }
}
