// The overlay networks this host is on, for the sync process: a host's first ADD on a network
// writes the network's config here, its leaving removes it. Per host network namespace and per
// boot (/run/cni-ts/vxlan-overlay-networks/c<cookie>/), root only, one file per network. (Not
// beside the member groups of /run/cni-ts/vxlan-overlay/, whose names are the networks'.)
import { readDir, readStateFile, unlink } from '../../shared/os/fs.ts';
import { ensureDir, writeFileAtomic } from '../../shared/os/files.ts';
import { kindDir } from '../../shared/os/members.ts';
import { shortHash } from '../../shared/util/hash.ts';
import { join } from '../../shared/util/path.ts';
import type { OverlayConf } from './config.ts';

export const KIND = 'vxlan-overlay';
const dir = (): string => kindDir(`${KIND}-networks`);
/** Where the sync process keeps its lock, pid file and log. */
export const syncDir = (): string => kindDir(`${KIND}-sync`);
const fileOf = (name: string): string => join(dir(), `${shortHash(name, 16)}.json`);

/** The config as the sync process needs it: without what a runtime adds per call. */
function confText(c: OverlayConf): string {
  const { prevResult: _p, runtimeConfig: _r, args: _a, 'cni.dev/valid-attachments': _v, ...rest } = c;
  return JSON.stringify(rest);
}

/** This host is on the network (written when missing or changed). */
export function registerNetwork(c: OverlayConf): void {
  const text = confText(c);
  try { if (readStateFile(fileOf(c.name)) === text) return; } catch { /* not yet */ }
  ensureDir(dir());
  writeFileAtomic(fileOf(c.name), text, join(dir(), '.tmp'));
}

export function unregisterNetwork(name: string): void {
  try { unlink(fileOf(name)); } catch { /* gone */ }
}

/** Every registered network's config text, by file (a file that is not a regular one is skipped). */
export function registered(): Map<string, string> {
  const out = new Map<string, string>();
  let names: string[];
  try { names = readDir(dir()); } catch { return out; }
  for (const n of names) {
    if (!n.endsWith('.json')) continue;
    try { out.set(n, readStateFile(join(dir(), n))); } catch { /* skipped */ }
  }
  return out;
}
