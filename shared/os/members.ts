// Shared host state held by a group of attachments: a bridge's isolation elements (firewall), an
// interface's route_localnet (portmap). The first member's ADD makes it, the last member's DEL
// undoes it. Members are files (one per attachment) in a directory per group, changed only under
// the group's lock together with the change itself, so concurrent ADDs and DELs can neither
// leave the state behind nor take it from an attachment that still needs it. Kept per host
// network namespace (bridges of two namespaces may share a name; a namespace is named by its
// cookie, never reused), readable by root only.
import { STATE_DIRS } from './state.ts';
import { exists, readDir, rmdir, stat, unlink } from './fs.ts';
import { createFileExclusive, inDir, removeHeldLock, sweepTemps, withRemovableLock } from './files.ts';
import { shortHash } from '../util/hash.ts';
import { join } from '../util/path.ts';
import { native } from './native.ts';
import { arrFind } from '../util/arrays.ts';

const ROOT = STATE_DIRS.run;

let nsKey: string | undefined;
/**
 * The calling thread's network namespace, as a name that no later namespace gets: its cookie
 * (an nsfs inode number is reused once the namespace is gone, and a new namespace must not
 * inherit a dead one's members); the inode where the kernel has no cookies (before 5.14).
 */
function namespaceKey(): string {
  if (nsKey) return nsKey;
  try { nsKey = `c${native().netnsCookie()}`; } catch { nsKey = `ns${stat('/proc/thread-self/ns/net').ino}`; }
  return nsKey;
}

/** The state directory of `kind` (e.g. "firewall") for the calling thread's network namespace. */
export const kindDir = (kind: string): string => join(ROOT, kind, namespaceKey());
const memberName = (tag: string): string => shortHash(tag, 16);
const tmpDir = (kind: string): string => join(kindDir(kind), '.tmp');

/** 1-64 characters, no / or NUL, not . or .. (a directory name of its own) */
function validGroup(g: string): boolean {
  if (g.length < 1 || g.length > 64 || g === '.' || g === '..') return false;
  for (let i = 0; i < g.length; i++) { const c = g.charCodeAt(i); if (c === 47 || c === 0) return false; }
  return true;
}

const lockPath = (kind: string, group: string): string => join(kindDir(kind), `${group}.lock`);

function locked<T>(kind: string, group: string, fn: (dir: string, member: string) => T, tag: string): T {
  if (!validGroup(group)) throw new Error(`invalid group name "${group}"`);
  return withRemovableLock(lockPath(kind, group), () => fn(join(kindDir(kind), group), memberName(tag)));
}

/**
 * Record the attachment as a member of `group`, then run `apply` (which makes the shared state
 * idempotently: whoever joins first or again); the membership is undone if it throws. O(1): an
 * ADD never reads the other members.
 */
export function joinGroup(kind: string, group: string, tag: string, apply: () => void): void {
  locked(kind, group, (dir, member) => {
    const file = join(dir, member);
    // made again if a group's leaving removed it earlier in this process
    const made = inDir(dir, () => createFileExclusive(file, `${tag}\n`, tmpDir(kind)));
    try { apply(); } catch (e) {
      if (made) unlink(file);
      // a first member that failed leaves no empty group behind
      let left: string[];
      try { left = readDir(dir); } catch { left = []; }
      if (!left.length) dropGroup(kind, group, dir);
      throw e;
    }
  }, tag);
}

/** The group is gone: its directory and its lock (still held: a call waiting for it locks the next one), then the namespace's directory when no other group or temporary is in it. */
function dropGroup(kind: string, group: string, dir: string): void {
  try { rmdir(dir); } catch { /* gone */ }
  removeHeldLock(lockPath(kind, group));
  for (const d of [tmpDir(kind), kindDir(kind)]) { try { rmdir(d); } catch { /* others are in it */ } }
}

/**
 * Drop the attachment's membership and run `apply(last)`: last is true when it was a member and
 * no member is left (then the shared state goes in the same step).
 */
export function leaveGroup(kind: string, group: string, tag: string, apply: (last: boolean) => void): void {
  locked(kind, group, (dir, member) => {
    // temporaries a killed call left beside the groups (other groups' locks are not ours:
    // only dead writers' go); here, not in the ADD a container start waits for
    sweepTemps(tmpDir(kind), true);
    let was = true;
    try { unlink(join(dir, member)); } catch { was = false; /* not a member, or a second DEL */ }
    let left: string[];
    try { left = readDir(dir); } catch { left = []; }
    apply(was && left.length === 0);
    if (!left.length) dropGroup(kind, group, dir);
  }, tag);
}

/** The group of `kind` this attachment is a member of, when DEL has nothing else to go by. */
export function groupOf(kind: string, tag: string): string | undefined {
  let base: string, names: string[];
  try { base = kindDir(kind); names = readDir(base); } catch { return undefined; }
  const member = memberName(tag);
  return arrFind(names, (n) => !n.endsWith('.lock') && n !== '.tmp' && exists(join(base, n, member)));
}
