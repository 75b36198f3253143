// vxlan-overlay's routed mode (flannel's model): ADD leases this host's subnet in etcd (or keeps
// the one it holds), brings the host's VXLAN device and peer entries in line with one etcd read
// (host.ts), then attaches the container to the local bridge as the bridge plugin does
// (plugins/local-bridge, in-process, with host-local on the leased subnet). The last DEL on a host removes the device
// and the bridge and releases the lease. Without etcd, a host that holds a lease goes on (its
// last synced peers are on disk); a host that needs a new lease gets code 11.
import { CniError, ErrCode } from '../../shared/cni/errors.ts';
import type { Result } from '../../shared/cni/result.ts';
import { shortHash } from '../../shared/util/hash.ts';
import { joinGroup, leaveGroup } from '../../shared/os/members.ts';
import { join } from '../../shared/util/path.ts';
import { Netlink } from '../../shared/netlink/socket.ts';
import { getLink, listLinks } from '../../shared/netlink/link.ts';
import { attach, detach, verify } from '../local-bridge/attach.ts';
import { mark } from '../../shared/os/trace.ts';
import type { BridgeConf } from '../local-bridge/config.ts';
import { DEFAULT_DATA_DIR, bridgeNameOf, validateOverlay, vxlanNameOf, type Ctx, type OverlayConf } from './config.ts';
import { checkSealable } from './sealing.ts';
import { KIND, applySync, checkNetworkAvoids, fitStateLease, fitStatePeers, hostOf, mtuOf, readLeases, retire, routedHostLease, type Host } from './host.ts';
import { acquire, peersOf, release, type Lease } from './lease.ts';
import { readState, statePaths } from './state.ts';
import { arrFilter, arrSome } from '../../shared/util/arrays.ts';

/** host-local's data directory for this host's leases on the network. */
const ipamDir = (c: OverlayConf, host: string): string => join(statePaths(c.dataDir || DEFAULT_DATA_DIR, c.name, host).dir, `ipam-${shortHash(host, 8)}`);

/** The bridge plugin's view of this attachment: the local bridge, the gateway, host-local on the lease. */
function bridgeCtx(ctx: Ctx, host: string, subnet: string, mtu: number) {
  const c = ctx.conf;
  const conf: BridgeConf = {
    cniVersion: c.cniVersion, name: c.name, type: 'bridge', bridge: bridgeNameOf(c), isGateway: true, isDefaultGateway: true,
    ipMasq: c.ipMasq ?? true, ipMasqExclude: [c.subnet!], mtu,
    ipam: c.ipam?.type ? c.ipam : { type: 'host-local', ranges: [[{ subnet }]], dataDir: ipamDir(c, host) } as BridgeConf['ipam'],
  };
  return { ...ctx, conf, stdin: JSON.stringify(conf) };
}

const memberTag = (ctx: Ctx): string => `${ctx.env.containerId}/${ctx.env.ifname}`;

async function add(ctx: Ctx): Promise<Result> {
  const c = ctx.conf;
  const { hostLen } = validateOverlay(c);
  const nl = new Netlink();
  try {
    const h = hostOf(c, nl);
    // the first container here: the network must not cover what the host reaches etcd and the world by
    if (!getLink(nl, vxlanNameOf(c))) {
      checkNetworkAvoids(c, h, [c.subnet!]);
      checkSealable(c, h);
    }
    mark('underlay found');
    const leases = await readLeases(c, h);
    mark('leases read');
    const state = readState(h.paths);
    let lease: Lease;
    // without etcd, the lease of the state file, if this host's and fit
    const kept = leases ? undefined : fitStateLease(c, h, state.lease);
    const fresh = !!leases && !arrSome(leases.leases, (l) => l.host === h.host);
    if (leases) lease = await acquire(h.etcd, h.prefix, c.name, c.subnet!, hostLen, { host: h.host, underlay: h.underlay.address, mac: h.mac, vni: c.vni }, leases, await routedHostLease(c, h));
    else if (kept) lease = kept;
    else throw new CniError(ErrCode.TryAgainLater, `vxlan-overlay: etcd is unreachable and this host holds no lease on ${c.name} yet: try again later`);
    const peers = leases ? peersOf(leases.leases, h.host, c.vni) : fitStatePeers(c, state.peers);
    mark('lease held');
    try {
      joinGroup(KIND, c.name, memberTag(ctx), () => applySync(c, h, lease, peers, true));
    } catch (e) {
      if (fresh) await release(h.etcd, h.prefix, c.name, lease).catch(() => false);
      throw e;
    }
    try {
      return await attach(bridgeCtx(ctx, h.host, lease.subnet, mtuOf(c, h)));
    } catch (e) {
      await leaveHost(ctx, h);
      throw e;
    }
  } finally {
    nl.close();
  }
}

/** This attachment leaves the host's overlay; the last one takes the device and bridge with it and releases the lease. */
async function leaveHost(ctx: Ctx, h: Host | undefined): Promise<void> {
  const c = ctx.conf;
  let last = false;
  leaveGroup(KIND, c.name, memberTag(ctx), (isLast) => { last = isLast; });
  if (!last || !h) return;
  try { await retire(c, h); } catch { /* etcd away: GC releases the lease later */ }
}

async function del(ctx: Ctx): Promise<void> {
  const c = ctx.conf;
  const nl = new Netlink();
  try {
    let h: Host | undefined;
    try { h = hostOf(c, nl); } catch { /* no underlay: still remove the container */ }
    const state = h ? readState(h.paths) : { peers: [] };
    const subnet = state.lease?.subnet ?? c.subnet ?? '0.0.0.0/32';
    const mtu = h ? mtuOf(c, h) : 1450;
    await detach(bridgeCtx(ctx, h?.host ?? '', subnet, mtu));
    await leaveHost(ctx, h);
    if (h && state.lease && getLink(nl, vxlanNameOf(c))) {
      const leases = await readLeases(c, h);
      if (leases) applySync(c, h, state.lease, peersOf(leases.leases, h.host, c.vni), false);
    }
  } finally {
    nl.close();
  }
}

async function check(ctx: Ctx): Promise<void> {
  const c = ctx.conf;
  validateOverlay(c);
  const nl = new Netlink();
  try {
    const h = hostOf(c, nl);
    const state = readState(h.paths);
    if (!state.lease) throw new CniError(ErrCode.Plugin, `vxlan-overlay: this host holds no lease on ${c.name}`);
    if (getLink(nl, vxlanNameOf(c))?.kind !== 'vxlan') throw new CniError(ErrCode.Plugin, `vxlan-overlay: the vxlan device ${vxlanNameOf(c)} is missing`);
    await verify(bridgeCtx(ctx, h.host, state.lease.subnet, mtuOf(c, h)));
    // renewed first: a lease that had lapsed is put back before it is looked for (etcd away: both skipped)
    await routedHostLease(c, h).catch(() => undefined);
    const leases = await readLeases(c, h);
    if (leases) {
      if (!arrSome(leases.leases, (l) => l.host === h.host && l.subnet === state.lease!.subnet)) throw new CniError(ErrCode.Plugin, `vxlan-overlay: etcd no longer holds this host's lease of ${state.lease.subnet}`);
      applySync(c, h, state.lease, peersOf(leases.leases, h.host, c.vni), true, true);
    }
  } finally {
    nl.close();
  }
}

/** GC: peers synced; a host with no container left on the network gives its lease back. */
async function gc(ctx: Ctx): Promise<void> {
  const c = ctx.conf;
  const nl = new Netlink();
  try {
    const h = hostOf(c, nl);
    const state = readState(h.paths);
    const leases = await readLeases(c, h);
    const bridgeLink = getLink(nl, bridgeNameOf(c));
    const ports = bridgeLink ? arrFilter(listLinks(nl), (l) => l.master === bridgeLink.index).length : 0;
    if (!ports && state.lease && leases) await retire(c, h);
    else if (state.lease && leases) applySync(c, h, state.lease, peersOf(leases.leases, h.host, c.vni), false);
  } finally {
    nl.close();
  }
}

export const routed = { add, del, check, gc };
