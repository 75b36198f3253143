// firewall (chained): per-container accepts as the reference adds them, and Docker's isolation:
// ingressPolicy "same-bridge" keeps bridges apart (Docker's isolation between networks),
// "isolated" also stops containers on one bridge talking to each other (--icc=false).
import * as z from 'zod/mini';
import { CniError, ErrCode } from '../../shared/cni/errors.ts';
import type { Context, Plugin } from '../../shared/cni/plugin.ts';
import { containerIPs, hostInterfaces, ipOnly, requirePrev } from '../../shared/cni/prev.ts';
import type { Result } from '../../shared/cni/result.ts';
import { baseShape, configSchema } from '../../shared/cni/schema.ts';
import { familyOf } from '../../shared/util/ip.ts';
import { getLink } from '../../shared/netlink/link.ts';
import { Netlink } from '../../shared/netlink/socket.ts';
import { NftBatch, tag, type Elem } from '../nft-state/batch.ts';
import { FIREWALL_NFT, type FirewallSet } from './nft.ts';
import { findTagged, removeContainer } from '../nft-state/elements.ts';
import { groupOf, joinGroup, leaveGroup } from '../../shared/os/members.ts';
import { arrMap, arrSome } from '../../shared/util/arrays.ts';

const schema = () => z.looseObject({
  ...baseShape(),
  backend: z.optional(z.enum(['', 'iptables', 'firewalld', 'nftables'])),
  iptablesAdminChainName: z.optional(z.string()),
  firewalldZone: z.optional(z.string()),
  ingressPolicy: z.optional(z.enum(['', 'open', 'same-bridge', 'isolated'])),
});
type FirewallConf = z.infer<ReturnType<typeof schema>>;
type Ctx = Context<FirewallConf>;

const bridgeTag = (br: string): string => `bridge=${br}`;

/** The bridge and the container's host-side port, from prevResult and the links themselves. */
function hostSide(nl: Netlink, prev: Result): { bridge?: string; port?: string } {
  let bridge: string | undefined, port: string | undefined;
  for (const i of hostInterfaces(prev)) {
    const l = getLink(nl, i.name);
    if (l?.kind === 'bridge') bridge ??= l.name;
    else if (l?.master) { port ??= l.name; bridge ??= getLink(nl, l.master)?.name; }
  }
  return { ...(bridge ? { bridge } : {}), ...(port ? { port } : {}) };
}

/** The container's own elements (the bridge-wide isolation elements are shared, added apart). */
function containerElements(prev: Result, policy: string, port: string | undefined): Elem<FirewallSet>[] {
  const els: Elem<FirewallSet>[] = arrMap(containerIPs(prev), (c) => { const ip = ipOnly(c); return { family: 'inet', set: `fw_accept${familyOf(ip)!}`, key: ip }; });
  if (policy === 'isolated' && port) els.push({ family: 'bridge', set: 'icc_ports', key: `"${port}"` });
  return els;
}

const isolationElements = (br: string): Elem<FirewallSet>[] => [
  { family: 'inet', set: 'iso_bridges', key: `"${br}"` },
  { family: 'inet', set: 'iso_same', key: `"${br}" . "${br}"` },
];

function add(ctx: Ctx): Result {
  const prev = requirePrev(ctx.prevResult, 'firewall');
  const policy = ctx.conf.ingressPolicy || 'open';
  const t = tag(ctx.conf.name, ctx.env.containerId);
  const b = new NftBatch(FIREWALL_NFT);
  if (policy === 'open') {
    b.add(containerElements(prev, policy, undefined), t).run();
    return prev;
  }
  const nl = new Netlink();
  let side: { bridge?: string; port?: string };
  try { side = hostSide(nl, prev); } finally { nl.close(); }
  const bridge = side.bridge;
  if (!bridge) throw new CniError(ErrCode.InvalidConfig, `invalid network config: ingressPolicy "${policy}" needs a bridge in prevResult's interfaces`);
  if (policy === 'isolated' && !side.port) throw new CniError(ErrCode.InvalidConfig, 'invalid network config: ingressPolicy "isolated" needs the container\'s bridge port in prevResult\'s interfaces');
  // the bridge's isolation is shared by its members: added and counted under its lock
  b.add(isolationElements(bridge), bridgeTag(bridge)).add(containerElements(prev, policy, side.port), t);
  joinGroup('firewall', bridge, t, () => b.run());
  return prev;
}

function del(ctx: Ctx): void {
  const t = tag(ctx.conf.name, ctx.env.containerId);
  let bridge: string | undefined;
  if (ctx.prevResult) {
    const nl = new Netlink();
    try { bridge = hostSide(nl, ctx.prevResult).bridge; } finally { nl.close(); }
  }
  bridge ??= groupOf('firewall', t);
  if (!bridge) { removeContainer(t, FIREWALL_NFT); return; }
  // a bridge's isolation goes with its last member (the reference never removes it)
  leaveGroup('firewall', bridge, t, (last) => removeContainer(t, FIREWALL_NFT, last ? isolationElements(bridge) : []));
}

function check(ctx: Ctx): void {
  const prev = requirePrev(ctx.prevResult, 'firewall');
  const mine = findTagged(tag(ctx.conf.name, ctx.env.containerId), FIREWALL_NFT);
  for (const ip of arrMap(containerIPs(prev), ipOnly)) {
    if (!arrSome(mine, (e) => e.set === `fw_accept${familyOf(ip)}` && e.key === ip)) {
      throw new CniError(ErrCode.Plugin, `firewall: accept rule for ${ip} is missing`);
    }
  }
}

export const firewall: Plugin<FirewallConf> = { type: 'firewall', chained: true, config: configSchema('firewall', schema), add, del, check };
