// This host's part of an overlay network: who it is (machine ID and underlay address), the
// lease it holds, its VXLAN device and peer entries brought in line with etcd's leases, its
// isolation elements, and its leaving. Used by the plugin's calls and by the sync process, which
// carries none of the container attachment's code.
import { CniError, ErrCode } from '../../shared/cni/errors.ts';
import { withStateLock } from '../../shared/os/state.ts';
import { Netlink } from '../../shared/netlink/socket.ts';
import { getLink } from '../../shared/netlink/link.ts';
import { NftBatch, tag } from '../nft-state/batch.ts';
import { findTagged, removeContainer } from '../nft-state/elements.ts';
import { DEFAULT_DATA_DIR, DEFAULT_PREFIX, bridgeNameOf, portOf, validateOverlay, vxlanNameOf, type OverlayConf } from './config.ts';
import { ESP_OVERHEAD, VXLAN_OVERHEAD, applyPeers, ensureVxlan, findUnderlay, teardown, vtepMac, type Underlay } from './dataplane.ts';
import { Etcd } from '../cluster/etcd.ts';
import { keyOf, leasePrefix, parseLeases, peersOf, release, unfitPeer, type Lease, type LeaseSet, type Peer } from './lease.ts';
import { clusterHost, leaseIdOf, putBackKey, renewLease } from '../cluster/lease.ts';
import { OVERLAY_NFT, type OverlaySet } from './nft.ts';
import { registerNetwork, unregisterNetwork } from './registry.ts';
import { logSkipped } from './checks.ts';
import { readState, statePaths, writeState } from './state.ts';
import { arrFilter, arrFind, arrMap } from '../../shared/util/arrays.ts';
import { listRoutes } from '../../shared/netlink/route.ts';
import { parseCIDR, parseIP, subnetHolds, subnetOf, toBig } from '../../shared/util/ip.ts';

export { KIND } from './registry.ts';

export interface Host { nl: Netlink; underlay: Underlay; host: string; mac: string; paths: ReturnType<typeof statePaths>; etcd: Etcd; prefix: string }

export function hostOf(c: OverlayConf, nl: Netlink): Host {
  const underlay = findUnderlay(nl, c.underlayInterface, c.underlayAddress);
  const host = clusterHost(underlay.address);
  return { nl, underlay, host, mac: vtepMac(host, c.vni), paths: statePaths(c.dataDir || DEFAULT_DATA_DIR, c.name, host), etcd: new Etcd(c.etcd), prefix: c.etcd.prefix ?? DEFAULT_PREFIX };
}

/** Every lease of the network (one read), or undefined when etcd cannot be reached. Unfit ones are skipped and logged. */
export function readLeases(c: OverlayConf, h: Host): Promise<LeaseSet | undefined> {
  const keyPrefix = leasePrefix(h.prefix, c.name);
  return readChecked(c, 'lease', ': going on with this host\'s lease and peers as last synced', async () =>
    parseLeases((await h.etcd.range(keyPrefix)).kvs, { keyPrefix, network: c.subnet!, hostLen: validateOverlay(c).hostLen }));
}

/**
 * One read of the network's keys, parsed and checked by `read`: what it skipped is logged, and
 * etcd out of reach is undefined (logged, with `away` after the reason) rather than an error.
 */
export async function readChecked<T extends { skipped: string[] }>(c: OverlayConf, what: string, away: string, read: () => Promise<T>): Promise<T | undefined> {
  let got: T;
  try { got = await read(); } catch (e) {
    if (e instanceof CniError && e.code === ErrCode.TryAgainLater) {
      process.stderr.write(`vxlan-overlay: ${c.name}: ${e.message}${away}\n`);
      return undefined;
    }
    throw e;
  }
  logSkipped(c.name, what, got.skipped);
  return got;
}

/**
 * The overlay's subnets must not hold this host's underlay address, an etcd endpoint's address or
 * the host's default gateway: every address the overlay routes or answers for is inside them, so
 * nothing from etcd can then send those into the tunnel (and cut the host from etcd, where the
 * bad entry would have to be fixed).
 */
export function checkNetworkAvoids(c: OverlayConf, h: Host, subnets: string[]): void {
  // read with the underlay when it was found by the default route: not dumped twice
  const gw = h.underlay.defaultGateway !== undefined ? h.underlay.defaultGateway ?? undefined
    : arrFind(listRoutes(h.nl, { family: 4 }), (r) => r.dst === '0.0.0.0/0' && !!r.gw)?.gw;
  const named: [string, string | undefined][] = [['this host\'s underlay address', h.underlay.address], ['the default gateway', gw],
    ...arrMap(c.etcd.endpoints, (e): [string, string | undefined] => [`etcd endpoint ${e}`, hostOfUrl(e)])];
  for (const [what, addr] of named) {
    const ip = addr ? parseIP(addr) : undefined;
    if (!ip) continue;
    for (const s of subnets) {
      const net = subnetOf(parseCIDR(s)!);
      if (net.family === ip.family && subnetHolds(net, toBig(ip.bytes))) throw new CniError(ErrCode.InvalidConfig, `invalid network config: subnet ${s} holds ${what} (${addr}): it would be routed into the overlay`);
    }
  }
}

function hostOfUrl(u: string): string | undefined {
  try { return new URL(u).hostname.replace(/^\[|\]$/g, ''); } catch { return undefined; }
}

/**
 * The peers of the state file (what an ADD goes on with while etcd is unreachable), as far as
 * they are fit: a state file is read, not trusted, and an unfit entry is skipped and logged.
 */
export function fitStatePeers(c: OverlayConf, peers: Peer[]): Peer[] {
  const rules = { network: c.subnet!, hostLen: validateOverlay(c).hostLen };
  return arrFilter(peers, (p) => {
    const why = unfitPeer(p, rules);
    if (why) process.stderr.write(`vxlan-overlay: ${c.name}: state file peer skipped: ${why}\n`);
    return !why;
  });
}

/** The state file's lease, when it is this host's and fit to use. */
export const fitStateLease = (c: OverlayConf, h: Host, lease: Lease | undefined): Lease | undefined =>
  lease?.host === h.host && !unfitPeer(lease, { network: c.subnet!, hostLen: validateOverlay(c).hostLen }) ? lease : undefined;

/**
 * This host's etcd lease on the network (with `ttl`): its keys (l2: its records; routed: its
 * subnet's lease) go with it when the host stops renewing it (the sync process renews it every
 * third of the TTL; each call renews it too). Its ID is derived from the host and the network, so
 * every call on the host renews the same one without sharing a file or a lock; once it has
 * lapsed, the call that grants it again puts the host's keys back (`putBack`).
 */
export const renewHostLease = async (c: OverlayConf, h: Host, putBackAll: (id: string) => Promise<void>): Promise<string | undefined> =>
  (c.ttl ? renewLease(h.etcd, leaseIdOf(`${h.host}/${c.name}`), c.ttl, putBackAll) : undefined);

/** A key of this host's put back under lease `id`: where absent, or still holding its value; else (another host took it meanwhile) logged and left. */
export async function putBack(c: OverlayConf, h: Host, key: string, value: string, id: string, what: string): Promise<void> {
  if (await putBackKey(h.etcd, key, value, id)) return;
  process.stderr.write(`vxlan-overlay: ${c.name}: ${what} was taken by another host while this host's lease had lapsed\n`);
}

/** The overlay's MTU: what the underlay carries less VXLAN's header, and ESP's on an encrypted network, so no frame is fragmented. */
export const mtuOf = (c: OverlayConf, h: Host): number => c.mtu ?? h.underlay.mtu - VXLAN_OVERHEAD - (c.encrypted ? ESP_OVERHEAD : 0);

/**
 * Bring the host's peer entries (and the state file) in line with the leases; nothing when this
 * host has no device (unless `make`). Only the differences from the last sync are written,
 * unless the device is new or `verify` asks for every entry again (CHECK).
 */
export function applySync(c: OverlayConf, h: Host, lease: Lease, peers: Peer[], make: boolean, verify = false): void {
  withStateLock(h.paths.lock, () => {
    const state = readState(h.paths);
    let dev = getLink(h.nl, vxlanNameOf(c));
    if (!dev && !make) return;
    let all = verify;
    // a device that is there and up is taken as made (CHECK verifies it all again)
    if (make && (!dev || verify || !(dev.flags & 1))) {
      const v = ensureVxlan(h.nl, { name: vxlanNameOf(c), vni: c.vni, port: portOf(c), underlay: h.underlay, mac: h.mac, mtu: mtuOf(c, h), subnet: lease.subnet });
      dev = v.link;
      if (v.created || verify) { isolate(c); all = true; }
      registerNetwork(c);
    }
    applyPeers(h.nl, dev!.index, state.peers, peers, all);
    if (all || JSON.stringify(state) !== JSON.stringify({ lease, peers })) writeState(h.paths, { lease, peers });
  });
}

/**
 * This network's interfaces on the host forward only to each other: another overlay (or a
 * bridge network routed by the same host) is not reached through them. Once per host.
 */
export function isolate(c: OverlayConf): void {
  const t = hostTag(c);
  if (findTagged(t, OVERLAY_NFT).length) return;
  const br = bridgeNameOf(c), vx = vxlanNameOf(c);
  const q = (n: string) => `"${n}"`;
  new NftBatch(OVERLAY_NFT).add([
    { family: 'inet', set: 'ov_ifaces', key: q(br) }, { family: 'inet', set: 'ov_ifaces', key: q(vx) },
    ...arrMap([[br, vx], [vx, br], [br, br], [vx, vx]], ([a, b]) => ({ family: 'inet' as const, set: 'ov_same' as OverlaySet, key: `${q(a!)} . ${q(b!)}` })),
  ], t).run();
}
export const hostTag = (c: OverlayConf): string => tag(c.name, 'vxlan-overlay-host');

/**
 * The host leaves the network: its device and bridge (and isolation) go, its peers are
 * forgotten, and the lease it held is given back; when etcd cannot be reached the lease stays
 * in the state file (for a later GC) and this throws.
 */
export async function retire(c: OverlayConf, h: Host): Promise<void> {
  const { lease } = withStateLock(h.paths.lock, () => {
    teardown(h.nl, vxlanNameOf(c), bridgeNameOf(c));
    removeContainer(hostTag(c), OVERLAY_NFT);
    unregisterNetwork(c.name);
    return readState(h.paths);
  });
  try {
    if (lease) await release(h.etcd, h.prefix, c.name, lease);
    withStateLock(h.paths.lock, () => writeState(h.paths, { peers: [] }));
  } catch (e) {
    withStateLock(h.paths.lock, () => writeState(h.paths, { lease, peers: [] }));
    throw e;
  }
}

/** This host's etcd lease on a routed network: its subnet's lease (as the state file holds it) put back when it had lapsed. */
export const routedHostLease = (c: OverlayConf, h: Host): Promise<string | undefined> => renewHostLease(c, h, async (id) => {
  const { lease } = readState(h.paths);
  if (lease) await putBack(c, h, keyOf(h.prefix, c.name, lease.subnet), JSON.stringify(lease), id, `subnet ${lease.subnet}`);
});

/** The sync process's step: one etcd read, the peers applied (when this host is on the network). */
export async function resync(c: OverlayConf): Promise<void> {
  const nl = new Netlink();
  try {
    const h = hostOf(c, nl);
    const state = readState(h.paths);
    if (!state.lease || !getLink(nl, vxlanNameOf(c))) return;
    await routedHostLease(c, h);
    const leases = await readLeases(c, h);
    if (leases) applySync(c, h, state.lease, peersOf(leases.leases, h.host, c.vni), false);
  } finally {
    nl.close();
  }
}


