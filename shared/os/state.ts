// Where cni-ts keeps state on a host, named in one place, and the one lock its state changes
// take. Per-boot state (what running containers hold: group memberships, parent links made on demand, the
// resolver's records) lives under /run, which a reboot empties as it ends the containers;
// what must outlive a reboot (an overlay host's lease) under /var/lib. The reference plugins'
// own directories keep their paths, so a host can move between them and us.
import { dirname } from '../util/path.ts';
import { ensureDir, withFileLock } from './files.ts';

export const STATE_DIRS = {
  /** cni-ts's per-boot state, one folder per kind (members.ts groups, the resolver) */
  run: '/run/cni-ts',
  /** cni-ts's state kept across reboots (vxlan-overlay's leases and peers) */
  data: '/var/lib/cni-ts',
  /** host-local's store, the reference's path and layout */
  hostLocal: '/var/lib/cni/networks',
  /** libcni's cache of results (written by runtimes, read by `cni-ts ls`) */
  libcniCache: '/var/lib/cni',
  /** tuning's saved originals, the reference's path */
  tuning: '/run/cni/tuning',
} as const;

/**
 * Run `fn` holding the exclusive lock file `lock` (its directory made if missing): state files
 * and the kernel objects they describe change only under it.
 */
export function withStateLock<T>(lock: string, fn: () => T): T {
  ensureDir(dirname(lock));
  return withFileLock(lock, fn);
}
