// Parents made on demand, shared by every attachment that uses them, and removed with the last
// of them only if we made them: 802.1q sub-interfaces (Docker's `-o parent=eth0.50`) and the
// dummy parent of an internal network (Docker's `--internal` or empty `-o parent=`). Holds are
// members.ts groups: per host network namespace, one member per attachment.
import { lstat, rmdir, unlink, writeFile } from '../../shared/os/fs.ts';
import { ensureDir } from '../../shared/os/files.ts';
import { joinGroup, kindDir, leaveGroup } from '../../shared/os/members.ts';
import { join } from '../../shared/util/path.ts';
import { shortHash } from '../../shared/util/hash.ts';
import { CniError, ErrCode } from '../../shared/cni/errors.ts';
import { addLink, deleteLink, getLink, setLink } from '../../shared/netlink/link.ts';
import type { Netlink } from '../../shared/netlink/socket.ts';

/** "eth0.50" -> { base: "eth0", id: 50 } */
export function vlanName(name: string): { base: string; id: number } | undefined {
  const m = /^(.+)\.(\d{1,4})$/.exec(name);
  if (!m) return undefined;
  const id = Number(m[2]);
  return id >= 1 && id <= 4094 ? { base: m[1]!, id } : undefined;
}

/** The dummy parent of an internal network: Docker's "dm-" prefix, then a hash of the network name (15 bytes in all). */
export const dummyName = (network: string): string => `dm-${shortHash(network, 12)}`;

/** How a missing parent is made: false when this name is not one we make (the caller then finds it missing). */
type Maker = (nl: Netlink, name: string) => boolean;

/** A missing "<base>.<id>" becomes a VLAN of <base>. */
export const makeVlan: Maker = (nl, name) => {
  const v = vlanName(name);
  if (!v) return false;
  const base = getLink(nl, v.base);
  if (!base) throw new CniError(ErrCode.InvalidConfig, `invalid network config: master "${name}": neither it nor its base interface "${v.base}" exists`);
  try {
    addLink(nl, { name, spec: { kind: 'vlan', id: v.id }, parent: base.index });
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'EOPNOTSUPP' || code === 'ENOENT') throw new CniError(ErrCode.Plugin, '802.1q VLAN links are not supported by this kernel (module 8021q)');
    throw new CniError(ErrCode.Plugin, `could not create VLAN interface "${name}": ${(e as Error).message}`);
  }
  return true;
};

/**
 * An internal network's parent: a dummy link, which sends nowhere, so the containers reach
 * each other through it and nothing else. It gets no IPv6 link-local address: nothing on the
 * host answers on it.
 */
export const makeDummy: Maker = (nl, name) => {
  try {
    addLink(nl, { name, spec: { kind: 'dummy' } });
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'EOPNOTSUPP' || code === 'ENOENT') throw new CniError(ErrCode.Plugin, 'internal networks need dummy links, which this kernel does not support (module dummy)');
    throw new CniError(ErrCode.Plugin, `could not create the internal network's dummy parent "${name}": ${(e as Error).message}`);
  }
  try {
    setLink(nl, getLink(nl, name)!.index, { inet6AddrGenMode: 'none' });
  } catch { /* a kernel without IPv6 has no address to suppress */ }
  return true;
};

/**
 * Whether we made the parent: a file per link, beside the groups of attachments (per host
 * namespace, like them), written before the link is used and removed with it.
 */
const madeFile = (name: string): string => join(kindDir('parents-made'), name);
const markMade = (name: string): void => { ensureDir(kindDir('parents-made')); writeFile(madeFile(name), ''); };
function wasMade(name: string): boolean {
  try { return lstat(madeFile(name)).isFile; } catch { return false; }
}
function unmarkMade(name: string): void {
  try { unlink(madeFile(name)); } catch { /* not ours */ }
  try { rmdir(kindDir('parents-made')); } catch { /* others are in it */ }
}

/**
 * Make sure the parent exists and hold it for the attachment: an existing link is used as it
 * is (and never removed by us); a missing one is made by `make` when it is one we make. `kind`,
 * when given, is what an existing link of that name must be.
 */
export function acquireParent(nl: Netlink, name: string, attachment: string, make: Maker, kind?: string): void {
  joinGroup('parents', name, attachment, () => {
    const existing = getLink(nl, name);
    if (existing) {
      if (kind && existing.kind !== kind) throw new CniError(ErrCode.Plugin, `the parent "${name}" exists and is a ${existing.kind ?? 'device'}, not a ${kind}`);
      return;
    }
    // marked first: a call killed between the two leaves a mark without a link, never a link
    // of ours without a mark
    markMade(name);
    let made = false;
    try {
      made = make(nl, name);
      if (made) setLink(nl, getLink(nl, name)!.index, { up: true });
    } catch (e) {
      // the caller's rollback starts after us: what we made and could not finish goes here
      const l = made ? getLink(nl, name) : undefined;
      if (l) deleteLink(nl, l.index);
      unmarkMade(name);
      throw e;
    }
    if (!made) unmarkMade(name);
  });
}

/** Drop the attachment's hold; the last one removes the parent if we made it. */
export function releaseParent(nl: Netlink, name: string, attachment: string): void {
  leaveGroup('parents', name, attachment, (last) => {
    if (!last || !wasMade(name)) return;
    const l = getLink(nl, name);
    if (l) deleteLink(nl, l.index);
    unmarkMade(name);
  });
}
