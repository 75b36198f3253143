// cni-ts install [DIR]: the executable (and its launcher), its addon and a link per plugin into DIR (default
// /opt/cni/bin), each replaced atomically (written beside its final name, then renamed over
// it), so a runtime exec'ing a plugin mid-install runs either the old file or the new one.
import { basename, dirname, join } from '../shared/util/path.ts';
import { O, closeFile, mkdirp, openFile, readDir, rename, unlink, writeFd } from '../shared/os/fs.ts';
import { nodeFs } from '../shared/util/lazy.ts';
import { PLUGIN_NAMES } from '../plugins/registry.ts';

const ADDON = 'netns_native.node';

/** What went wrong, said of the file being installed (not of its temporary beside it). */
const failed = (to: string, e: unknown): Error => new Error(`cannot install ${to}: ${((e as { code?: string }).code ?? (e as Error).message)}`);

/**
 * The target directory must be writable by root alone: a directory others may write to (even
 * sticky, as /tmp) lets them put their own executable under a plugin's name.
 */
function checkTarget(dir: string): void {
  const st = nodeFs().statSync(dir);
  if (!st.isDirectory()) throw new Error(`cannot install into ${dir}: not a directory`);
  if (st.mode & 0o022) throw new Error(`refusing to install into ${dir}: it is writable by ${st.mode & 0o002 ? 'everyone' : 'its group'} (chmod go-w ${dir})`);
  if (st.uid !== 0 && process.getuid?.() === 0) throw new Error(`refusing to install into ${dir}: it is owned by uid ${st.uid}, not root`);
}

function copyAtomic(from: string, to: string, mode: number): void {
  const tmp = join(dirname(to), `.cni-ts-install-${process.pid}-${Date.now().toString(36)}`);
  let fd: number;
  try { fd = openFile(tmp, O.WRONLY | O.CREAT | O.EXCL | O.NOFOLLOW, mode); } catch (e) { throw failed(to, e); }
  try {
    try { writeFd(fd, nodeFs().readFileSync(from)); } finally { closeFile(fd); }
    nodeFs().chmodSync(tmp, mode);
    rename(tmp, to);
  } catch (e) { try { unlink(tmp); } catch { /* gone */ } throw failed(to, e); }
}

function linkAtomic(target: string, to: string): void {
  const tmp = join(dirname(to), `.cni-ts-install-${process.pid}-${Date.now().toString(36)}-l`);
  try { nodeFs().symlinkSync(target, tmp); } catch (e) { throw failed(to, e); }
  try { rename(tmp, to); } catch (e) { try { unlink(tmp); } catch { /* gone */ } throw failed(to, e); }
}

/** Install from the directory this executable runs from; returns the names written. */
export function install(dir: string): string[] {
  // cni-ts.bun behind the launcher cni-ts (x86-64), or cni-ts alone
  const self = basename(process.execPath);
  if (self !== 'cni-ts' && self !== 'cni-ts.bun') throw new Error('install copies the compiled executable: run it as build/bin/cni-ts install');
  const from = dirname(process.execPath);
  const names = PLUGIN_NAMES;
  const executables = self === 'cni-ts.bun' ? ['cni-ts.bun', 'cni-ts'] : ['cni-ts'];
  mkdirp(dir, 0o755);
  checkTarget(dir);
  // the addon first: an executable of either version loads it, then the executable, then the
  // launcher (any version of it execs whichever cni-ts.bun is there)
  copyAtomic(join(from, ADDON), join(dir, ADDON), 0o755);
  for (const f of executables) copyAtomic(join(from, f), join(dir, f), 0o755);
  for (const name of names) linkAtomic('cni-ts', join(dir, name));
  for (const n of readDir(dir)) if (n.startsWith('.cni-ts-install-')) { try { unlink(join(dir, n)); } catch { /* another install's */ } }
  return [ADDON, ...executables, ...names];
}
