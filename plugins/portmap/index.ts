// portmap (chained): publish container ports (Docker -p/-P) with nftables map elements:
// DNAT from other hosts, from the host itself (127.0.0.1 too) and hairpin from containers.
import * as z from 'zod/mini';
import { CniError, ErrCode } from '../../shared/cni/errors.ts';
import type { Context, Plugin } from '../../shared/cni/plugin.ts';
import { firstIP, requirePrev } from '../../shared/cni/prev.ts';
import type { Result } from '../../shared/cni/result.ts';
import { baseShape, configSchema, ipString } from '../../shared/cni/schema.ts';
import { formatIP, isUnspecified, parseIP, type Family } from '../../shared/util/ip.ts';
import { flushUdpMappings } from '../../shared/netlink/conntrack.ts';
import { NftBatch, NftError, tag, type Elem } from '../nft-state/batch.ts';
import { findTagged, ourElements } from '../nft-state/elements.ts';
import { PORTMAP_NFT, type PortmapSet } from './nft.ts';
import { localnetHold, localnetRelease, onLoopback } from './localnet.ts';
import { arrFilter, arrFind, arrForEach, arrMap, arrSome } from '../../shared/util/arrays.ts';

const port = () => z.number().check(z.int(), z.minimum(1), z.maximum(65535));
const mappingSchema = () => z.looseObject({
  hostPort: port(),
  containerPort: port(),
  protocol: z.optional(z.string()),
  hostIP: z.optional(z.string()),
});

const schema = () => z.looseObject({
  ...baseShape(),
  snat: z.optional(z.boolean()),
  masqAll: z.optional(z.boolean()),
  markMasqBit: z.optional(z.number().check(z.int(), z.minimum(0), z.maximum(31))),
  externalSetMarkChain: z.optional(z.string()),
  conditionsV4: z.optional(z.array(z.string())),
  conditionsV6: z.optional(z.array(z.string())),
  backend: z.optional(z.string()),
  /** the host address of every mapping that names none (Docker's com.docker.network.bridge.host_binding_ipv4) */
  hostIP: z.optional(ipString()),
  runtimeConfig: z.optional(z.looseObject({ portMappings: z.optional(z.array(mappingSchema())) })),
});
type PortmapConf = z.infer<ReturnType<typeof schema>>;
type Ctx = Context<PortmapConf>;
type Mapping = z.infer<ReturnType<typeof mappingSchema>>;

const PROTOCOLS = ['tcp', 'udp', 'sctp'];

/** The map elements for every mapping and family the container has an address in. */
function mappingElements(mappings: Mapping[], ips: Partial<Record<Family, string>>): Elem<PortmapSet>[] {
  const out: Elem<PortmapSet>[] = [];
  arrForEach(mappings, (m, i) => {
    const proto = (m.protocol || 'tcp').toLowerCase();
    if (!PROTOCOLS.includes(proto)) throw new CniError(ErrCode.InvalidConfig, `invalid network config: runtimeConfig.portMappings[${i}].protocol "${m.protocol}" is not tcp, udp or sctp`);
    const host = m.hostIP ? parseIP(m.hostIP) : undefined;
    if (m.hostIP && !host) throw new CniError(ErrCode.InvalidConfig, `invalid network config: runtimeConfig.portMappings[${i}].hostIP "${m.hostIP}" is not an IP address`);
    const any = !host || isUnspecified(host);
    for (const fam of [4, 6] as const) {
      const cip = ips[fam];
      if (!cip || (host && !any && host.family !== fam)) continue;
      if (host && any && host.family !== fam) continue;   // 0.0.0.0 is IPv4 only, :: IPv6 only
      const value = `${cip} . ${m.containerPort}`;
      if (any) out.push({ family: 'inet', set: `pm${fam}`, key: `${proto} . ${m.hostPort}`, value });
      else out.push({ family: 'inet', set: `pm${fam}ip`, key: `${formatIP(host!.bytes)} . ${proto} . ${m.hostPort}`, value });
    }
  });
  return out;
}

/** The runtime's mappings, the network's hostIP for those that name no host address ("" is none, as containerd sends it). */
function mappingsOf(ctx: Ctx): Mapping[] {
  const all = ctx.conf.runtimeConfig?.portMappings ?? [];
  const host = ctx.conf.hostIP;
  return host ? arrMap(all, (m) => (m.hostIP ? m : { ...m, hostIP: host })) : all;
}

function containerAddresses(prev: Result): Partial<Record<Family, string>> {
  const ips: Partial<Record<Family, string>> = {};
  for (const fam of [4, 6] as const) { const ip = firstIP(prev, fam); if (ip) ips[fam] = ip; }
  return ips;
}

/** Every element of this container: its mappings, and the SNAT and masquerade memberships. */
function containerElements(c: PortmapConf, mappings: Mapping[], ips: Partial<Record<Family, string>>): Elem<PortmapSet>[] {
  const els = mappingElements(mappings, ips);
  for (const fam of [4, 6] as const) {
    const cip = ips[fam];
    if (!cip) continue;
    if (c.snat ?? true) {
      els.push({ family: 'inet', set: `pm_hairpin${fam}`, key: `${cip} . ${cip}` });
      if (fam === 4) els.push({ family: 'inet', set: 'pm_local4', key: cip });
    }
    if (c.masqAll) els.push({ family: 'inet', set: `pm_masqall${fam}`, key: cip });
  }
  return els;
}

function add(ctx: Ctx): Result {
  const prev = requirePrev(ctx.prevResult, 'portmap');
  const c = ctx.conf;
  const mappings = mappingsOf(ctx);
  if (!mappings.length) return prev;
  for (const k of ['conditionsV4', 'conditionsV6'] as const) {
    if (c[k]?.length) throw new CniError(ErrCode.UnsupportedField, `${k} (iptables match arguments) cannot be applied by the nftables backend: remove it`);
  }
  const ips = containerAddresses(prev);
  const els = containerElements(c, mappings, ips);
  const t = tag(c.name, ctx.env.containerId);
  // 127.0.0.1 -> container needs route_localnet on the interface the container is reached by
  const localnet = (c.snat ?? true) && ips[4] && arrSome(mappings, onLoopback) ? localnetHold(ips[4], t) : undefined;
  try {
    new NftBatch(PORTMAP_NFT).add(els, t).run();
  } catch (e) {
    if (localnet) localnetRelease(t, localnet);
    // a host port published by somebody else: the batch changed nothing; say who has it
    if (!(e instanceof NftError) || !e.exists) throw e;
    const existing = ourElements([PORTMAP_NFT]);
    let taken: (typeof existing)[number] | undefined;
    for (const x of els) if ((taken = arrFind(existing, (y) => y.set === x.set && y.key === x.key && y.comment !== t))) break;
    throw new CniError(ErrCode.Plugin, taken ? `host port ${taken.key} is already published by ${taken.comment ?? 'another container'}` : e.message);
  }
  return prev;
}

function del(ctx: Ctx): void {
  const mappings = mappingsOf(ctx);
  const prev = ctx.prevResult;
  const ips = prev ? containerAddresses(prev) : {};
  const t = tag(ctx.conf.name, ctx.env.containerId);
  const tagged = findTagged(t, PORTMAP_NFT);
  new NftBatch(PORTMAP_NFT).remove(tagged).run();
  localnetRelease(t);
  // UDP conntrack entries of the removed mappings (the address from prevResult or the elements)
  const udp = arrFilter(mappings, (m) => (m.protocol || 'tcp').toLowerCase() === 'udp');
  const addrs = new Set<string>(Object.values(ips));
  for (const e of tagged) if (e.set === 'pm_local4' || e.set === 'pm_masqall4') addrs.add(e.key);
  flushUdpMappings(addrs, arrMap(udp, (m) => m.hostPort));
}

function check(ctx: Ctx): void {
  const prev = requirePrev(ctx.prevResult, 'portmap');
  const elementKey = (e: Elem<PortmapSet>) => `${e.set}\0${e.key}\0${e.value ?? ''}`;
  const mine = new Set(arrMap(findTagged(tag(ctx.conf.name, ctx.env.containerId), PORTMAP_NFT), elementKey));
  for (const e of mappingElements(mappingsOf(ctx), containerAddresses(prev))) {
    if (!mine.has(elementKey(e))) {
      throw new CniError(ErrCode.Plugin, `portmap: mapping ${e.key} -> ${e.value} is missing`);
    }
  }
}

export const portmap: Plugin<PortmapConf> = { type: 'portmap', chained: true, config: configSchema('portmap', schema), add, del, check };
