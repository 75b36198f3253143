// The file operations the plugins need, as syscalls through the addon: loading node:fs would
// cost every start of the compiled executable more than all of host-local's file work.
// Errors carry the errno name in `code` ("ENOENT"), as node:fs's do.
import { utf8 } from '../util/bytes.ts';
import { native } from './native.ts';

// open(2) flags (Linux: x86, and arm/arm64 where O_DIRECTORY and O_NOFOLLOW differ)
const ARM = process.arch === 'arm' || process.arch === 'arm64';
export const O = {
  RDONLY: 0, WRONLY: 1, RDWR: 2, CREAT: 0o100, EXCL: 0o200, TRUNC: 0o1000, APPEND: 0o2000, NONBLOCK: 0o4000,
  DIRECTORY: ARM ? 0o40000 : 0o200000, NOFOLLOW: ARM ? 0o100000 : 0o400000,
} as const;
const OP = { link: 0, rename: 1, unlink: 2, mkdir: 3, rmdir: 4, access: 5 } as const;

export const openFile = (path: string, flags: number, mode = 0o600): number => native().fileOpen(path, flags, mode);
export const closeFile = (fd: number): void => native().closeFd(fd);
export const writeFd = (fd: number, data: string | Buffer): void => native().fileWrite(fd, typeof data === 'string' ? utf8(data) : data, false);
export const readFd = (fd: number): string => native().fileRead(fd);

/** Read a file of the system (/proc/sys, a config file): paths the plugin is given, not its state. */
export function readFile(path: string): string {
  const fd = openFile(path, O.RDONLY);
  try { return readFd(fd); } finally { closeFile(fd); }
}

/**
 * Read a config file an operator names (a conflist): symlinks followed (config directories are
 * often links), but never blocking on a FIFO or a device, a regular file only, at most `max`
 * bytes.
 */
export function readConfigFile(path: string, max = 1 << 20): string {
  const fd = openFile(path, O.RDONLY | O.NONBLOCK);
  try {
    const st = fstat(fd);
    if (!st.isFile) throw Object.assign(new Error('not a regular file'), { code: 'ENOTREG' });
    if (st.size > max) throw Object.assign(new Error(`larger than ${max} bytes`), { code: 'EFBIG' });
    return readFd(fd);
  } finally { closeFile(fd); }
}

/** The largest state file read (a lease, a hint, saved settings): anything bigger is not ours. */
export const STATE_MAX = 64 * 1024;

/**
 * Read one of our state files: never through a symlink (O_NOFOLLOW), never blocking on a FIFO
 * (O_NONBLOCK), a regular file only (checked on the fd) and at most `max` bytes. Anything else
 * throws with code ENOTREG or EFBIG, and nothing of its content is read.
 */
export function readStateFile(path: string, max = STATE_MAX): string {
  const fd = openFile(path, O.RDONLY | O.NOFOLLOW | O.NONBLOCK);
  try {
    const st = fstat(fd);
    if (!st.isFile) throw Object.assign(new Error(`${path} is not a regular file`), { code: 'ENOTREG' });
    if (st.size > max) throw Object.assign(new Error(`${path} is larger than ${max} bytes`), { code: 'EFBIG' });
    return readFd(fd);
  } finally { closeFile(fd); }
}

/** Write `data` to `path`: created (or, with exclusive, only created) and truncated; never through a symlink. */
export function writeFile(path: string, data: string, o: { exclusive?: boolean; mode?: number; follow?: boolean } = {}): void {
  const fd = openFile(path, O.WRONLY | O.CREAT | (o.exclusive ? O.EXCL : O.TRUNC) | (o.follow ? 0 : O.NOFOLLOW), o.mode ?? 0o600);
  try { writeFd(fd, data); } finally { closeFile(fd); }
}

/**
 * Replace a small file's content in place: write over it, then cut it to length. Never
 * truncated to zero first, so ext4 does not force a flush on close (auto_da_alloc), which
 * costs more than the rest of an IPAM call. Not atomic: only for content a torn write cannot
 * make harmful.
 */
export function overwriteFile(path: string, data: string): void {
  const fd = openFile(path, O.WRONLY | O.CREAT | O.NOFOLLOW | O.NONBLOCK, 0o600);
  try { native().fileWrite(fd, utf8(data), true); } finally { closeFile(fd); }
}

export const link = (from: string, to: string): void => native().pathOp(OP.link, from, to);
export const rename = (from: string, to: string): void => native().pathOp(OP.rename, from, to);
export const unlink = (path: string): void => native().pathOp(OP.unlink, path);
export const rmdir = (path: string): void => native().pathOp(OP.rmdir, path);
export const isExecutable = (path: string): boolean => { try { native().pathOp(OP.access, path); return true; } catch { return false; } };
export const readDir = (path: string): string[] => native().readDir(path);

export interface Stat { dev: number; ino: number; size: number; isFile: boolean; isDir: boolean; isLink: boolean }
const toStat = ([dev, ino, mode, size]: [number, number, number, number]): Stat => {
  const type = mode & 0o170000;
  return { dev, ino, size, isFile: type === 0o100000, isDir: type === 0o040000, isLink: type === 0o120000 };
};
/** stat(2): follows symlinks. */
export const stat = (path: string): Stat => toStat(native().stat(path));
/** lstat(2): a symlink is reported as one. */
export const lstat = (path: string): Stat => toStat(native().lstat(path));
/** fstat(2): what an open fd is. */
export const fstat = (fd: number): Stat => toStat(native().fstat(fd));

export const exists = (path: string): boolean => { try { stat(path); return true; } catch { return false; } };

/** mkdir -p (root-only by default). The last component must be a directory, not a symlink to one. */
export function mkdirp(path: string, mode = 0o700): void {
  // there already, the common case: one lstat, no failing mkdir (and no exception made)
  try { if (lstat(path).isDir) return; } catch { /* absent (or unreadable): made below */ }
  try { native().pathOp(OP.mkdir, path, mode); return; } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'EEXIST') {
      if (lstat(path).isDir) return;
      throw Object.assign(new Error(`${path} exists and is not a directory (a symlink is not followed)`), { code: 'ENOTDIR' });
    }
    if (code !== 'ENOENT') throw e;
  }
  const parent = path.slice(0, path.lastIndexOf('/'));
  if (parent) mkdirp(parent, mode);
  try { native().pathOp(OP.mkdir, path, mode); } catch (e) { if ((e as { code?: string }).code !== 'EEXIST') throw e; }
}

/** rm -r (a directory of plain files, as our state directories are), or one file; a symlink is removed, never followed. */
export function removeTree(path: string): void {
  let st: Stat;
  try { st = lstat(path); } catch { return; }
  if (!st.isDir) { unlink(path); return; }
  for (const n of readDir(path)) removeTree(`${path}/${n}`);
  rmdir(path);
}
