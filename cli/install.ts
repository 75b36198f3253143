// cni-ts install [DIR]: the executable, its addon and a link per plugin into DIR (default
// /opt/cni/bin), each replaced atomically (written beside its final name, then renamed over
// it), so a runtime exec'ing a plugin mid-install runs either the old file or the new one.
import { basename, dirname, join } from '../shared/path.ts';
import { O, closeFile, mkdirp, openFile, readDir, rename, unlink, writeFd } from '../shared/fs.ts';
import { nodeFs } from '../shared/lazy.ts';
import { PLUGINS } from '../build/plugins.ts';

const ADDON = 'netns_native.node';

function copyAtomic(from: string, to: string, mode: number): void {
  const tmp = join(dirname(to), `.cni-ts-install-${process.pid}-${Date.now().toString(36)}`);
  const fd = openFile(tmp, O.WRONLY | O.CREAT | O.EXCL | O.NOFOLLOW, mode);
  try { writeFd(fd, nodeFs().readFileSync(from)); } finally { closeFile(fd); }
  try { nodeFs().chmodSync(tmp, mode); rename(tmp, to); } catch (e) { try { unlink(tmp); } catch { /* gone */ } throw e; }
}

function linkAtomic(target: string, to: string): void {
  const tmp = join(dirname(to), `.cni-ts-install-${process.pid}-${Date.now().toString(36)}-l`);
  nodeFs().symlinkSync(target, tmp);
  try { rename(tmp, to); } catch (e) { try { unlink(tmp); } catch { /* gone */ } throw e; }
}

/** Install from the directory this executable runs from; returns the names written. */
export function install(dir: string): string[] {
  if (basename(process.execPath) !== 'cni-ts') throw new Error('install copies the compiled executable: run it as build/bin/cni-ts install');
  const from = dirname(process.execPath);
  const names = Object.keys(PLUGINS);
  mkdirp(dir, 0o755);
  const self = join(from, 'cni-ts');
  // the addon first: an executable of either version loads it, and only then the new executable
  copyAtomic(join(from, ADDON), join(dir, ADDON), 0o755);
  copyAtomic(self, join(dir, 'cni-ts'), 0o755);
  for (const name of names) linkAtomic('cni-ts', join(dir, name));
  for (const n of readDir(dir)) if (n.startsWith('.cni-ts-install-')) { try { unlink(join(dir, n)); } catch { /* another install's */ } }
  return [ADDON, 'cni-ts', ...names];
}
