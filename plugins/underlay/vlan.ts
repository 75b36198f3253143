// 802.1q parents (Docker's `-o parent=eth0.50`): a VLAN sub-interface made on demand, shared by
// every attachment that uses it, and removed with the last of them only if we made it.
import { lstat, mkdirp, readDir, removeTree, writeFile } from '../../shared/os/fs.ts';
import { join } from '../../shared/util/path.ts';
import { CniError, ErrCode } from '../../shared/cni/errors.ts';
import { STATE_DIRS, withStateLock } from '../../shared/os/state.ts';
import { addLink, deleteLink, getLink, setLink } from '../../shared/netlink/link.ts';
import type { Netlink } from '../../shared/netlink/socket.ts';
import { arrSome } from '../../shared/util/arrays.ts';

const STATE = join(STATE_DIRS.run, 'vlan');

/** "eth0.50" -> { base: "eth0", id: 50 } */
export function vlanName(name: string): { base: string; id: number } | undefined {
  const m = /^(.+)\.(\d{1,4})$/.exec(name);
  if (!m) return undefined;
  const id = Number(m[2]);
  return id >= 1 && id <= 4094 ? { base: m[1]!, id } : undefined;
}

const dir = (link: string) => join(STATE, link);

/** The link's state directory, if it is one (a symlink or anything else there is never followed). */
function stateDir(link: string): string | undefined {
  try { return lstat(dir(link)).isDir ? dir(link) : undefined; } catch { return undefined; }
}

const locked = <T>(fn: () => T): T => withStateLock(join(STATE, '.lock'), fn);

/**
 * Make sure the parent exists: an existing link is used as it is (and never removed by us);
 * a missing "<base>.<id>" is created as a VLAN of <base>. The attachment is recorded either way
 * so the last DEL knows whether to remove what we made.
 */
export function acquireParent(nl: Netlink, name: string, attachment: string): void {
  locked(() => {
    if (!getLink(nl, name)) {
      const v = vlanName(name);
      if (!v) return;
      const base = getLink(nl, v.base);
      if (!base) throw new CniError(ErrCode.InvalidConfig, `invalid network config: master "${name}": neither it nor its base interface "${v.base}" exists`);
      try {
        addLink(nl, { name, spec: { kind: 'vlan', id: v.id }, parent: base.index });
      } catch (e) {
        const code = (e as { code?: string }).code;
        if (code === 'EOPNOTSUPP' || code === 'ENOENT') throw new CniError(ErrCode.Plugin, '802.1q VLAN links are not supported by this kernel (module 8021q)');
        throw new CniError(ErrCode.Plugin, `could not create VLAN interface "${name}": ${(e as Error).message}`);
      }
      setLink(nl, getLink(nl, name)!.index, { up: true });
      mkdirp(dir(name));
      writeFile(join(dir(name), '.created'), '');
    }
    const d = stateDir(name);
    if (d) writeFile(join(d, attachment), '');
  });
}

/** Forget the attachment; remove the VLAN link with its last attachment if we created it. */
export function releaseParent(nl: Netlink, name: string, attachment: string): void {
  locked(() => {
    const d = stateDir(name);
    if (!d) { removeTree(dir(name)); return; }   // nothing of ours (a symlink is removed, not followed)
    const entries = readDir(d);
    removeTree(join(d, attachment));
    if (arrSome(entries, (u) => u !== attachment && u !== '.created')) return;
    if (entries.includes('.created')) {
      const l = getLink(nl, name);
      if (l) deleteLink(nl, l.index);
    }
    removeTree(d);
  });
}

