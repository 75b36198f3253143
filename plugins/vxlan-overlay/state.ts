// What a host remembers of its overlay between calls, on disk (kept across reboots, like the
// lease it names): its lease and the peers as last synced, so an ADD works and the data plane
// can be rebuilt while etcd is unreachable. One file per network and host identity, root only.
import { readStateFile } from '../../shared/os/fs.ts';
import { ensureDir, writeFileAtomic } from '../../shared/os/files.ts';
import { shortHash } from '../../shared/util/hash.ts';
import { join } from '../../shared/util/path.ts';
import type { Lease, Peer } from './lease.ts';

export interface HostState { lease?: Lease; peers: Peer[] }

/** The host's overlay state changes (kernel entries and the file) under `lock` (shared/os/state.ts's withStateLock). */
export const statePaths = (dataDir: string, network: string, host: string) => {
  const dir = join(dataDir, network);
  const base = join(dir, shortHash(host, 16));
  return { dir, file: `${base}.json`, lock: `${base}.lock`, tmp: join(dir, '.tmp'), attachments: `${base}.attachments`, seen: `${base}.seen` };
};

export function readState(p: ReturnType<typeof statePaths>): HostState {
  try {
    const s = JSON.parse(readStateFile(p.file)) as HostState;
    return { lease: s.lease, peers: Array.isArray(s.peers) ? s.peers : [] };
  } catch { return { peers: [] }; }
}

export function writeState(p: ReturnType<typeof statePaths>, s: HostState): void {
  ensureDir(p.dir);
  writeFileAtomic(p.file, JSON.stringify(s), p.tmp);
}
