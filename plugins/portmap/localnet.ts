// portmap's route_localnet: 127.0.0.1 -> container needs it on the interface the kernel routes
// the container through (looked up, never taken from prevResult; never all/default/lo), only
// while a mapping reachable on 127.0.0.1 needs it. Holders are members of the interface's group
// (shared/os/members.ts): the first turns it on, remembering what it was, the last puts that back.
import { hasIfnameForbidden } from '../../shared/util/chars.ts';
import { readFile, readStateFile, unlink, writeFile } from '../../shared/os/fs.ts';
import { isUnspecified, parseIP } from '../../shared/util/ip.ts';
import { groupOf, joinGroup, kindDir, leaveGroup } from '../../shared/os/members.ts';
import { getLink } from '../../shared/netlink/link.ts';
import { routeTo } from '../../shared/netlink/route.ts';
import { Netlink } from '../../shared/netlink/socket.ts';
import { join } from '../../shared/util/path.ts';
import { setIn } from '../../shared/os/sysctl.ts';

const LOCALNET = 'portmap-localnet';

/** Reachable from the host on 127.0.0.1: published on every address, or on a loopback one. */
export function onLoopback(m: { hostIP?: string }): boolean {
  if (!m.hostIP) return true;
  const ip = parseIP(m.hostIP);
  return !!ip && ip.family === 4 && (isUnspecified(ip) || ip.bytes[0] === 127);
}

/** The host interface the kernel routes `ip` through (the bridge for a bridge container). */
function routeInterface(ip: string): string | undefined {
  const nl = new Netlink();
  try {
    const oif = routeTo(nl, ip)?.oif;
    const name = oif ? getLink(nl, oif)?.name : undefined;
    // never the host-wide knobs, never loopback itself
    return name && name !== 'all' && name !== 'default' && name !== 'lo' && name.length <= 15 && !hasIfnameForbidden(name) ? name : undefined;
  } finally { nl.close(); }
}

/** The sysctl, as setIn names them (under /proc/sys). */
const sysctlKey = (ifname: string): string => `net/ipv4/conf/${ifname}/route_localnet`;
const originalPath = (ifname: string): string => join(kindDir(LOCALNET), `${ifname}.original`);

/** Turn it on if it is off, remembering that it was (called by every member's ADD, under the interface's lock). */
function localnetOn(ifname: string): void {
  let now: string;
  try { now = readFile(`/proc/sys/${sysctlKey(ifname)}`).trim(); } catch { return; }   // the interface is gone
  if (now === '1') return;   // on already, by somebody else: theirs to keep
  writeFile(originalPath(ifname), now);
  setIn(undefined, [[sysctlKey(ifname), '1']]);
}

/** Put back what it was before the first member (called by the last member, under the lock). */
function localnetRestore(ifname: string): void {
  let original: string;
  try { original = readStateFile(originalPath(ifname), 8).trim(); } catch { return; }   // not turned on by us
  try { setIn(undefined, [[sysctlKey(ifname), original === '1' ? '1' : '0']]); } catch { /* the interface is gone */ }
  unlink(originalPath(ifname));
}

/** Hold route_localnet on for the attachment `tag` on the interface `ip` is routed through; that interface, if any. */
export function localnetHold(ip: string, tag: string): string | undefined {
  const ifname = routeInterface(ip);
  if (ifname) joinGroup(LOCALNET, ifname, tag, () => localnetOn(ifname));
  return ifname;
}

/** Let go of the attachment's hold (on `ifname`, else wherever it has one); the last holder restores it. */
export function localnetRelease(tag: string, ifname = groupOf(LOCALNET, tag)): void {
  if (ifname) leaveGroup(LOCALNET, ifname, tag, (last) => { if (last) localnetRestore(ifname); });
}
