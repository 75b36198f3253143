// An encrypted network's traffic between this host and its peers (`"encrypted": true`): the
// network's keys from etcd (keys.ts) made into this host's IPsec states and policies (ipsec.ts).
// A host's first ADD checks that the kernel can do it and that the network's VXLAN port is its
// own here; the policies go in before the VXLAN device exists and out after it is gone, so no
// packet of the network ever leaves in clear text.
import { CniError, ErrCode } from '../../shared/cni/errors.ts';
import { arrFilter, arrMap } from '../../shared/util/arrays.ts';
import { logSkipped } from './checks.ts';
import { DEFAULT_PORT, portOf, type OverlayConf } from './config.ts';
import type { Host } from './host.ts';
import { probeIpsec, syncIpsec } from './ipsec.ts';
import { currentKeys, keysKeyOf, sendKey, timingOf, type IpsecKey } from './keys.ts';
import { registered } from './registry.ts';

/** The network's keys (made, rotated or pruned where due); undefined for a network in clear. Throws when etcd is away. */
export async function networkKeys(c: OverlayConf, h: Host): Promise<IpsecKey[] | undefined> {
  if (!c.encrypted) return undefined;
  const { keys, skipped } = await currentKeys(h.etcd, keysKeyOf(h.prefix, c.name), timingOf(c));
  logSkipped(c.name, 'ipsec key', skipped);
  return keys;
}

/** This host's states and policies for the network, for these peers' underlay addresses (none fit: policies only, and nothing crosses). */
export function seal(c: OverlayConf, h: Host, peers: string[], keys: IpsecKey[]): void {
  if (!c.encrypted) return;
  const me = h.underlay.address;
  syncIpsec(portOf(c), { network: c.name, me, port: portOf(c), peers: arrFilter([...new Set(peers)], (p) => p !== me), keys, send: sendKey(keys, Date.now(), timingOf(c)) });
}

/** The host left the network: its states and policies go (after the device). */
export function unseal(c: OverlayConf): void {
  if (c.encrypted) syncIpsec(portOf(c), undefined);
}

/**
 * Before a host's first attachment: the network's VXLAN port must be its own here when either
 * side is encrypted (IPsec selects the traffic by port: a network in clear beside it would be
 * sealed, or dropped), and the kernel must be able to seal it.
 */
export function checkSealable(c: OverlayConf, h: Host): void {
  const port = portOf(c);
  for (const text of registered().values()) {
    let o: any;
    try { o = JSON.parse(text); } catch { continue; }
    if (typeof o?.name !== 'string' || o.name === c.name) continue;
    const theirs = Number.isInteger(o.port) ? o.port : DEFAULT_PORT;
    if (theirs !== port || !(o.encrypted === true || c.encrypted)) continue;
    throw new CniError(ErrCode.InvalidConfig, `invalid network config: port ${port} carries overlay ${o.name}${o.encrypted === true ? ' (encrypted)' : ''} on this host: an encrypted overlay needs a VXLAN port of its own (IPsec selects its traffic by port); give one of them another port`);
  }
  if (c.encrypted) probeIpsec(h.underlay.address, port);
}

export const underlaysOf = <T extends { underlay: string }>(xs: T[]): string[] => arrMap(xs, (x) => x.underlay);
