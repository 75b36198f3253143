// The file operations the plugins need, as syscalls through the addon: loading node:fs costs
// ~1.2 ms of every start of the compiled executable, more than all of host-local's file work.
// Errors carry the errno name in `code` ("ENOENT"), as node:fs's do.
import { native } from './native.ts';

// open(2) flags (Linux: x86, and arm/arm64 where O_DIRECTORY and O_NOFOLLOW differ)
const ARM = process.arch === 'arm' || process.arch === 'arm64';
export const O = {
  RDONLY: 0, WRONLY: 1, RDWR: 2, CREAT: 0o100, EXCL: 0o200, TRUNC: 0o1000, NONBLOCK: 0o4000,
  DIRECTORY: ARM ? 0o40000 : 0o200000, NOFOLLOW: ARM ? 0o100000 : 0o400000,
} as const;
const OP = { link: 0, rename: 1, unlink: 2, mkdir: 3, rmdir: 4, access: 5 } as const;

export const openFile = (path: string, flags: number, mode = 0o644): number => native().fileOpen(path, flags, mode);
export const closeFile = (fd: number): void => native().closeFd(fd);
export const writeFd = (fd: number, data: string | Buffer): void => native().fileWrite(fd, typeof data === 'string' ? Buffer.from(data) : data, false);
export const readFd = (fd: number): string => native().fileRead(fd).toString('utf8');

export function readFile(path: string): string {
  const fd = openFile(path, O.RDONLY);
  try { return readFd(fd); } finally { closeFile(fd); }
}

/** Write `data` to `path`: created (or, with exclusive, only created) and truncated. */
export function writeFile(path: string, data: string, o: { exclusive?: boolean; mode?: number } = {}): void {
  const fd = openFile(path, O.WRONLY | O.CREAT | (o.exclusive ? O.EXCL : O.TRUNC), o.mode ?? 0o644);
  try { writeFd(fd, data); } finally { closeFile(fd); }
}

/**
 * Replace a small file's content in place: write over it, then cut it to length. Never
 * truncated to zero first, so ext4 does not force a flush on close (auto_da_alloc), which
 * costs more than the rest of an IPAM call. Not atomic: only for content a torn write cannot
 * make harmful.
 */
export function overwriteFile(path: string, data: string): void {
  const fd = openFile(path, O.WRONLY | O.CREAT);
  try { native().fileWrite(fd, Buffer.from(data), true); } finally { closeFile(fd); }
}

export const link = (from: string, to: string): void => native().pathOp(OP.link, from, to);
export const rename = (from: string, to: string): void => native().pathOp(OP.rename, from, to);
export const unlink = (path: string): void => native().pathOp(OP.unlink, path);
export const rmdir = (path: string): void => native().pathOp(OP.rmdir, path);
export const isExecutable = (path: string): boolean => { try { native().pathOp(OP.access, path); return true; } catch { return false; } };
export const readDir = (path: string): string[] => native().readDir(path);

export interface Stat { dev: number; ino: number; isFile: boolean; isDir: boolean }
export function stat(path: string): Stat {
  const [dev, ino, mode] = native().stat(path);
  return { dev, ino, isFile: (mode & 0o170000) === 0o100000, isDir: (mode & 0o170000) === 0o040000 };
}

export const exists = (path: string): boolean => { try { stat(path); return true; } catch { return false; } };

/** mkdir -p. */
export function mkdirp(path: string, mode = 0o755): void {
  try { native().pathOp(OP.mkdir, path, mode); return; } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'EEXIST' && stat(path).isDir) return;
    if (code !== 'ENOENT') throw e;
  }
  const parent = path.slice(0, path.lastIndexOf('/'));
  if (parent) mkdirp(parent, mode);
  try { native().pathOp(OP.mkdir, path, mode); } catch (e) { if ((e as { code?: string }).code !== 'EEXIST') throw e; }
}

/** rm -r (a directory of plain files, as our state directories are), or one file. */
export function removeTree(path: string): void {
  let st: Stat;
  try { st = stat(path); } catch { return; }
  if (!st.isDir) { unlink(path); return; }
  for (const n of readDir(path)) removeTree(`${path}/${n}`);
  rmdir(path);
}
