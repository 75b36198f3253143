// A host's etcd lease (a TTL its keys carry), shared by the plugins that keep cluster state: its
// keys go with it when the host stops renewing it. The ID is derived from what names the host on
// the network, so every call on the host and its long-running process renew the same lease
// without sharing a file or a lock; the one that grants it again after it lapsed puts the host's
// keys back.
import { readFile } from '../../shared/os/fs.ts';
import { shortHash } from '../../shared/util/hash.ts';
import type { Etcd } from './etcd.ts';

/**
 * This host in the cluster, stably across restarts and reboots: the machine's ID and what tells
 * its attachments apart on the machine (the overlay's underlay address, the resolver's namespace).
 */
export function clusterHost(local: string): string {
  let id = '';
  try { id = readFile('/etc/machine-id').trim(); } catch { /* none */ }
  return `${id || 'no-machine-id'}/${local}`;
}

/** The lease ID for `name` (a decimal int64, as the gateway writes it): positive, 60 bits. */
export const leaseIdOf = (name: string): string => BigInt(`0x${shortHash(name, 15)}`).toString();

/** Renew lease `id`, or grant it again (`ttl` seconds) and `putBack` the host's keys under it. */
export async function renewLease(etcd: Etcd, id: string, ttl: number, putBack: (id: string) => Promise<void>): Promise<string> {
  if (await etcd.keepAlive(id) > 0) return id;
  if (!await etcd.grant(id, ttl)) return id;   // another call on this host granted it just now
  await putBack(id);
  return id;
}

/** A key put back under lease `id`: where absent, or still holding `value`; false when another holder has it. */
export async function putBackKey(etcd: Etcd, key: string, value: string, id: string): Promise<boolean> {
  return await etcd.putAbsent([[key, value, undefined]], id) || etcd.putAbsent([[key, value, value]], id);
}
