// The records the resolver serves: one file per attachment, written atomically under the state
// lock by ADD, removed by DEL and GC, read by the resolver on every sync. Kept per host network
// namespace (the resolver of that namespace serves its containers), readable by root only:
//   <dir>/records/<network>/<containerID>:<ifname>   (":" never appears in either)
//   <dir>/containers/<containerID>   the resolver address each of its attachments was given
//   <dir>/lock  resolver.lock  resolver.pid  control.sock  resolver.log  .tmp/
import { lstat, readDir, readStateFile, rmdir, unlink } from '../../shared/os/fs.ts';
import { ensureDir, sweepTemps, writeFileAtomic } from '../../shared/os/files.ts';
import { kindDir } from '../../shared/os/members.ts';
import { join } from '../../shared/util/path.ts';
import { arrEvery, arrFilter, arrMap } from '../../shared/util/arrays.ts';
import type { EtcdSettings } from '../cluster/config.ts';

export interface Attachment {
  network: string;
  containerId: string;
  ifname: string;
  /** the container's netns path, and its cookie (the resolver checks the path still names it) */
  netns: string;
  cookie: string;
  /** the address its resolver listens on in the container (LISTEN_ADDRESS and up) */
  listen: string;
  name?: string;
  shortId: string;
  aliases: string[];
  links: { target: string; alias: string }[];
  ips: string[];
  domainName?: string;
  upstreams: string[];
  forward: boolean;
  /** the subnets of its addresses: a record from another host is answered only inside them */
  subnets?: string[];
  /** names across hosts: where the network's records are kept */
  cluster?: ClusterSettings;
  /** set on a record of another host's container (no netns, listener or links here) */
  remote?: string;
}

export interface ClusterSettings { etcd: EtcdSettings; ttl?: number }

/**
 * Where a container reaches the resolver, inside its own namespace: Docker's 127.0.0.11 for its
 * first network, 127.0.0.12 for a second one at the same time, and so on. Every address answers
 * the same (the union of the container's networks), but runtimes that write resolv.conf from
 * each network's result (podman) drop a network's nameservers when it is disconnected: a
 * shared address would leave the container without a resolver.
 */
export const LISTEN_ADDRESS = '127.0.0.11';
const LISTEN_BASE = 11, LISTEN_MAX = 250;

export const stateDir = (): string => kindDir('dns-hosts');
export const paths = (dir: string) => ({
  records: join(dir, 'records'),
  containers: join(dir, 'containers'),
  /** records change only under it (withStateLock); the resolver exits only under it */
  lock: join(dir, 'lock'),
  tmp: join(dir, '.tmp'),
  /** held by the supervisor for its life: one per directory */
  resolverLock: join(dir, 'resolver.lock'),
  /** held by the resolver it runs for its life: a restarted one waits for the last to be gone */
  serverLock: join(dir, 'server.lock'),
  /** the resolver serving now */
  pid: join(dir, 'resolver.pid'),
  supervisorPid: join(dir, 'supervisor.pid'),
  control: join(dir, 'control.sock'),
  log: join(dir, 'resolver.log'),
});

/** How a call names one record to the resolver. */
export const recordKey = (network: string, containerId: string, ifname: string): string => `${network}/${containerId}:${ifname}`;

const recordPath = (dir: string, network: string, containerId: string, ifname: string): string =>
  join(paths(dir).records, network, `${containerId}:${ifname}`);

export function writeRecord(dir: string, a: Attachment): void {
  const tmp = paths(dir).tmp;
  ensureDir(join(paths(dir).records, a.network));
  writeFileAtomic(recordPath(dir, a.network, a.containerId, a.ifname), JSON.stringify(a), tmp);
}

type Addresses = Record<string, string>;
const addressesPath = (dir: string, containerId: string): string => join(paths(dir).containers, containerId);
function readAddresses(dir: string, containerId: string): Addresses {
  try {
    const v = JSON.parse(readStateFile(addressesPath(dir, containerId))) as Addresses;
    return v && typeof v === 'object' && !Array.isArray(v) ? v : {};
  } catch { return {}; }
}

/** The resolver address of this attachment (under the state lock): its own again, or the lowest free one of its container. */
export function claimAddress(dir: string, containerId: string, network: string, ifname: string): string {
  const held = readAddresses(dir, containerId);
  const key = `${network}:${ifname}`;
  if (held[key]) return held[key]!;
  const used = new Set(Object.values(held));
  let n = LISTEN_BASE;
  while (used.has(`127.0.0.${n}`) && n < LISTEN_MAX) n++;
  held[key] = `127.0.0.${n}`;
  ensureDir(paths(dir).containers);
  writeFileAtomic(addressesPath(dir, containerId), JSON.stringify(held), paths(dir).tmp);
  return held[key]!;
}

export function releaseAddress(dir: string, containerId: string, network: string, ifname: string): void {
  const held = readAddresses(dir, containerId);
  const key = `${network}:${ifname}`;
  if (!(key in held)) return;
  delete held[key];
  if (Object.keys(held).length) writeFileAtomic(addressesPath(dir, containerId), JSON.stringify(held), paths(dir).tmp);
  else try { unlink(addressesPath(dir, containerId)); } catch { /* gone */ }
}

/**
 * Remove one attachment's record and its address; false when there was no record. (Also the
 * moment to remove temporaries a killed call left: DEL and GC, not the ADD a start waits for.)
 */
export function removeRecord(dir: string, network: string, containerId: string, ifname: string): boolean {
  sweepTemps(paths(dir).tmp);
  releaseAddress(dir, containerId, network, ifname);
  try { unlink(recordPath(dir, network, containerId, ifname)); } catch { return false; }
  try { rmdir(join(paths(dir).records, network)); } catch { /* others remain */ }
  return true;
}

export function readRecord(dir: string, network: string, containerId: string, ifname: string): Attachment | undefined {
  try { return toAttachment(JSON.parse(readStateFile(recordPath(dir, network, containerId, ifname)))); } catch { return undefined; }
}

/** The attachments recorded on `network` (containerID, ifname), for GC. */
export function recordedOn(dir: string, network: string): { containerId: string; ifname: string }[] {
  try {
    return arrMap(arrFilter(readDir(join(paths(dir).records, network)), (n) => n.includes(':')), (n) => {
      const i = n.indexOf(':');
      return { containerId: n.slice(0, i), ifname: n.slice(i + 1) };
    });
  } catch { return []; }
}

/** Every record, as the resolver loads them: directories and files never followed through links. */
export function readAll(dir: string, onBad: (file: string, why: string) => void = () => {}): Attachment[] {
  const root = paths(dir).records;
  const out: Attachment[] = [];
  let networks: string[];
  try { if (!lstat(root).isDir) return out; networks = readDir(root); } catch { return out; }
  for (const net of networks) {
    const d = join(root, net);
    let files: string[];
    try { if (!lstat(d).isDir) continue; files = readDir(d); } catch { continue; }
    for (const f of files) {
      try {
        const a = toAttachment(JSON.parse(readStateFile(join(d, f))));
        if (a && a.network === net && `${a.containerId}:${a.ifname}` === f) out.push(a);
        else onBad(join(d, f), 'not a record of ours');
      } catch (e) { onBad(join(d, f), (e as Error).message); }
    }
  }
  return out;
}

const strings = (v: unknown): v is string[] => Array.isArray(v) && arrEvery(v, (s) => typeof s === 'string');

/** A record as read back, checked field by field (state is never trusted blindly). */
function toAttachment(v: unknown): Attachment | undefined {
  const a = v as Attachment;
  if (!a || typeof a !== 'object') return undefined;
  const ok = typeof a.network === 'string' && typeof a.containerId === 'string' && typeof a.ifname === 'string' &&
    typeof a.netns === 'string' && typeof a.cookie === 'string' && typeof a.shortId === 'string' &&
    typeof a.listen === 'string' && /^127\.0\.0\.\d{1,3}$/.test(a.listen) &&
    (a.name === undefined || typeof a.name === 'string') && (a.domainName === undefined || typeof a.domainName === 'string') &&
    strings(a.aliases) && strings(a.ips) && strings(a.upstreams) && typeof a.forward === 'boolean' &&
    Array.isArray(a.links) && arrEvery(a.links, (l) => l && typeof l.target === 'string' && typeof l.alias === 'string') &&
    (a.subnets === undefined || strings(a.subnets)) && a.remote === undefined &&
    (a.cluster === undefined || (typeof a.cluster === 'object' && a.cluster !== null && typeof a.cluster.etcd === 'object' && a.cluster.etcd !== null &&
      strings(a.cluster.etcd.endpoints) && (a.cluster.ttl === undefined || Number.isInteger(a.cluster.ttl))));
  return ok ? a : undefined;
}
