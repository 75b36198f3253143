// What is attached to a network, read from the state the plugins keep, without taking any lock
// a plugin call would wait on: host-local's leases, the runtime's libcni result cache, our nft
// elements (by tag) and the host ends of bridge veths.
import { STATE_DIRS } from '../shared/os/state.ts';
import { hostVethName } from '../plugins/local-bridge/name.ts';
import { Store, UNKNOWN_HOLDER } from '../ipam/host-local/store.ts';
import { readDir, readStateFile } from '../shared/os/fs.ts';
import { getLink } from '../shared/netlink/link.ts';
import { Netlink } from '../shared/netlink/socket.ts';
import { tag } from '../plugins/nft-state/batch.ts';
import { ourElements, type NftElement } from '../plugins/nft-state/elements.ts';
import { BRIDGE_NFT } from '../plugins/local-bridge/nft.ts';
import { PORTMAP_NFT } from '../plugins/portmap/nft.ts';
import { FIREWALL_NFT } from '../plugins/firewall/nft.ts';
import { OVERLAY_NFT } from '../plugins/vxlan-overlay/nft.ts';
import { join } from '../shared/util/path.ts';
import { readRecord, stateDir as dnsStateDir } from '../plugins/dns-hosts/records.ts';
import { bridgeOf, hostLocalDataDir, type Network } from './networks.ts';

export interface Attachment {
  containerId: string;
  ifname: string;
  addresses: string[];
  mac?: string;
  hostVeth?: string;
  ports: string[];
  firewall: string[];
  dnsNames: string[];
}

/** Every plugin's sets and chains in our tables (each declared in its owner's folder). */
export const NFT_OWNERS = [BRIDGE_NFT, PORTMAP_NFT, FIREWALL_NFT, OVERLAY_NFT] as const;

const PORT_SETS = new Set(['pm4', 'pm6', 'pm4ip', 'pm6ip']);
const FIREWALL_SETS = new Set(['fw_accept4', 'fw_accept6', 'icc_ports']);

/** "tcp . 8080 -> 10.4.0.2 . 80" style text of a port-map element. */
const portText = (e: NftElement): string => {
  const k = e.key.split(' . '), v = (e.value ?? '').split(' . ');
  const published = k.length === 3 ? `${k[0]}:${k[2]}/${k[1]}` : `${k[1]}/${k[0]}`;
  return `${published} -> ${v[0]}:${v[1]}`;
};

/** The result libcni cached for the attachment (interfaces, addresses), if the runtime keeps one. */
function cachedResult(cacheDir: string, net: string, id: string, ifname: string): any {
  try { return JSON.parse(readStateFile(join(cacheDir, 'results', `${net}-${id}-${ifname}`), 1 << 20)).result; } catch { return undefined; }
}

/**
 * The attachments of `net`. `elements`: our nft elements, when the caller lists them once for
 * several networks.
 */
export function attachmentsOf(net: Network, cacheDir: string = STATE_DIRS.libcniCache, elements: NftElement[] = ourElements(NFT_OWNERS)): Attachment[] {
  const byKey = new Map<string, Attachment>();
  const get = (id: string, ifname: string): Attachment => {
    const k = `${id}\0${ifname}`;
    let a = byKey.get(k);
    if (!a) byKey.set(k, (a = { containerId: id, ifname, addresses: [], ports: [], firewall: [], dnsNames: [] }));
    return a;
  };
  // host-local: every lease names its holder (read as host-local reads it, without its lock)
  const dataDir = hostLocalDataDir(net);
  if (dataDir) {
    for (const l of new Store(dataDir, net.name).leases().sort((x, y) => x.ip.localeCompare(y.ip))) {
      if (l.holder === UNKNOWN_HOLDER) continue;
      const [id, ifname] = l.holder.split('\r\n');
      get(id!, ifname ?? 'eth0').addresses.push(l.ip);
    }
  }
  // the runtime's cache: attachments without host-local, and MACs
  let cached: string[] = [];
  try { cached = readDir(join(cacheDir, 'results')).filter((f) => f.startsWith(`${net.name}-`)); } catch { /* no cache */ }
  for (const f of cached) {
    const m = new RegExp(`^${net.name.replace(/[.]/g, '\\.')}-(.+)-([^-]+)$`).exec(f);
    if (!m) continue;
    const a = get(m[1]!, m[2]!);
    const r = cachedResult(cacheDir, net.name, a.containerId, a.ifname);
    const i = r?.interfaces?.find((x: any) => x?.name === a.ifname && x?.sandbox);
    if (i?.mac) a.mac = i.mac;
    if (!a.addresses.length) for (const ip of r?.ips ?? []) if (typeof ip?.address === 'string') a.addresses.push(ip.address.split('/')[0]);
  }
  // nft elements carry the attachment's tag; veth host ends are named from it
  const bridged = !!bridgeOf(net);
  const dnsDir = net.plugins.some((p) => p.type === 'dns-hosts' || p.type === 'dnsname') ? dnsStateDir() : undefined;
  const nl = new Netlink();
  try {
    for (const a of byKey.values()) {
      const t = tag(net.name, a.containerId);
      for (const e of elements.filter((x) => x.comment === t)) {
        if (PORT_SETS.has(e.set)) a.ports.push(portText(e));
        else if (FIREWALL_SETS.has(e.set)) a.firewall.push(`${e.set} ${e.key}`);
      }
      if (bridged) {
        const v = getLink(nl, hostVethName(a.containerId, a.ifname, net.name));
        if (v) a.hostVeth = v.name;
      }
      // dns-hosts' record of it on this host: the names it answers to
      const r = dnsDir ? readRecord(dnsDir, net.name, a.containerId, a.ifname) : undefined;
      if (r) a.dnsNames = [...new Set([...(r.name ? [r.name] : []), ...r.aliases, r.shortId])];
    }
  } finally {
    nl.close();
  }
  return [...byKey.values()].sort((x, y) => x.containerId.localeCompare(y.containerId) || x.ifname.localeCompare(y.ifname));
}
