// File locking (flock, compatible with the reference plugins' go-filemutex) and writes that a
// SIGKILL at any moment cannot leave half-done: content is written to a temporary file first,
// then renamed (replace) or hard-linked (create-only) into place. Not fsynced: this state
// describes running containers, which a power loss ends too (the reference does not sync
// either), and a sync costs more than the rest of an IPAM call.
import { O, closeFile, exists, fstat, link, lstat, mkdirp, openFile, readDir, rename, unlink, writeFd, type Stat } from './fs.ts';
import { dirname, join } from '../util/path.ts';
import { native } from './native.ts';
import { CniError, ErrCode } from '../cni/errors.ts';
import { forgetAfterCall } from './call-scope.ts';

const LOCK_EX = 2, LOCK_NB = 4, LOCK_UN = 8;

/** How long a call waits for a lock before it gives up with code 11 (try again later). */
export const lockTimeoutMs = (): number => Number(process.env.CNI_TS_LOCK_TIMEOUT_MS) || 60_000;

// made on the first wait only, not at every start
let sleeper: Int32Array | undefined;
/** Block this thread for `ms` (a plugin call has nothing else to do meanwhile). */
export const sleepSync = (ms: number): void => { Atomics.wait((sleeper ??= new Int32Array(new SharedArrayBuffer(4))), 0, 0, ms); };

/** flock(LOCK_EX | LOCK_NB) on fd: false when another holder has it. */
function lockNow(fd: number): boolean {
  try { native().flock(fd, LOCK_EX | LOCK_NB); return true; } catch (e) {
    if ((e as { code?: string }).code !== 'EWOULDBLOCK' && (e as { code?: string }).code !== 'EAGAIN') throw e;
    return false;
  }
}

/** Take an exclusive flock on fd, waiting at most `timeoutMs` (never forever). */
function lockBounded(fd: number, path: string, timeoutMs: number): void {
  const deadline = Date.now() + timeoutMs;
  for (let pause = 1; !lockNow(fd); pause = Math.min(pause * 2, 25)) {
    if (Date.now() >= deadline) throw new CniError(ErrCode.TryAgainLater, `lock ${path} is still held by another call after ${timeoutMs} ms: try again later`);
    sleepSync(pause);
  }
}

/**
 * An exclusive flock on `path` (created if needed, root-only) if nobody holds it: the fd, which
 * holds the lock until it is closed (a long-running mode keeps it for its life); else undefined.
 */
export function tryFileLock(path: string): number | undefined {
  const fd = inDir(dirname(path), () => openFile(path, O.RDWR | O.CREAT | O.NOFOLLOW, 0o600));
  try { if (lockNow(fd)) return fd; } catch (e) { closeFile(fd); throw e; }
  closeFile(fd);
  return undefined;
}

/** fn(fd) while holding an exclusive flock on `path` (created if needed, root-only); a bounded wait. */
function lockedAt<T>(path: string, timeoutMs: number, fn: (fd: number) => T): T {
  const fd = inDir(dirname(path), () => openFile(path, O.RDWR | O.CREAT | O.NOFOLLOW, 0o600));
  try {
    lockBounded(fd, path, timeoutMs);
    try { return fn(fd); } finally { native().flock(fd, LOCK_UN); }
  } finally {
    closeFile(fd);
  }
}

/**
 * An exclusive flock on `path` (created if needed, root-only), held until the returned release
 * is called (across awaits: for a process whose other work goes on meanwhile); a bounded wait.
 */
export function holdFileLock(path: string, timeoutMs: number): () => void {
  const fd = inDir(dirname(path), () => openFile(path, O.RDWR | O.CREAT | O.NOFOLLOW, 0o600));
  try { lockBounded(fd, path, timeoutMs); } catch (e) { closeFile(fd); throw e; }
  return () => closeFile(fd);
}

/** Hold an exclusive flock on `path` (created if needed, root-only) while fn runs; a bounded wait. */
export const withFileLock = <T>(path: string, fn: () => T, timeoutMs = lockTimeoutMs()): T => lockedAt(path, timeoutMs, fn);

const REMOVED_LOCK_RETRIES = 20;

/**
 * withFileLock for a lock file its holder may remove (removeHeldLock: the last member of a group
 * leaving). A lock taken on a file removed while this call waited for it locks nothing anyone
 * else will take: it is dropped and the lock taken on the file now at `path` (a bounded number
 * of times, each wait bounded as above).
 */
export function withRemovableLock<T>(path: string, fn: () => T, timeoutMs = lockTimeoutMs()): T {
  for (let attempt = 0; ; attempt++) {
    const r = lockedAt(path, timeoutMs, (fd) => (isFileAt(fd, path) ? { value: fn() } : undefined));
    if (r) return r.value;
    if (attempt >= REMOVED_LOCK_RETRIES) throw new CniError(ErrCode.TryAgainLater, `lock ${path} was removed ${attempt + 1} times while waiting for it: try again later`);
  }
}

/** Whether `path` still names the file open as fd (not removed, not replaced). */
function isFileAt(fd: number, path: string): boolean {
  let at: Stat;
  try { at = lstat(path); } catch { return false; }
  const open = fstat(fd);
  return at.ino === open.ino && at.dev === open.dev;
}

/** Remove a lock file the caller holds (through withRemovableLock): later callers lock a new one. */
export const removeHeldLock = (path: string): void => { try { unlink(path); } catch { /* gone */ } };

const made = new Set<string>();
// (another process may remove a directory between two calls of a process that runs many)
forgetAfterCall(() => made.clear());

/** mkdir -p, once per directory per process. */
export function ensureDir(dir: string): void {
  if (made.has(dir)) return;
  mkdirp(dir);
  made.add(dir);
}

/** fn() creating a file in `dir`, which is made first; made again if it vanished since. */
export function inDir<T>(dir: string, fn: () => T): T {
  ensureDir(dir);
  try { return fn(); } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || !made.delete(dir)) throw e;
    ensureDir(dir);
    return fn();
  }
}

let tmpCounter = 0;

function writeTemp(dir: string, data: string): string {
  const tmp = join(dir, `.tmp-${process.pid}-${Date.now().toString(36)}-${tmpCounter++}`);
  const fd = inDir(dir, () => openFile(tmp, O.WRONLY | O.CREAT | O.EXCL, 0o600));
  try {
    writeFd(fd, data);
  } finally {
    closeFile(fd);
  }
  return tmp;
}

/** Replace `path` with `data` atomically; the temporary file lives in `tmpDir`. */
export function writeFileAtomic(path: string, data: string, tmpDir: string): void {
  const tmp = writeTemp(tmpDir, data);
  try { rename(tmp, path); } catch (e) { unlink(tmp); throw e; }
}

/** Create `path` holding `data` only if it does not exist; false when it does. Atomic. */
export function createFileExclusive(path: string, data: string, tmpDir: string): boolean {
  const tmp = writeTemp(tmpDir, data);
  try {
    link(tmp, path);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  } finally {
    unlink(tmp);
  }
}

/**
 * Remove temporaries a killed process left in `tmpDir`. Under the lock of whatever writes there
 * every temporary is a dead one's; without a lock (`onlyDead`), only those whose process (named
 * in the temporary's name) is gone.
 */
export function sweepTemps(tmpDir: string, onlyDead = false): void {
  let names: string[];
  try { if (!lstat(tmpDir).isDir) return; names = readDir(tmpDir); } catch { return; }
  for (const n of names) {
    if (!n.startsWith('.tmp-')) continue;
    if (onlyDead && exists(`/proc/${n.split('-')[1]}`)) continue;
    try { unlink(join(tmpDir, n)); } catch { /* gone */ }
  }
}
