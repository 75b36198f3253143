// Which attachments hold a bridge's isolation elements. A bridge is isolated while at least one
// firewall attachment on it exists; the last one's DEL removes the bridge-wide elements. The
// members are files (one per attachment) in a directory per bridge, changed only under that
// bridge's lock together with the nft batch, so concurrent ADDs and DELs on one bridge can
// neither leave the elements behind nor take them from a container that still needs them.
// Kept per host network namespace: bridges of two namespaces may share a name.
import { exists, readDir, rmdir, stat, unlink } from '../../shared/fs.ts';
import { createFileExclusive, withFileLock } from '../../shared/files.ts';
import { shortHash } from '../../shared/hash.ts';
import { join } from '../../shared/path.ts';

const ROOT = '/run/cni-ts/firewall';

const nsDir = (): string => join(ROOT, `ns${stat('/proc/thread-self/ns/net').ino}`);
const memberName = (tag: string): string => shortHash(tag, 16);

/** Run fn under the bridge's lock with its member directory and this attachment's file name. */
function locked<T>(bridge: string, fn: (dir: string, member: string) => T, tag: string): T {
  const base = nsDir();
  return withFileLock(join(base, `${bridge}.lock`), () => fn(join(base, bridge), memberName(tag)));
}

/** Record the attachment as a member, then run `apply` (the nft batch); undone if it throws. */
export function joinBridge(bridge: string, tag: string, apply: () => void): void {
  locked(bridge, (dir, member) => {
    const file = join(dir, member);
    const made = createFileExclusive(file, `${tag}\n`, dir);
    try { apply(); } catch (e) { if (made) unlink(file); throw e; }
  }, tag);
}

/**
 * Drop the attachment's membership and run `apply(last)`: last is true when it was a member and
 * no member is left (then the bridge-wide elements go in the same batch).
 */
export function leaveBridge(bridge: string, tag: string, apply: (last: boolean) => void): void {
  locked(bridge, (dir, member) => {
    let was = true;
    try { unlink(join(dir, member)); } catch { was = false; /* not a member: "open" policy, or a second DEL */ }
    let left: string[];
    try { left = readDir(dir).filter((n) => !n.startsWith('.tmp-')); } catch { left = []; }
    apply(was && left.length === 0);
    if (!left.length) { try { rmdir(dir); } catch { /* gone, or temporaries of a killed call */ } }
  }, tag);
}

/** The bridge this attachment is a member of, when DEL has no prevResult to say. */
export function memberOf(tag: string): string | undefined {
  let base: string, names: string[];
  try { base = nsDir(); names = readDir(base); } catch { return undefined; }
  const member = memberName(tag);
  return names.find((n) => !n.endsWith('.lock') && exists(join(base, n, member)));
}
