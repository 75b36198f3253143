// vxlan-overlay's l2 mode (Docker's overlay): one L2 network across hosts. ADD takes the
// container's addresses from the network's subnets in etcd (cluster-wide, atomically), attaches
// it to this host's bridge as the bridge plugin does (the gateway answers on every host's
// bridge), puts the VXLAN device on that bridge, and gives the device a neighbour and an FDB
// entry per remote container (l2-host.ts). DEL gives the addresses back; the last on a host
// takes the device and the bridge with it.
import { CniError, ErrCode } from '../../shared/cni/errors.ts';
import { requestedIPs } from '../../shared/cni/args.ts';
import type { IPConfig, Result } from '../../shared/cni/result.ts';
import { joinGroup, leaveGroup } from '../../shared/os/members.ts';
import { Netlink } from '../../shared/netlink/socket.ts';
import { getLink, listLinks } from '../../shared/netlink/link.ts';
import { mark } from '../../shared/os/trace.ts';
import { arrFilter, arrMap, arrSome } from '../../shared/util/arrays.ts';
import { attach, containerMac, detach, verify } from '../local-bridge/attach.ts';
import type { BridgeConf } from '../local-bridge/config.ts';
import { bridgeNameOf, vxlanNameOf, type Ctx } from './config.ts';
import { allocate, type Endpoint, type EndpointSet } from './endpoints.ts';
import { logSkipped } from './checks.ts';
import { KIND, checkNetworkAvoids, hostOf, mtuOf, type Host } from './host.ts';
import {
  drainReleased, ensureL2Device, guessOf, hostLease, keyPrefixOf, listAttachments, readAttachment, readEndpoints, releaseAttachment, removeAttachment,
  retireL2, syncL2, writeAttachment,
} from './l2-host.ts';
import { poolHolding, poolsOf, type Pool } from './pools.ts';
import { checkSealable, networkKeys } from './sealing.ts';

const MAC = /^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/;
const attachmentId = (ctx: Ctx): string => `${ctx.env.containerId}/${ctx.env.ifname}`;

/** The bridge plugin's view of this attachment: the local bridge, the gateways, no IPAM (the addresses are given). */
function bridgeCtx(ctx: Ctx, pools: Pool[], mtu: number, mac: string | undefined) {
  const c = ctx.conf;
  const conf: BridgeConf = {
    cniVersion: c.cniVersion, name: c.name, type: 'bridge', bridge: bridgeNameOf(c), isGateway: true, isDefaultGateway: true,
    ipMasq: c.ipMasq ?? true, ipMasqExclude: arrMap(pools, (p) => p.subnet), mtu,
    ...(mac ? { runtimeConfig: { mac } } : {}), ...(c.dns ? { dns: c.dns } : {}),
  };
  return { ...ctx, conf, args: {}, stdin: JSON.stringify(conf) };
}

/** The result's addresses: each with its subnet's prefix and gateway. */
const ipConfigs = (eps: Endpoint[], pools: Pool[]): IPConfig[] => arrMap(eps, (e) => {
  const p = poolHolding(pools, e.ip)!;
  return { address: `${e.ip}/${p.net.prefix}`, gateway: p.gateway };
});

async function add(ctx: Ctx): Promise<Result> {
  const c = ctx.conf;
  const pools = poolsOf(c);
  const requested = requestedIPs(ctx);
  const mac = containerMac(ctx);
  if (mac !== undefined && !MAC.test(mac)) throw new CniError(ErrCode.InvalidConfig, `invalid MAC "${mac}" (CNI_ARGS MAC)`);
  const nl = new Netlink();
  try {
    const h = hostOf(c, nl);
    mark('host found');
    // the first container here: the network must not cover what the host reaches etcd and the world by
    if (!getLink(nl, vxlanNameOf(c))) {
      checkNetworkAvoids(c, h, arrMap(pools, (p) => p.subnet));
      checkSealable(c, h);
    }
    mark('device checked');
    const keys = await networkKeys(c, h);
    if (keys && !keys.length) throw new CniError(ErrCode.TryAgainLater, `encrypted: ${c.name} has no usable key in etcd yet: try again later`);
    const id = attachmentId(ctx);
    let eps: Endpoint[], read: EndpointSet;
    try {
      const lease = await hostLease(c, h, pools);
      mark('lease');
      ({ eps, read } = await allocate(h.etcd, keyPrefixOf(c, h), pools, { host: h.host, underlay: h.underlay.address, id, vni: c.vni }, requested, mac,
        guessOf(c, h, pools, id), lease, (chosen) => writeAttachment(h, { id, endpoints: chosen })));
    } catch (e) {
      // what was chosen goes back: now, or (etcd away, and a put may have reached it) later
      const away = e instanceof CniError && e.code === ErrCode.TryAgainLater && /unreachable/.test(e.message);
      const a = readAttachment(c, h, pools, id);
      if (a && away) writeAttachment(h, { ...a, released: true });
      else if (a) await releaseAttachment(c, h, a).catch(() => {});
      if (away) throw new CniError(ErrCode.TryAgainLater, `vxlan-overlay: etcd is unreachable, and ${c.name}'s addresses are allocated there: try again later (${e.message})`);
      throw e;
    }
    logSkipped(c.name, 'endpoint', read.skipped);
    mark('addresses held');
    const giveBack = async () => { await releaseAttachment(c, h, { id, endpoints: eps }).catch(() => removeAttachment(h, id)); };
    try {
      joinGroup(KIND, c.name, id, () => ensureL2Device(c, h));
    } catch (e) {
      await giveBack();
      throw e;
    }
    const bctx = bridgeCtx(ctx, pools, mtuOf(c, h), eps[0]!.mac);
    let result: Result;
    try {
      result = await attach(bctx, ipConfigs(eps, pools));
    } catch (e) {
      await leave(ctx, h);
      await giveBack();
      throw e;
    }
    try {
      mark('attached');
      syncL2(c, h, read, keys);
    } catch (e) {
      await detach(bctx).catch(() => {});
      await leave(ctx, h);
      await giveBack();
      throw e;
    }
    return result;
  } finally {
    nl.close();
  }
}

/** This attachment leaves the host's network; the last one takes the device, the bridge and the isolation with it. */
async function leave(ctx: Ctx, h: Host | undefined): Promise<void> {
  let last = false;
  leaveGroup(KIND, ctx.conf.name, attachmentId(ctx), (isLast) => { last = isLast; });
  if (last && h) retireL2(ctx.conf, h);
}

/** The pools of a config a DEL or GC got: what parses, else none (a DEL still removes what it can). */
function poolsOrNone(ctx: Ctx): Pool[] {
  try { return poolsOf(ctx.conf); } catch { return []; }
}

async function del(ctx: Ctx): Promise<void> {
  const c = ctx.conf;
  const pools = poolsOrNone(ctx);
  const nl = new Netlink();
  try {
    let h: Host | undefined;
    try { h = hostOf(c, nl); } catch { /* no underlay: still remove the container */ }
    await detach(bridgeCtx(ctx, pools, h ? mtuOf(c, h) : 1450, undefined));
    const a = h ? readAttachment(c, h, pools, attachmentId(ctx)) : undefined;
    if (h && a) await releaseAttachment(c, h, a);
    await leave(ctx, h);
  } finally {
    nl.close();
  }
}

async function check(ctx: Ctx): Promise<void> {
  const c = ctx.conf;
  const pools = poolsOf(c);
  const nl = new Netlink();
  try {
    const h = hostOf(c, nl);
    const a = readAttachment(c, h, pools, attachmentId(ctx));
    if (!a || a.released) throw new CniError(ErrCode.Plugin, `vxlan-overlay: this host holds no addresses for ${attachmentId(ctx)} on ${c.name}`);
    const vx = getLink(nl, vxlanNameOf(c)), br = getLink(nl, bridgeNameOf(c));
    if (vx?.kind !== 'vxlan') throw new CniError(ErrCode.Plugin, `vxlan-overlay: the vxlan device ${vxlanNameOf(c)} is missing`);
    if (!br || vx.master !== br.index) throw new CniError(ErrCode.Plugin, `vxlan-overlay: the vxlan device ${vx.name} is not on bridge ${bridgeNameOf(c)}`);
    await verify(bridgeCtx(ctx, pools, mtuOf(c, h), undefined));
    // renewed first: records that had lapsed are put back before they are looked for (etcd away: both skipped)
    await hostLease(c, h, pools).catch(() => undefined);
    const keys = await networkKeys(c, h).catch(() => undefined);
    const read = await readEndpoints(c, h, pools);
    if (read) {
      for (const e of a.endpoints) {
        if (!arrSome(read.endpoints, (x) => JSON.stringify(x) === JSON.stringify(e))) throw new CniError(ErrCode.Plugin, `vxlan-overlay: etcd no longer holds ${e.ip} for ${a.id}`);
      }
      syncL2(c, h, read, keys);
    }
  } finally {
    nl.close();
  }
}

/** GC: the addresses of attachments the runtime no longer has are given back; entries synced; an empty host leaves. */
async function gc(ctx: Ctx): Promise<void> {
  const c = ctx.conf;
  const pools = poolsOf(c);
  const valid = c['cni.dev/valid-attachments'];
  const nl = new Netlink();
  try {
    const h = hostOf(c, nl);
    if (valid) {
      const keep = new Set(arrMap(valid, (v) => `${v.containerID}/${v.ifname}`));
      for (const a of listAttachments(c, h, pools)) if (!a.released && !keep.has(a.id)) await releaseAttachment(c, h, a);
    }
    await drainReleased(c, h, pools);
    const br = getLink(nl, bridgeNameOf(c));
    const ports = br ? arrFilter(listLinks(nl), (l) => l.master === br.index && l.kind !== 'vxlan').length : 0;
    if (!ports && getLink(nl, vxlanNameOf(c))) retireL2(c, h);
    else {
      const keys = await networkKeys(c, h).catch(() => undefined);
      const read = await readEndpoints(c, h, pools);
      if (read) syncL2(c, h, read, keys);
    }
  } finally {
    nl.close();
  }
}

export const l2 = { add, del, check, gc };
