// firewall (chained): per-container accepts as the reference adds them, and Docker's isolation:
// ingressPolicy "same-bridge" keeps bridges apart (Docker's isolation between networks),
// "isolated" also stops containers on one bridge talking to each other (--icc=false).
import * as z from 'zod/mini';
import { CniError, ErrCode } from '../../shared/cni/errors.ts';
import type { Context, Plugin } from '../../shared/cni/plugin.ts';
import { containerIPs, hostInterfaces, ipOnly, requirePrev } from '../../shared/cni/prev.ts';
import type { Result } from '../../shared/cni/result.ts';
import { baseShape } from '../../shared/cni/schema.ts';
import { familyOf } from '../../shared/ip.ts';
import { getLink, listLinks } from '../../shared/netlink/link.ts';
import { Netlink } from '../../shared/netlink/socket.ts';
import { NftBatch, tag } from '../../shared/nft.ts';
import { deleteTagged, findTagged, ourElements } from '../../shared/nft-tags.ts';

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

function add(ctx: Ctx): Result {
  const prev = requirePrev(ctx.prevResult, 'firewall');
  const policy = ctx.conf.ingressPolicy || 'open';
  const t = tag(ctx.conf.name, ctx.env.containerId);
  const b = new NftBatch();
  for (const fam of [4, 6] as const) {
    const ips = containerIPs(prev).map(ipOnly).filter((ip) => familyOf(ip) === fam);
    b.addElements('inet', `fw_accept${fam}`, ips.map((key) => ({ key })), t);
  }
  if (policy !== 'open') {
    const nl = new Netlink();
    let side: { bridge?: string; port?: string };
    try { side = hostSide(nl, prev); } finally { nl.close(); }
    if (!side.bridge) throw new CniError(ErrCode.InvalidConfig, `invalid network config: ingressPolicy "${policy}" needs a bridge in prevResult's interfaces`);
    b.addElements('inet', 'iso_bridges', [{ key: `"${side.bridge}"` }], bridgeTag(side.bridge));
    b.addElements('inet', 'iso_same', [{ key: `"${side.bridge}" . "${side.bridge}"` }], bridgeTag(side.bridge));
    if (policy === 'isolated') {
      if (!side.port) throw new CniError(ErrCode.InvalidConfig, 'invalid network config: ingressPolicy "isolated" needs the container\'s bridge port in prevResult\'s interfaces');
      b.addElements('bridge', 'icc_ports', [{ key: `"${side.port}"` }], t);
    }
  }
  b.run();
  return prev;
}

function del(ctx: Ctx): void {
  const all = ourElements();
  const b = deleteTagged(findTagged(tag(ctx.conf.name, ctx.env.containerId), all));
  // a bridge's isolation goes with its last container (the reference never removes it)
  const nl = new Netlink();
  try {
    const mine = new Set((ctx.prevResult ? hostInterfaces(ctx.prevResult) : []).map((i) => i.name));
    const links = listLinks(nl);
    for (const e of all.filter((x) => x.set === 'iso_bridges')) {
      const br = e.key.replace(/"/g, '');
      const l = links.find((x) => x.name === br);
      const others = l ? links.filter((x) => x.master === l.index && !mine.has(x.name)) : [];
      if (!others.length) {
        b.deleteElements('inet', 'iso_bridges', [{ key: `"${br}"` }]).deleteElements('inet', 'iso_same', [{ key: `"${br}" . "${br}"` }]);
      }
    }
  } finally {
    nl.close();
  }
  b.run();
}

function check(ctx: Ctx): void {
  const prev = requirePrev(ctx.prevResult, 'firewall');
  const mine = findTagged(tag(ctx.conf.name, ctx.env.containerId));
  for (const ip of containerIPs(prev).map(ipOnly)) {
    if (!mine.some((e) => e.set === `fw_accept${familyOf(ip)}` && e.key === ip)) {
      throw new CniError(ErrCode.Plugin, `firewall: accept rule for ${ip} is missing`);
    }
  }
}

export const firewall: Plugin<FirewallConf> = { type: 'firewall', schema, add, del, check };
