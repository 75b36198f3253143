// A long-running mode's cgroup of its own (the resolver's supervisor, the node agent): made in
// every hierarchy it can write, found in its own view of the file system or, where that has no
// cgroupfs (a runtime may call plugins from a mount namespace of its own, as `ip netns exec`
// does), in the view of its ancestors or of PID 1. Stopping whatever started it then stops
// nothing of it.
import { O, exists, mkdirp, openFile, readDir, readFile, rmdir, writeFile } from './fs.ts';
import { basename, dirname, join } from '../util/path.ts';
import { arrMap } from '../util/arrays.ts';

/** This process's ancestors, nearest first (at most 32), from /proc/<pid>/stat. */
function ancestors(): number[] {
  const out: number[] = [];
  for (let p = process.ppid; p > 1 && out.length < 32; ) {
    out.push(p);
    try { p = Number(readFile(`/proc/${p}/stat`).split(') ').at(-1)!.split(' ')[1]); } catch { break; }
  }
  return out;
}

/** Where cgroup hierarchies may be: our own view, then our ancestors', then PID 1's. */
const cgroupRoots = (): string[] => ['/sys/fs/cgroup', ...arrMap(ancestors(), (p) => `/proc/${p}/root/sys/fs/cgroup`), '/proc/1/root/sys/fs/cgroup'];

/** The writable cgroup hierarchies: the root itself under cgroup v2, each mounted one under v1 or hybrid. */
export function hierarchies(): string[] {
  for (const root of cgroupRoots()) {
    try {
      if (exists(join(root, 'cgroup.procs'))) return [root];
      const hs: string[] = [];
      for (const d of readDir(root)) if (exists(join(root, d, 'cgroup.procs'))) hs.push(join(root, d));
      if (hs.length) return hs;
    } catch { /* not here */ }
  }
  return [];
}

/**
 * Move this process into a cgroup of its own in every hierarchy that takes it; the ones made,
 * as paths through descriptors of the hierarchies this process keeps (an ancestor's view is gone
 * with the ancestor, and the cgroups must still be left and removed at the end).
 */
export function ownCgroup(name: string, log: (msg: string) => void): string[] {
  const made: string[] = [];
  for (const found of hierarchies()) {
    let h: string;
    try { h = `/proc/self/fd/${openFile(found, O.RDONLY)}`; } catch { continue; }
    const cg = join(h, name);
    try {
      mkdirp(cg, 0o755);
      writeFile(join(cg, 'cgroup.procs'), `${process.pid}\n`);
      made.push(cg);
    } catch (e) {
      // (a v1 cpuset needs its cpus and mems set first: the parent's placement stays there)
      try { rmdir(cg); } catch { /* in use, or not made */ }
      if (!basename(h).startsWith('cpuset')) log(`cgroup ${cg}: ${(e as Error).message}`);
    }
  }
  return made;
}

/** Leave the cgroups made (back to each hierarchy's root) and remove them; they must be empty. */
export function leaveCgroups(made: string[]): void {
  for (const cg of made) {
    try { writeFile(join(dirname(cg), 'cgroup.procs'), `${process.pid}\n`); rmdir(cg); } catch { /* others in it: the next supervisor's */ }
  }
}

