// A container attached to a local Linux bridge, the steps of Docker's bridge networks: the
// bridge, a veth pair per container (its container end created directly inside the
// container's namespace, the host end on the bridge), the gateway address on the bridge,
// masquerade and MAC spoof checks by nftables elements. The bridge plugin is this; the
// vxlan-overlay attaches its containers to its local bridge with it.
import { configureInterface, ipsFor, verifyInterface } from '../../shared/cni/configure.ts';
import { CniError, ErrCode } from '../../shared/cni/errors.ts';
import { checkIpam, runIpam } from '../../ipam/delegate.ts';
import { inNetnsIfPresent, openContainerNetns } from '../../shared/cni/netns.ts';
import type { Context } from '../../shared/cni/plugin.ts';
import type { IPConfig, Result } from '../../shared/cni/result.ts';
import { Rollback } from '../../shared/cni/rollback.ts';
import { bigToString, familyOf, parseCIDR, subnetOf, subnetString } from '../../shared/util/ip.ts';
import { addAddress, deleteAddress, listAddresses } from '../../shared/netlink/addr.ts';
import { addLink, deleteLink, getLink, listLinks, requireLink, setBridgePort, setLink, type Link } from '../../shared/netlink/link.ts';
import { Netlink } from '../../shared/netlink/socket.ts';
import type { Elem } from '../nft-state/owner.ts';
import { BRIDGE_NFT, type BridgeSet } from './nft.ts';
import { setIn } from '../../shared/os/sysctl.ts';
import { mark } from '../../shared/os/trace.ts';
import { bridgeName, validateBridge, type BridgeConf } from './config.ts';
import { hostVethName } from './name.ts';
import { arrFilter, arrFind, arrMap, arrSome } from '../../shared/util/arrays.ts';

// the nftables state is loaded only by a network that has some (ipMasq, macspoofchk)
const nft = async () => {
  const [{ NftBatch, tag }, { findTagged, removeContainer }] = await Promise.all([import('../nft-state/batch.ts'), import('../nft-state/elements.ts')]);
  return { NftBatch, tag, findTagged, removeContainer };
};

export type Ctx = Context<BridgeConf>;

/** A random locally administered unicast MAC (02:xx:...). */
function bridgeMac(): string {
  let m = '02';
  for (let i = 0; i < 5; i++) m += `:${((Math.random() * 256) | 0).toString(16).padStart(2, '0')}`;
  return m;
}

function ensureBridge(nl: Netlink, c: BridgeConf, rb: Rollback): Link {
  const name = bridgeName(c);
  let br = getLink(nl, name);
  if (!br) {
    try {
      // a MAC of its own, as Docker gives its bridges: one the kernel chose would follow the lowest
      // port's, changing as containers come and go, and every container's cached gateway entry
      // would then point at an address the bridge no longer takes for the host
      addLink(nl, { name, mac: bridgeMac(), spec: { kind: 'bridge' }, ...(c.mtu ? { mtu: c.mtu } : {}) });
      // made by this ADD: a failure later takes it away again, unless a racing ADD has a port on it
      rb.push(() => {
        const links = listLinks(nl);
        const mine = arrFind(links, (l) => l.name === name && l.kind === 'bridge');
        if (mine && !arrSome(links, (l) => l.master === mine.index)) deleteLink(nl, mine.index);
      });
    } catch (e) {
      if ((e as { code?: string }).code !== 'EEXIST') throw new CniError(ErrCode.Plugin, `could not create bridge "${name}": ${(e as Error).message}`);
      // another ADD created it first: fine
    }
    br = requireLink(nl, name);
  }
  if (br.kind !== 'bridge') throw new CniError(ErrCode.InvalidConfig, `invalid network config: bridge "${name}" already exists but is not a bridge (it is ${br.kind ?? 'a plain device'})`);
  if (c.promiscMode) setLink(nl, br.index, { promisc: true });
  if (!(br.flags & 1)) setLink(nl, br.index, { up: true });
  return br;
}

/** The MAC a runtime asks for: the `mac` capability, args.cni.mac or CNI_ARGS MAC=. */
export const containerMac = (ctx: { conf: { runtimeConfig?: { mac?: unknown }; args?: { cni?: { mac?: unknown } } }; args: Record<string, string> }): string | undefined => {
  const m = ctx.conf.runtimeConfig?.mac ?? ctx.conf.args?.cni?.mac ?? ctx.args.MAC;
  return typeof m === 'string' ? m : undefined;
};

/** Gateways (default: first address of the subnet) and default routes, as the reference computes them. */
function completeGateways(c: BridgeConf, r: Result): { gw: string; prefix: number }[] {
  const gws: { gw: string; prefix: number }[] = [];
  if (!c.isGateway && !c.isDefaultGateway) return gws;
  const seenDefault = new Set(arrMap(arrFilter(r.routes ?? [], (rt) => rt.dst.endsWith('/0')), (rt) => familyOf(rt.dst.split('/')[0]!)));
  for (const ip of r.ips ?? []) {
    const net = parseCIDR(ip.address)!;
    const sub = subnetOf(net);
    ip.gateway ??= bigToString(sub.first + 1n, sub.family);
    gws.push({ gw: ip.gateway, prefix: net.prefix });
    if (c.isDefaultGateway && !seenDefault.has(sub.family)) {
      seenDefault.add(sub.family);
      (r.routes ??= []).push({ dst: sub.family === 4 ? '0.0.0.0/0' : '::/0', gw: ip.gateway });
    }
  }
  return gws;
}

function ensureGatewayAddress(nl: Netlink, br: Link, gw: string, prefix: number, force: boolean): void {
  const family = familyOf(gw)!;
  const want = subnetOf(parseCIDR(`${gw}/${prefix}`)!);
  for (const a of listAddresses(nl, { index: br.index, family })) {
    if (a.ip === gw) return;
    if (a.scope === 253 || a.ip.startsWith('fe80:')) continue;   // link-local
    const have = subnetOf(parseCIDR(a.cidr)!);
    if (have.first === want.first && have.prefix === want.prefix) {
      if (!force) throw new CniError(ErrCode.Plugin, `bridge "${br.name}" already has an IP address ${a.cidr} different from ${gw}/${prefix} in ${subnetString(want)} (set forceAddress to replace it)`);
      deleteAddress(nl, { index: br.index, cidr: a.cidr });
    }
  }
  try {
    addAddress(nl, { index: br.index, cidr: `${gw}/${prefix}`, nodad: true, broadcast: true });
  } catch (e) {
    if ((e as { code?: string }).code !== 'EEXIST') throw e;   // a racing ADD added it
  }
}

/** nftables elements for this container: masquerade and MAC spoof check. */
function containerElements(c: BridgeConf, hostVeth: string, ips: IPConfig[], mac: string | undefined): Elem<BridgeSet>[] {
  const els: Elem<BridgeSet>[] = [];
  if (c.ipMasq) {
    for (const ip of ips) {
      const addr = ip.address.split('/')[0]!;
      const fam = familyOf(addr)!;
      els.push({ family: 'inet', set: `masq_src${fam}`, key: addr });
      // never masqueraded: its own subnet and the excluded ones; a subnet inside another is
      // left out (an interval set refuses overlapping elements)
      const skip = [subnetOf(parseCIDR(ip.address)!), ...arrFilter(arrMap(c.ipMasqExclude ?? [], (x) => subnetOf(parseCIDR(x)!)), (x) => x.family === fam)];
      const inside = (a: typeof skip[number], b: typeof skip[number]) => b.prefix <= a.prefix && a.first >= b.first && a.last <= b.last;
      const kept = arrFilter(skip, (a, i) => !arrSome(skip, (b, j) => j !== i && inside(a, b) && (!inside(b, a) || j < i)));
      for (const sub of kept) els.push({ family: 'inet', set: `masq_skip${fam}`, key: `${addr} . ${subnetString(sub)}` });
    }
  }
  if (c.macspoofchk && mac) {
    els.push({ family: 'bridge', set: 'spoof_ports', key: `"${hostVeth}"` }, { family: 'bridge', set: 'spoof_ok', key: `"${hostVeth}" . ${mac}` });
  }
  return els;
}

/**
 * ADD: the bridge, the veth pair, the container's addresses and routes, the gateway, masquerade.
 * `given`: addresses allocated by the caller (the overlay's cluster-wide ones) instead of IPAM.
 */
export async function attach(ctx: Ctx, given?: IPConfig[]): Promise<Result> {
  const c = ctx.conf;
  // everything that can be known to fail is checked before the first change
  validateBridge(c, ctx.env.ifname);
  if (c.vlan || c.vlanTrunk?.length) {
    throw new CniError(ErrCode.UnsupportedField, 'vlan/vlanTrunk need bridge VLAN filtering, which this kernel does not support (CONFIG_BRIDGE_VLAN_FILTERING)');
  }
  await checkIpam(ctx);
  const host = new Netlink();
  const ns = openContainerNetns(ctx.env.netns);
  try {
    return await Rollback.guard(async (rb) => {
      const br = ensureBridge(host, c, rb);
      mark('bridge ready');
      const ipam = given ? { cniVersion: ctx.version, ips: given } : await runIpam('ADD', ctx);
      mark('ipam done');
      if (ipam && !given) rb.push(async () => { await runIpam('DEL', ctx); });
      const result: Result = { cniVersion: ctx.version, ...(ipam ?? {}) };
      const gws = completeGateways(c, result);

      // the veth pair: host end on the bridge, container end created inside the container
      const hostName = hostVethName(ctx.env.containerId, ctx.env.ifname, c.name);
      const mac = containerMac(ctx);
      // one message: the pair, the host end up (and, echoed, the host end); it joins the bridge
      // once the container end is up (below). One queue each way on both ends, as veths had
      // before kernel 6.7: the kernel's default (a queue per CPU, then cut to one) waits for two
      // RCU grace periods under RTNL.
      const create = () => addLink(host, {
        name: hostName, spec: { kind: 'veth', peer: { name: ctx.env.ifname, nsFd: ns.fd, queues: 1, ...(mac ? { mac } : {}), ...(c.mtu ? { mtu: c.mtu } : {}) } },
        ...(c.mtu ? { mtu: c.mtu } : {}), queues: 1, up: true,
      }, true);
      let made: Link | undefined;
      try {
        try {
          made = create();
        } catch (e) {
          // the host end's name is this attachment's: one left by an earlier, interrupted ADD
          // of it goes, and the pair is made again (otherwise: the container's name is taken)
          const stale = (e as { code?: string }).code === 'EEXIST' ? getLink(host, hostName) : undefined;
          if (!stale) throw e;
          deleteLink(host, stale.index);
          made = create();
        }
      } catch (e) {
        const code = (e as { code?: string }).code;
        throw new CniError(ErrCode.Plugin, code === 'EEXIST'
          ? `container interface "${ctx.env.ifname}" already exists in ${ctx.env.netns}`
          : `could not create the veth pair: ${(e as Error).message}`);
      }
      rb.push(() => { const l = getLink(host, hostName); if (l) deleteLink(host, l.index); });
      mark('veth made');
      const hv = made ?? requireLink(host, hostName);

      // the container end
      const cnl = ns.netlink();
      let ctr: Link;
      try {
        result.interfaces = [{ name: br.name, mac: br.mac ?? '' }, { name: hostName, mac: hv.mac ?? '' }, { name: ctx.env.ifname, sandbox: ctx.env.netns }];
        for (const ip of result.ips ?? []) ip.interface = 2;
        ctr = configureInterface(ns, cnl, ctx.env.ifname, result, { dad: !!c.enabledad, down: !!c.disableContainerInterface });
      } finally {
        cnl.close();
      }
      mark('container side configured');
      // the host end joins the bridge only now: the container end's first IPv6 multicast (MLD,
      // sent as its carrier comes up) went to the host end alone, not flooded to every port
      setLink(host, hv.index, { master: br.index });
      // a new port has hairpin and isolation off
      if (c.hairpinMode || c.portIsolation) setBridgePort(host, hv.index, { ...(c.hairpinMode ? { hairpin: true } : {}), ...(c.portIsolation ? { isolated: true } : {}) });
      mark('port joined');
      result.interfaces[2]!.mac = ctr.mac ?? '';
      if (c.mtu) result.interfaces[2]!.mtu = c.mtu;

      // the gateway side
      if (gws.length) {
        for (const g of gws) ensureGatewayAddress(host, br, g.gw, g.prefix, !!c.forceAddress);
        const fwd: [string, string][] = [];
        if (arrSome(gws, (g) => familyOf(g.gw) === 4)) fwd.push(['net/ipv4/ip_forward', '1']);
        if (arrSome(gws, (g) => familyOf(g.gw) === 6)) fwd.push(['net/ipv6/conf/all/forwarding', '1']);
        setIn(undefined, fwd);
      }
      const brNow = requireLink(host, br.index);
      result.interfaces[0]!.mac = brNow.mac ?? '';

      const els = containerElements(c, hostName, result.ips ?? [], ctr.mac);
      if (els.length) {
        const { NftBatch, tag, removeContainer } = await nft();
        new NftBatch(BRIDGE_NFT).add(els, tag(c.name, ctx.env.containerId)).run();
        rb.push(() => removeContainer(tag(c.name, ctx.env.containerId), BRIDGE_NFT));
      }
      if (c.dns && Object.keys(c.dns).length) result.dns = c.dns;
      return result;
    });
  } finally {
    ns.close();
    host.close();
  }
}

/** DEL: this attachment's elements, addresses and veth; the bridge stays (as the reference leaves it). */
export async function detach(ctx: Ctx): Promise<void> {
  const c = ctx.conf;
  // rules go even when the netns is already gone (the reference leaks them then); first, so
  // that the kernel frees them while the address and the veth go
  if (c.ipMasq || c.macspoofchk) { const { tag, removeContainer } = await nft(); removeContainer(tag(c.name, ctx.env.containerId), BRIDGE_NFT); }
  await runIpam('DEL', ctx);
  const removed = inNetnsIfPresent(ctx.env.netns, (_ns, nl) => {
    const l = getLink(nl, ctx.env.ifname);
    if (l?.kind === 'veth') deleteLink(nl, l.index);   // only what bridge makes (never lo)
    return !!l;
  });
  if (!removed) {
    const host = new Netlink();
    try {
      const l = getLink(host, hostVethName(ctx.env.containerId, ctx.env.ifname, c.name));
      if (l) deleteLink(host, l.index);
    } finally { host.close(); }
  }
}

/** CHECK: the bridge, the veth on it, the container's interface as prevResult says, masquerade. */
export async function verify(ctx: Ctx): Promise<void> {
  const c = ctx.conf;
  const prev = ctx.prevResult;
  if (!prev) throw new CniError(ErrCode.InvalidConfig, 'invalid network config: CHECK needs prevResult');
  await runIpam('CHECK', ctx);
  const host = new Netlink();
  const ns = openContainerNetns(ctx.env.netns);
  try {
    const br = getLink(host, bridgeName(c));
    if (!br || br.kind !== 'bridge') throw new CniError(ErrCode.Plugin, `bridge "${bridgeName(c)}" is missing`);
    const nl = ns.netlink();
    try {
      const ctr = getLink(nl, ctx.env.ifname);
      if (!ctr) throw new CniError(ErrCode.Plugin, `container interface "${ctx.env.ifname}" is missing`);
      if (ctr.kind !== 'veth') throw new CniError(ErrCode.Plugin, `container interface "${ctx.env.ifname}" is a ${ctr.kind ?? 'device'}, not a veth`);
      const hv = getLink(host, hostVethName(ctx.env.containerId, ctx.env.ifname, c.name)) ?? (ctr.parent ? getLink(host, ctr.parent) : undefined);
      if (!hv || hv.master !== br.index) throw new CniError(ErrCode.Plugin, `the host end of "${ctx.env.ifname}" is not on bridge "${br.name}"`);
      verifyInterface(nl, ctr, prev, ctx.env.ifname, ctx.env.netns);
    } finally { nl.close(); }
    if (c.ipMasq) {
      const { tag, findTagged } = await nft();
      const mine = findTagged(tag(c.name, ctx.env.containerId), BRIDGE_NFT);
      for (const ip of ipsFor(prev, ctx.env.ifname, ctx.env.netns)) {
        const addr = ip.address.split('/')[0]!;
        if (!arrSome(mine, (e) => e.set === `masq_src${familyOf(addr)}` && e.key === addr)) throw new CniError(ErrCode.Plugin, `masquerade rule for ${ip.address} is missing`);
      }
    }
  } finally {
    ns.close();
    host.close();
  }
}
