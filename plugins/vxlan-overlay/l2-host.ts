// The l2 mode's host side, without the container attachment's code (the sync process runs it too):
// the network's endpoints read from etcd and checked, this host's VXLAN device (on the local
// bridge, answering ARP and ND itself) holding exactly the remote endpoints' entries, and this
// host's attachments as kept on disk: the addresses each holds in etcd, so that a DEL or GC can
// give them back, later if etcd is away when the DEL comes.
import { CniError, ErrCode } from '../../shared/cni/errors.ts';
import { readDir, readStateFile, unlink } from '../../shared/os/fs.ts';
import { ensureDir, writeFileAtomic } from '../../shared/os/files.ts';
import { withStateLock } from '../../shared/os/state.ts';
import { getLink, setLink } from '../../shared/netlink/link.ts';
import { Netlink } from '../../shared/netlink/socket.ts';
import { removeContainer } from '../nft-state/elements.ts';
import { shortHash } from '../../shared/util/hash.ts';
import { join } from '../../shared/util/path.ts';
import { arrEvery, arrFilter } from '../../shared/util/arrays.ts';
import { bridgeNameOf, portOf, vxlanNameOf, type OverlayConf } from './config.ts';
import { ensureVxlan, syncEndpoints, teardown } from './dataplane.ts';
import { endpointPrefix, parseEndpoints, releaseAll, remoteOf, unfitEndpoint, type Endpoint, type EndpointSet } from './endpoints.ts';
import { hostOf, hostTag, isolate, mtuOf, putBack, readChecked, renewHostLease, type Host } from './host.ts';
import { OVERLAY_NFT } from './nft.ts';
import { registerNetwork, unregisterNetwork } from './registry.ts';
import { poolsOf, type Pool } from './pools.ts';
import type { IpsecKey } from './keys.ts';
import { networkKeys, seal, underlaysOf, unseal } from './sealing.ts';

export const keyPrefixOf = (c: OverlayConf, h: Host): string => endpointPrefix(h.prefix, c.name);

/** Every endpoint of the network (one read), or undefined when etcd cannot be reached. Unfit ones are skipped and logged. */
export function readEndpoints(c: OverlayConf, h: Host, pools: Pool[]): Promise<EndpointSet | undefined> {
  const keyPrefix = keyPrefixOf(c, h);
  return readChecked(c, 'endpoint', '', async () => parseEndpoints((await h.etcd.range(keyPrefix)).kvs, keyPrefix, pools));
}

/** This host's etcd lease on the network (host.ts), its attachments' records put back when it had lapsed. */
export const hostLease = (c: OverlayConf, h: Host, pools: Pool[]): Promise<string | undefined> => renewHostLease(c, h, async (id) => {
  const keyPrefix = keyPrefixOf(c, h);
  for (const a of listAttachments(c, h, pools)) {
    if (a.released) continue;
    for (const e of a.endpoints) await putBack(c, h, `${keyPrefix}${e.ip}`, JSON.stringify(e), id, `${e.ip} of ${a.id}`);
  }
});

/** The VXLAN device, made if missing (with the network's isolation), answering ARP and ND from its entries. */
export function ensureL2Device(c: OverlayConf, h: Host): void {
  withStateLock(h.paths.lock, () => {
    if (l2Device(c, h)) isolate(c);
    registerNetwork(c);
  });
}

/** The device alone, true when it was made; an encrypted network's IPsec policies first (until its states come, nothing crosses). */
export function l2Device(c: OverlayConf, h: Host): boolean {
  const sealed = c.encrypted && getLink(h.nl, vxlanNameOf(c))?.kind !== 'vxlan';
  if (sealed) seal(c, h, [], []);
  try {
    return ensureVxlan(h.nl, { name: vxlanNameOf(c), vni: c.vni, port: portOf(c), underlay: h.underlay, mac: h.mac, mtu: mtuOf(c, h), proxy: true }).created;
  } catch (e) {
    if (sealed) unseal(c);
    throw e;
  }
}

/**
 * The device on the local bridge, and its entries exactly the remote endpoints' (an encrypted
 * network's IPsec states for their hosts before them); nothing when this host has no device.
 */
export function syncL2(c: OverlayConf, h: Host, read: EndpointSet, keys: IpsecKey[] | undefined): void {
  withStateLock(h.paths.lock, () => {
    const vx = getLink(h.nl, vxlanNameOf(c));
    if (vx?.kind !== 'vxlan') return;
    const br = getLink(h.nl, bridgeNameOf(c));
    if (br?.kind === 'bridge' && vx.master !== br.index) setLink(h.nl, vx.index, { master: br.index });
    const remote = remoteOf(read.endpoints, h.host, c.vni);
    if (keys) seal(c, h, underlaysOf(remote), keys);
    syncEndpoints(h.nl, vx.index, remote);
    // what the next ADD here guesses is taken (guessOf)
    const seen = JSON.stringify([...read.taken]);
    let had = '';
    try { had = readStateFile(h.paths.seen, SEEN_MAX); } catch { /* none yet */ }
    if (had !== seen && seen.length <= SEEN_MAX) { ensureDir(h.paths.dir); writeFileAtomic(h.paths.seen, seen, h.paths.tmp); }
  });
}

const SEEN_MAX = 4 << 20;

/**
 * What an ADD here takes the network's records to be before it asks etcd: the addresses the last
 * sync here saw taken, and this attachment's own from an interrupted earlier ADD. Only a guess:
 * the allocating transaction checks it (endpoints.ts allocate).
 */
export function guessOf(c: OverlayConf, h: Host, pools: Pool[], id: string): EndpointSet {
  let taken: string[] = [];
  try {
    const t = JSON.parse(readStateFile(h.paths.seen, SEEN_MAX));
    if (Array.isArray(t)) taken = arrFilter(t, (x) => typeof x === 'string');
  } catch { /* none: a guess of nothing taken */ }
  const a = readAttachment(c, h, pools, id);
  return { endpoints: a && !a.released ? a.endpoints : [], taken: new Set(taken), skipped: [] };
}

/** The host leaves the network (its last attachment went): device, bridge and isolation. */
export function retireL2(c: OverlayConf, h: Host): void {
  withStateLock(h.paths.lock, () => {
    teardown(h.nl, vxlanNameOf(c), bridgeNameOf(c));
    unseal(c);
    removeContainer(hostTag(c), OVERLAY_NFT);
    unregisterNetwork(c.name);
  });
}

/** What this host remembers of an attachment: the endpoints it holds in etcd; `released` once its DEL came and etcd was away. */
export interface Attachment { id: string; endpoints: Endpoint[]; released?: boolean }

const attachmentFile = (h: Host, id: string): string => join(h.paths.attachments, `${shortHash(id, 16)}.json`);

/** An attachment's record, as far as it is well-formed (a state file is read, not trusted). */
function parseAttachment(text: string, keyPrefix: string, pools: Pool[]): Attachment | undefined {
  let a: any;
  try { a = JSON.parse(text); } catch { return undefined; }
  if (typeof a?.id !== 'string' || !Array.isArray(a.endpoints)) return undefined;
  if (!arrEvery(a.endpoints, (e: any) => !unfitEndpoint(`${keyPrefix}${e?.ip}`, e, keyPrefix, pools) && e.id === a.id)) return undefined;
  return { id: a.id, endpoints: a.endpoints, released: a.released === true };
}

/** The attachment record in `file`, when it is a regular file and well-formed. */
function readAttachmentFile(c: OverlayConf, h: Host, pools: Pool[], file: string): Attachment | undefined {
  try { return parseAttachment(readStateFile(file), keyPrefixOf(c, h), pools); } catch { return undefined; }
}

export function readAttachment(c: OverlayConf, h: Host, pools: Pool[], id: string): Attachment | undefined {
  const a = readAttachmentFile(c, h, pools, attachmentFile(h, id));
  return a?.id === id ? a : undefined;
}

export function listAttachments(c: OverlayConf, h: Host, pools: Pool[]): Attachment[] {
  let names: string[];
  try { names = readDir(h.paths.attachments); } catch { return []; }
  const out: Attachment[] = [];
  for (const n of names) {
    if (!n.endsWith('.json')) continue;
    const a = readAttachmentFile(c, h, pools, join(h.paths.attachments, n));
    if (a) out.push(a);
  }
  return out;
}

export function writeAttachment(h: Host, a: Attachment): void {
  ensureDir(h.paths.attachments);
  writeFileAtomic(attachmentFile(h, a.id), JSON.stringify(a), h.paths.tmp);
}

export function removeAttachment(h: Host, id: string): void {
  try { unlink(attachmentFile(h, id)); } catch { /* gone */ }
}

/** Give an attachment's addresses back in etcd; when etcd is away, keep it as released for a later call to finish. */
export async function releaseAttachment(c: OverlayConf, h: Host, a: Attachment): Promise<void> {
  try {
    await releaseAll(h.etcd, keyPrefixOf(c, h), a.endpoints);
    removeAttachment(h, a.id);
  } catch (e) {
    if (!(e instanceof CniError && e.code === ErrCode.TryAgainLater)) throw e;
    if (!a.released) writeAttachment(h, { ...a, released: true });
  }
}

/** Finish the releases that waited for etcd. */
export async function drainReleased(c: OverlayConf, h: Host, pools: Pool[]): Promise<void> {
  for (const a of listAttachments(c, h, pools)) if (a.released) await releaseAttachment(c, h, a);
}

/** The sync process's step for an l2 network: one etcd read, the entries applied (when this host is on the network). */
export async function resyncL2(c: OverlayConf): Promise<void> {
  const pools = poolsOf(c);
  const nl = new Netlink();
  try {
    const h = hostOf(c, nl);
    if (getLink(nl, vxlanNameOf(c))?.kind !== 'vxlan') return;
    await hostLease(c, h, pools);
    await drainReleased(c, h, pools);
    const keys = await networkKeys(c, h);
    const read = await readEndpoints(c, h, pools);
    if (read) syncL2(c, h, read, keys);
  } finally {
    nl.close();
  }
}
