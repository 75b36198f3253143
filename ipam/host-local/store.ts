// The on-disk store, file for file the reference host-local's: <dataDir>/<network>/<ip> holds
// "<containerID>\r\n<ifname>", last_reserved_ip.<rangeset index> the last address handed out,
// and "lock" is flock'ed for the whole operation. Ours adds, outside that directory, a
// per-attachment hint (<dataDir>/.cni-ts/<network>/ids/<id>@<ifname>) so ADD never has to
// read every lease, and a directory for temporaries so a killed process leaves no stray file.
import { STATE_DIRS } from '../../shared/os/state.ts';
import { overwriteFile, readDir, readStateFile, unlink } from '../../shared/os/fs.ts';
import { join } from '../../shared/util/path.ts';
import { CniError, ErrCode } from '../../shared/cni/errors.ts';
import { createFileExclusive, inDir, sweepTemps, withFileLock, writeFileAtomic } from '../../shared/os/files.ts';
import { isIdentifier, isSpace } from '../../shared/util/chars.ts';
import { familyOf } from '../../shared/util/ip.ts';
import { arrFilter } from '../../shared/util/arrays.ts';

export const DEFAULT_DATA_DIR = STATE_DIRS.hostLocal;
const LAST_IP = 'last_reserved_ip.';

export const leaseKey = (id: string, ifname: string): string => `${id.trim()}\r\n${ifname}`;

/** A lease's content as plugins write it: a container ID, then optionally an interface name
 * (/^[A-Za-z0-9][A-Za-z0-9_.-]*(\r\n[^\s/:]{1,15})?$/). */
function isHolder(text: string): boolean {
  const crlf = text.indexOf('\r\n');
  if (crlf < 0) return isIdentifier(text);
  const ifname = text.slice(crlf + 2);
  if (!isIdentifier(text, 0, crlf) || ifname.length < 1 || ifname.length > 15) return false;
  for (let i = 0; i < ifname.length; i++) { const c = ifname.charCodeAt(i); if (c === 47 || c === 58 || isSpace(c)) return false; }
  return true;
}
/** The holder of a lease file whose content is not a lease. */
export const UNKNOWN_HOLDER = '\0unknown';

export class Store {
  readonly dir: string;
  private readonly meta: string;
  private readonly tmp: string;

  constructor(dataDir: string, network: string) {
    if (Buffer.byteLength(network) > 200) throw new CniError(ErrCode.InvalidConfig, 'invalid network config: name is too long for a directory name (at most 200 bytes)');
    this.dir = join(dataDir, network);
    this.meta = join(dataDir, '.cni-ts', network);
    this.tmp = join(this.meta, 'tmp');
  }

  /**
   * Run fn holding the network's lock (the reference's own lock file). With `sweep` (DEL, GC),
   * first remove temporaries a killed process left: they are never read as leases, so ADD,
   * the call a container start waits for, does not read the directory for them.
   */
  locked<T>(fn: () => T, sweep = false): T {
    return withFileLock(join(this.dir, 'lock'), () => {
      if (sweep) sweepTemps(this.tmp);
      return fn();
    });
  }

  /** Take `ip` for the attachment; false when somebody holds it already. */
  reserve(ip: string, key: string, rangeSet: number): boolean {
    if (!createFileExclusive(join(this.dir, ip), key, this.tmp)) return false;
    // only a round-robin hint (the reference reads an unparsable one as none), so written in
    // place: replacing it by rename makes ext4 flush the file, on every ADD
    overwriteFile(join(this.dir, LAST_IP + rangeSet), ip);
    return true;
  }

  /**
   * Who holds `ip` ("<id>\r\n<ifname>", or a bare id from old versions), if anybody. A lease
   * file that is not a regular file, or holds anything but a container ID and an interface
   * name, is somebody else's: UNKNOWN_HOLDER, its content never repeated.
   */
  holder(ip: string): string | undefined {
    let text: string;
    try { text = readStateFile(join(this.dir, ip), 1024).trim(); } catch (e) {
      return (e as { code?: string }).code === 'ENOENT' ? undefined : UNKNOWN_HOLDER;
    }
    return isHolder(text) ? text : UNKNOWN_HOLDER;
  }

  release(ip: string): void {
    try { unlink(join(this.dir, ip)); } catch (e) { if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e; }
  }

  lastReserved(rangeSet: number): string | undefined {
    try { return readStateFile(join(this.dir, LAST_IP + rangeSet), 64).trim(); } catch { return undefined; }
  }

  /** Every lease: address and holder. Reads each file: O(leases). */
  leases(): { ip: string; holder: string }[] {
    const out: { ip: string; holder: string }[] = [];
    let names: string[];
    try { names = readDir(this.dir); } catch { return out; }
    for (const name of names) {
      if (!familyOf(name)) continue;
      const holder = this.holder(name);
      if (holder !== undefined) out.push({ ip: name, holder });
    }
    return out;
  }

  /** Lease addresses only (names, no reads). */
  leaseAddresses(): string[] {
    try { return arrFilter(readDir(this.dir), (n) => familyOf(n) !== undefined); } catch { return []; }
  }

  // ---- hints: which addresses an attachment holds, so ADD need not scan ----
  private hintPath(id: string, ifname: string): string | undefined {
    const name = `${id.trim()}@${ifname}`;
    return Buffer.byteLength(name) <= 240 ? join(this.meta, 'ids', name) : undefined;
  }

  /** The addresses the attachment's hint names that it still holds (each lease read). */
  hintedLeases(id: string, ifname: string): string[] {
    const p = this.hintPath(id, ifname);
    if (!p) return [];
    let named: string[];
    try { named = arrFilter(readStateFile(p, 4096).split('\n'), Boolean); } catch { return []; }
    const key = leaseKey(id, ifname);
    return arrFilter(named, (ip) => this.holder(ip) === key);
  }

  setHint(id: string, ifname: string, ips: string[]): void {
    const p = this.hintPath(id, ifname);
    if (!p) return;
    inDir(join(this.meta, 'ids'), () => writeFileAtomic(p, ips.join('\n'), this.tmp));
  }

  dropHint(id: string, ifname: string): void {
    const p = this.hintPath(id, ifname);
    if (p) { try { unlink(p); } catch { /* none */ } }
  }

  /** Hints of attachments not in `keep` (GC). */
  dropHintsExcept(keep: Set<string>): void {
    const dir = join(this.meta, 'ids');
    let names: string[];
    try { names = readDir(dir); } catch { return; }
    for (const n of names) {
      const at = n.lastIndexOf('@');
      if (!keep.has(leaseKey(n.slice(0, at), n.slice(at + 1)))) { try { unlink(join(dir, n)); } catch { /* gone */ } }
    }
  }
}
