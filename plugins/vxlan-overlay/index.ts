// vxlan-overlay: one network across hosts. ADD leases this host's subnet in etcd (or keeps the
// one it holds), brings the host's VXLAN device and peer entries in line with one etcd read,
// then attaches the container to the local bridge exactly as the bridge plugin does (its code,
// in-process, with host-local on the leased subnet). The last DEL on a host removes the device
// and the bridge and releases the lease. Without etcd, a host that holds a lease goes on (its
// last synced peers are on disk); a host that needs a new lease gets code 11.
import { CniError, ErrCode } from '../../shared/cni/errors.ts';
import type { Plugin } from '../../shared/cni/plugin.ts';
import type { Result } from '../../shared/cni/result.ts';
import { readFile } from '../../shared/os/fs.ts';
import { shortHash } from '../../shared/util/hash.ts';
import { joinGroup, leaveGroup, kindDir } from '../../shared/os/members.ts';
import { join } from '../../shared/util/path.ts';
import { Netlink } from '../../shared/netlink/socket.ts';
import { getLink, listLinks } from '../../shared/netlink/link.ts';
import { NftBatch, tag } from '../nft-state/batch.ts';
import { findTagged, removeContainer } from '../nft-state/elements.ts';
import { bridge } from '../bridge/index.ts';
import { mark } from '../../shared/os/trace.ts';
import type { BridgeConf } from '../bridge/config.ts';
import { DEFAULT_DATA_DIR, DEFAULT_PREFIX, bridgeNameOf, overlayConfig, validateOverlay, vxlanNameOf, type Ctx, type OverlayConf } from './config.ts';
import { VXLAN_OVERHEAD, applyPeers, ensureVxlan, findUnderlay, teardown, vtepMac, type Underlay } from './dataplane.ts';
import { Etcd } from './etcd.ts';
import { acquire, leasePrefix, parseLeases, peersOf, release, type Lease, type Peer } from './lease.ts';
import { readState, statePaths, withStateLock, writeState } from './state.ts';
import { arrFilter, arrMap, arrSome } from '../../shared/util/arrays.ts';

const KIND = 'vxlan-overlay';

/** This host, stably across restarts and reboots: the machine's ID and its underlay address. */
function hostId(underlay: string): string {
  let id = '';
  try { id = readFile('/etc/machine-id').trim(); } catch { /* none */ }
  return `${id || 'no-machine-id'}/${underlay}`;
}

interface Host { nl: Netlink; underlay: Underlay; host: string; mac: string; paths: ReturnType<typeof statePaths>; etcd: Etcd; prefix: string }

function hostOf(c: OverlayConf, nl: Netlink): Host {
  const underlay = findUnderlay(nl, c.underlayInterface, c.underlayAddress);
  const host = hostId(underlay.address);
  return { nl, underlay, host, mac: vtepMac(host, c.vni), paths: statePaths(c.dataDir || DEFAULT_DATA_DIR, c.name, host), etcd: new Etcd(c.etcd), prefix: c.etcd.prefix ?? DEFAULT_PREFIX };
}

/** Every lease of the network (one read), or undefined when etcd cannot be reached. */
async function readLeases(c: OverlayConf, h: Host): Promise<Lease[] | undefined> {
  try { return parseLeases((await h.etcd.range(leasePrefix(h.prefix, c.name))).kvs); } catch (e) {
    if (e instanceof CniError && e.code === ErrCode.TryAgainLater) return undefined;
    throw e;
  }
}

const mtuOf = (c: OverlayConf, h: Host): number => c.mtu ?? h.underlay.mtu - VXLAN_OVERHEAD;

/**
 * Bring the host's peer entries (and the state file) in line with the leases; nothing when this
 * host has no device (unless `make`). Only the differences from the last sync are written,
 * unless the device is new or `verify` asks for every entry again (CHECK).
 */
export function applySync(c: OverlayConf, h: Host, lease: Lease, peers: Peer[], make: boolean, verify = false): void {
  withStateLock(h.paths, () => {
    const state = readState(h.paths);
    let dev = getLink(h.nl, vxlanNameOf(c));
    if (!dev && !make) return;
    let all = verify;
    // a device that is there and up is taken as made (CHECK verifies it all again)
    if (make && (!dev || verify || !(dev.flags & 1))) {
      const v = ensureVxlan(h.nl, { name: vxlanNameOf(c), vni: c.vni, port: c.port ?? 4789, underlay: h.underlay, mac: h.mac, mtu: mtuOf(c, h), subnet: lease.subnet });
      dev = v.link;
      if (v.created || verify) { isolate(c); all = true; }
    }
    applyPeers(h.nl, dev!.index, state.peers, peers, all);
    if (all || JSON.stringify(state) !== JSON.stringify({ lease, peers })) writeState(h.paths, { lease, peers });
  });
}

/** host-local's data directory for this host's leases on the network. */
const ipamDir = (c: OverlayConf, host: string): string => join(statePaths(c.dataDir || DEFAULT_DATA_DIR, c.name, host).dir, `ipam-${shortHash(host, 8)}`);

/** The bridge plugin's view of this attachment: the local bridge, the gateway, host-local on the lease. */
function bridgeCtx(ctx: Ctx, host: string, subnet: string, mtu: number) {
  const c = ctx.conf;
  const conf: BridgeConf = {
    cniVersion: c.cniVersion, name: c.name, type: 'bridge', bridge: bridgeNameOf(c), isGateway: true, isDefaultGateway: true,
    ipMasq: c.ipMasq ?? true, ipMasqExclude: [c.subnet], mtu,
    ipam: c.ipam?.type ? c.ipam : { type: 'host-local', ranges: [[{ subnet }]], dataDir: ipamDir(c, host) } as BridgeConf['ipam'],
  };
  return { ...ctx, conf, stdin: JSON.stringify(conf) };
}

/**
 * This network's interfaces on the host forward only to each other: another overlay (or a
 * bridge network routed by the same host) is not reached through them. Once per host.
 */
function isolate(c: OverlayConf): void {
  const t = hostTag(c);
  if (findTagged(t, 'vxlan-overlay').length) return;
  const br = bridgeNameOf(c), vx = vxlanNameOf(c);
  const q = (n: string) => `"${n}"`;
  new NftBatch().add([
    { family: 'inet', set: 'ov_ifaces', key: q(br) }, { family: 'inet', set: 'ov_ifaces', key: q(vx) },
    ...arrMap([[br, vx], [vx, br], [br, br], [vx, vx]], ([a, b]) => ({ family: 'inet' as const, set: 'ov_same', key: `${q(a!)} . ${q(b!)}` })),
  ], t).run();
}
const hostTag = (c: OverlayConf): string => tag(c.name, 'vxlan-overlay-host');

const memberTag = (ctx: Ctx): string => `${ctx.env.containerId}/${ctx.env.ifname}`;

async function add(ctx: Ctx): Promise<Result> {
  const c = ctx.conf;
  const { hostLen } = validateOverlay(c);
  const nl = new Netlink();
  try {
    const h = hostOf(c, nl);
    mark('underlay found');
    const leases = await readLeases(c, h);
    mark('leases read');
    const state = readState(h.paths);
    let lease: Lease;
    const fresh = !!leases && !arrSome(leases, (l) => l.host === h.host);
    if (leases) lease = await acquire(h.etcd, h.prefix, c.name, c.subnet, hostLen, { host: h.host, underlay: h.underlay.address, mac: h.mac, vni: c.vni }, leases);
    else if (state.lease?.host === h.host) lease = state.lease;
    else throw new CniError(ErrCode.TryAgainLater, `vxlan-overlay: etcd is unreachable and this host holds no lease on ${c.name} yet: try again later`);
    const peers = leases ? peersOf(leases, h.host, c.vni) : state.peers;
    mark('lease held');
    try {
      joinGroup(KIND, c.name, memberTag(ctx), () => applySync(c, h, lease, peers, true));
    } catch (e) {
      if (fresh) await release(h.etcd, h.prefix, c.name, lease).catch(() => false);
      throw e;
    }
    try {
      return await bridge.add(bridgeCtx(ctx, h.host, lease.subnet, mtuOf(c, h)));
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

/**
 * The host leaves the network: its device and bridge (and isolation) go, its peers are
 * forgotten, and the lease it held is given back; when etcd cannot be reached the lease stays
 * in the state file (for a later GC) and this throws.
 */
async function retire(c: OverlayConf, h: Host): Promise<void> {
  const { lease } = withStateLock(h.paths, () => {
    teardown(h.nl, vxlanNameOf(c), bridgeNameOf(c));
    removeContainer(hostTag(c), 'vxlan-overlay');
    return readState(h.paths);
  });
  try {
    if (lease) await release(h.etcd, h.prefix, c.name, lease);
    withStateLock(h.paths, () => writeState(h.paths, { peers: [] }));
  } catch (e) {
    withStateLock(h.paths, () => writeState(h.paths, { lease, peers: [] }));
    throw e;
  }
}

async function del(ctx: Ctx): Promise<void> {
  const c = ctx.conf;
  const nl = new Netlink();
  try {
    let h: Host | undefined;
    try { h = hostOf(c, nl); } catch { /* no underlay: still remove the container */ }
    const state = h ? readState(h.paths) : { peers: [] };
    const subnet = state.lease?.subnet ?? c.subnet;
    const mtu = h ? mtuOf(c, h) : 1450;
    await bridge.del(bridgeCtx(ctx, h?.host ?? '', subnet, mtu));
    await leaveHost(ctx, h);
    if (h && state.lease && getLink(nl, vxlanNameOf(c))) {
      const leases = await readLeases(c, h);
      if (leases) applySync(c, h, state.lease, peersOf(leases, h.host, c.vni), false);
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
    await bridge.check(bridgeCtx(ctx, h.host, state.lease.subnet, mtuOf(c, h)));
    const leases = await readLeases(c, h);
    if (leases) {
      if (!arrSome(leases, (l) => l.host === h.host && l.subnet === state.lease!.subnet)) throw new CniError(ErrCode.Plugin, `vxlan-overlay: etcd no longer holds this host's lease of ${state.lease.subnet}`);
      applySync(c, h, state.lease, peersOf(leases, h.host, c.vni), true, true);
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
    else if (state.lease && leases) applySync(c, h, state.lease, peersOf(leases, h.host, c.vni), false);
  } finally {
    nl.close();
  }
}

/** The watcher's step: one etcd read, the peers applied (when this host is on the network). */
export async function resync(c: OverlayConf): Promise<void> {
  const nl = new Netlink();
  try {
    const h = hostOf(c, nl);
    const state = readState(h.paths);
    if (!state.lease || !getLink(nl, vxlanNameOf(c))) return;
    const leases = await readLeases(c, h);
    if (leases) applySync(c, h, state.lease, peersOf(leases, h.host, c.vni), false);
  } finally {
    nl.close();
  }
}

export const watcherDir = (): string => kindDir(KIND);

export const vxlanOverlay: Plugin<OverlayConf> = { type: 'vxlan-overlay', config: overlayConfig, add, del, check, gc, status: () => {} };
