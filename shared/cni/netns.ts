// Opening CNI_NETNS with errors a runtime can act on.
import type { Netlink } from '../netlink/socket.ts';
import { NetNS, isOwnNetnsFd } from '../os/netns.ts';
import { CniError, ErrCode } from './errors.ts';

/**
 * True when the error means the namespace is gone (DEL then has nothing to undo there): no file,
 * or a file that is no namespace (what a bind mount leaves when its namespace was unmounted).
 */
export const isNetnsGone = (e: unknown): boolean => {
  const code = (e as { code?: string }).code;
  return code === 'ENOENT' || code === 'ENOTNETNS';
};

export function openContainerNetns(path: string): NetNS {
  let ns: NetNS;
  try {
    ns = NetNS.open(path);
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'ENOENT') throw new CniError(ErrCode.UnknownContainer, `network namespace "${path}" does not exist (CNI_NETNS)`);
    if (code === 'ENOTNETNS') throw new CniError(ErrCode.InvalidEnv, `"${path}" is not a network namespace (CNI_NETNS)`);
    throw new CniError(ErrCode.IOFailure, `cannot open network namespace "${path}" (CNI_NETNS): ${(e as Error).message}`);
  }
  if (isOwnNetns(ns)) {
    ns.close();
    throw new CniError(ErrCode.InvalidEnv, `CNI_NETNS "${path}" is the plugin's own network namespace`);
  }
  return ns;
}

const isOwnNetns = (ns: NetNS): boolean => isOwnNetnsFd(ns.fd);

/** Run fn inside CNI_NETNS with a netlink socket bound there (ADD, CHECK). */
export function inContainerNetns<T>(path: string, fn: (ns: NetNS, nl: Netlink) => T): T {
  const ns = openContainerNetns(path);
  try {
    const nl = ns.netlink();
    try { return fn(ns, nl); } finally { nl.close(); }
  } finally {
    ns.close();
  }
}

/**
 * The same for DEL: nothing happens (undefined) when CNI_NETNS is empty, already gone, or the
 * plugin's own namespace (a stale /proc/<pid>/ns/net after PID reuse names the host's: a DEL
 * must never take the host's interfaces for the container's).
 */
export function inNetnsIfPresent<T>(path: string, fn: (ns: NetNS, nl: Netlink) => T): T | undefined {
  if (!path) return undefined;
  let ns: NetNS;
  try {
    ns = NetNS.open(path);
  } catch (e) {
    if (isNetnsGone(e)) return undefined;   // the container is gone: nothing to undo there
    throw e;
  }
  if (isOwnNetns(ns)) { ns.close(); return undefined; }
  try {
    const nl = ns.netlink();
    try { return fn(ns, nl); } finally { nl.close(); }
  } finally {
    ns.close();
  }
}
