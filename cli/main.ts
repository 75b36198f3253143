// cni-ts, invoked under its own name: the operator's view of what the plugins made.
//   cni-ts ls [--conf-dir DIR] [--json]                 networks, chains, subnets, attachments
//   cni-ts inspect NETWORK [--conf-dir DIR] [--cache-dir DIR] [--json]
//   cni-ts install [DIR] [--agent-unit FILE]           the executable, addon and links (default /opt/cni/bin),
//                                                       and a systemd unit for the node agent
//   cni-ts install --daemonset IMAGE                    prints a DaemonSet for the agent on Kubernetes
//   cni-ts version [--json]
// Read-only commands take no lock: they read leases, the runtime's cache and nft elements as
// they are.
import { CNI_TS_VERSION } from '../shared/cni/skel.ts';
import { SUPPORTED_VERSIONS } from '../shared/cni/version.ts';
import { writeFd } from '../shared/os/fs.ts';
import { PLUGIN_NAMES } from '../plugins/registry.ts';
import { ourElements } from '../plugins/nft-state/elements.ts';
import { NFT_OWNERS, attachmentsOf } from './attachments.ts';
import { install } from './install.ts';
import { daemonSet, systemdUnit } from './agent-install.ts';
import { nodeFs } from '../shared/util/lazy.ts';
import { bridgeOf, confDir, loadNetworks, subnetsOf } from './networks.ts';
import { table } from './table.ts';

const USAGE = `usage: cni-ts ls [--conf-dir DIR] [--json]
       cni-ts inspect NETWORK [--conf-dir DIR] [--cache-dir DIR] [--json]
       cni-ts install [DIR] [--agent-unit FILE]
       cni-ts install --daemonset IMAGE
       cni-ts agent [--help]
       cni-ts version [--json]
       (as a plugin: invoke through a link named one of ${PLUGIN_NAMES.join(', ')})
`;

function options(args: string[]): { positional: string[]; flags: Record<string, string | true> } {
  const positional: string[] = [], flags: Record<string, string | true> = {};
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--json' || a === '-h' || a === '--help') flags[a.replace(/^-+/, '')] = true;
    else if (a.startsWith('--')) {
      const [k, v] = a.includes('=') ? [a.slice(2, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a.slice(2), args[++i]];
      if (v === undefined) throw new Error(`${a} needs a value`);
      flags[k] = v;
    } else positional.push(a);
  }
  return { positional, flags };
}

const out = (s: string): void => writeFd(1, s);
const str = (v: string | true | undefined): string | undefined => (typeof v === 'string' ? v : undefined);

function ls(flags: Record<string, string | true>): number {
  const dir = confDir(str(flags['conf-dir']));
  const { networks, problems } = loadNetworks(dir);
  const elements = ourElements(NFT_OWNERS);   // once for every network
  const rows = networks.map((n) => ({
    name: n.name, cniVersion: n.cniVersion, file: n.file, plugins: n.plugins.map((p) => p.type), subnets: subnetsOf(n),
    bridge: bridgeOf(n) ?? null, attachments: attachmentsOf(n, str(flags['cache-dir']), elements).length,
  }));
  if (flags.json) out(`${JSON.stringify({ confDir: dir, networks: rows, problems }, null, 2)}\n`);
  else {
    out(table(['NETWORK', 'PLUGINS', 'SUBNETS', 'BRIDGE', 'ATTACHMENTS'], rows.map((r) => [r.name, r.plugins.join(','), r.subnets.join(',') || '-', r.bridge ?? '-', String(r.attachments)])));
    for (const p of problems) out(`warning: ${p}\n`);
  }
  return 0;
}

function inspect(name: string | undefined, flags: Record<string, string | true>): number {
  if (!name) throw new Error('inspect needs a network name');
  const dir = confDir(str(flags['conf-dir']));
  const net = loadNetworks(dir).networks.find((n) => n.name === name);
  if (!net) { writeFd(2, `cni-ts: no network "${name}" in ${dir}\n`); return 1; }
  const atts = attachmentsOf(net, str(flags['cache-dir']));
  if (flags.json) {
    out(`${JSON.stringify({ name: net.name, file: net.file, plugins: net.plugins.map((p) => p.type), subnets: subnetsOf(net), bridge: bridgeOf(net) ?? null, attachments: atts }, null, 2)}\n`);
    return 0;
  }
  out(`network ${net.name} (${net.file}): ${net.plugins.map((p) => p.type).join(' -> ')}; ${subnetsOf(net).join(', ') || 'no subnet'}${bridgeOf(net) ? `; bridge ${bridgeOf(net)}` : ''}\n`);
  out(table(['CONTAINER', 'IFNAME', 'ADDRESSES', 'MAC', 'HOST VETH', 'PORTS', 'DNS NAMES', 'FIREWALL'], atts.map((a) => [
    a.containerId.length > 16 ? `${a.containerId.slice(0, 12)}…` : a.containerId, a.ifname, a.addresses.join(',') || '-', a.mac ?? '-', a.hostVeth ?? '-',
    a.ports.join(', ') || '-', a.dnsNames.join(',') || '-', a.firewall.join(', ') || '-',
  ])));
  return 0;
}

export function runCli(args: string[]): number {
  try {
    const [cmd, ...rest] = args;
    const { positional, flags } = options(rest);
    switch (cmd) {
      case 'ls': return ls(flags);
      case 'inspect': return inspect(positional[0], flags);
      case 'install': {
        const image = str(flags.daemonset);
        if (image) { out(daemonSet(image)); return 0; }
        const dir = positional[0] ?? '/opt/cni/bin';
        const names = install(dir);
        out(`installed into ${dir}: ${names.join(' ')}\n`);
        const unit = str(flags['agent-unit']);
        if (unit) {
          nodeFs().writeFileSync(unit, systemdUnit(dir), { mode: 0o644 });
          out(`wrote ${unit}: systemctl daemon-reload && systemctl enable --now ${unit.split('/').pop()}\n`);
        }
        return 0;
      }
      case 'version':
        out(flags.json ? `${JSON.stringify({ version: CNI_TS_VERSION, cniVersions: SUPPORTED_VERSIONS, plugins: PLUGIN_NAMES })}\n`
          : `cni-ts ${CNI_TS_VERSION}\nCNI protocol versions supported: ${SUPPORTED_VERSIONS.join(', ')}\nplugins: ${PLUGIN_NAMES.join(', ')}\n`);
        return 0;
      case undefined: case 'help': case '-h': case '--help':
        out(USAGE);
        return cmd === undefined ? 2 : 0;
      default:
        writeFd(2, `cni-ts: unknown command "${cmd}"\n${USAGE}`);
        return 2;
    }
  } catch (e) {
    writeFd(2, `cni-ts: ${(e as Error).message}\n`);
    return 1;
  }
}
