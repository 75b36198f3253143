// Interface addresses, IPv4 and IPv6.
import { copyOf } from '../util/bytes.ts';
import { nla, type Attr } from './attrs.ts';
import { AF, IFA, IFA_F, NLM_F, RTM, RT_SCOPE } from './constants.ts';
import { decodeBody, encodeBody, ifaddrmsg } from './message.ts';
import type { Netlink } from './socket.ts';
import { formatIP, parseCIDR, type Family } from '../util/ip.ts';

export interface Address {
  index: number;
  family: Family;
  /** "10.0.0.2/24" */
  cidr: string;
  ip: string;
  prefix: number;
  scope: number;
  flags: number;
  label?: string;
}

export function parseAddress(payload: Buffer): Address {
  const { hdr, attrs } = decodeBody(ifaddrmsg, payload);
  const raw = attrs.raw(IFA.LOCAL) ?? attrs.raw(IFA.ADDRESS) ?? Buffer.alloc(hdr.family === AF.INET ? 4 : 16);
  const ip = formatIP(raw);
  const a: Address = {
    index: hdr.index, family: hdr.family === AF.INET ? 4 : 6, cidr: `${ip}/${hdr.prefixlen}`, ip,
    prefix: hdr.prefixlen, scope: hdr.scope, flags: attrs.u32(IFA.FLAGS) ?? hdr.flags,
  };
  const label = attrs.str(IFA.LABEL);
  if (label !== undefined) a.label = label;
  return a;
}

export function listAddresses(nl: Netlink, opts: { index?: number; family?: Family } = {}): Address[] {
  const family = opts.family === 4 ? AF.INET : opts.family === 6 ? AF.INET6 : AF.UNSPEC;
  const out: Address[] = [];
  for (const m of nl.request('list addresses', RTM.GETADDR, NLM_F.DUMP, encodeBody(ifaddrmsg, { family, prefixlen: 0, flags: 0, scope: 0, index: 0 }, []))) {
    const a = parseAddress(m.payload);
    if (opts.index === undefined || a.index === opts.index) out.push(a);
  }
  return out;
}

export interface AddressSpec {
  index: number;
  cidr: string;
  nodad?: boolean;
  noprefixroute?: boolean;
  scope?: number;
  /** IPv4 broadcast: computed from the prefix when true */
  broadcast?: boolean;
}

function addrBody(a: AddressSpec): Buffer {
  const net = parseCIDR(a.cidr);
  if (!net) throw new TypeError(`invalid address "${a.cidr}"`);
  const fam = net.ip.family === 4 ? AF.INET : AF.INET6;
  const flags = (a.nodad ? IFA_F.NODAD : 0) | (a.noprefixroute ? IFA_F.NOPREFIXROUTE : 0);
  const attrs: Attr[] = [nla.bytes(IFA.LOCAL, net.ip.bytes), nla.bytes(IFA.ADDRESS, net.ip.bytes)];
  if (net.ip.family === 4 && a.broadcast && net.prefix < 31) {
    const b = copyOf(net.ip.bytes);
    const host = 32 - net.prefix;
    b.writeUInt32BE(((b.readUInt32BE(0) | ((2 ** host) - 1)) >>> 0), 0);
    attrs.push(nla.bytes(IFA.BROADCAST, b));
  }
  if (flags > 0xff) attrs.push(nla.u32(IFA.FLAGS, flags));
  return encodeBody(ifaddrmsg, { family: fam, prefixlen: net.prefix, flags: flags & 0xff, scope: a.scope ?? RT_SCOPE.UNIVERSE, index: a.index }, attrs);
}

/** Add an address; with replace, an existing identical address is not an error. */
export function addAddress(nl: Netlink, a: AddressSpec, replace = false): void {
  nl.request(`add address ${a.cidr}`, RTM.NEWADDR, NLM_F.CREATE | (replace ? NLM_F.REPLACE : NLM_F.EXCL), addrBody(a));
}

export function deleteAddress(nl: Netlink, a: AddressSpec): void {
  nl.request(`delete address ${a.cidr}`, RTM.DELADDR, 0, addrBody(a));
}
