// The networks a runtime would load from a CNI config directory, as libcni reads it: files
// ending .conf, .conflist or .json in name order; a .conf/.json holding one plugin's config is a
// list of one. Unreadable or invalid files are reported, not fatal.
import { readConfigFile, readDir } from '../shared/os/fs.ts';
import { STATE_DIRS } from '../shared/os/state.ts';
import { join } from '../shared/util/path.ts';

export interface Network { name: string; cniVersion: string; file: string; plugins: Record<string, any>[] }

/** --conf-dir, else NETCONFPATH (as cnitool reads it), else /etc/cni/net.d. */
export const confDir = (flag: string | undefined): string => flag || process.env.NETCONFPATH || '/etc/cni/net.d';

export function loadNetworks(dir: string): { networks: Network[]; problems: string[] } {
  const networks: Network[] = [], problems: string[] = [];
  let names: string[];
  try { names = readDir(dir).filter((n) => /\.(conf|conflist|json)$/.test(n)).sort(); } catch (e) {
    return { networks, problems: [`cannot read ${dir}: ${(e as Error).message}`] };
  }
  for (const n of names) {
    const file = join(dir, n);
    try {
      const raw = JSON.parse(readConfigFile(file)) as Record<string, any>;
      const plugins = Array.isArray(raw.plugins) ? raw.plugins : [raw];
      if (typeof raw.name !== 'string' || !plugins.every((p) => p && typeof p.type === 'string')) throw new Error('no name, or a plugin without type');
      networks.push({ name: raw.name, cniVersion: String(raw.cniVersion ?? ''), file, plugins });
    } catch (e) {
      problems.push(`${file}: ${(e as Error).message}`);
    }
  }
  return { networks, problems };
}

/** The subnets of a network's IPAM (host-local ranges or subnet, or the overlay's subnet). */
export function subnetsOf(net: Network): string[] {
  const out: string[] = [];
  for (const p of net.plugins) {
    const ipam = p.ipam ?? {};
    for (const set of Array.isArray(ipam.ranges) ? ipam.ranges : []) for (const r of Array.isArray(set) ? set : []) if (typeof r?.subnet === 'string') out.push(r.subnet);
    if (typeof ipam.subnet === 'string') out.push(ipam.subnet);
    if (typeof p.subnet === 'string') out.push(p.subnet);
    for (const e of Array.isArray(p.subnets) ? p.subnets : []) if (typeof e?.subnet === 'string') out.push(e.subnet);
  }
  return out;
}

/** The bridge a network's containers hang off (bridge plugin, default cni0), if it has one. */
export function bridgeOf(net: Network): string | undefined {
  const b = net.plugins.find((p) => p.type === 'bridge');
  return b ? (typeof b.bridge === 'string' && b.bridge) || 'cni0' : undefined;
}

/** host-local's data directory for this network, if it uses host-local. */
export function hostLocalDataDir(net: Network): string | undefined {
  const p = net.plugins.find((x) => x.ipam?.type === 'host-local') ?? net.plugins.find((x) => x.type === 'host-local');
  if (!p) return undefined;
  return (typeof p.ipam?.dataDir === 'string' && p.ipam.dataDir) || STATE_DIRS.hostLocal;
}
