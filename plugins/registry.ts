// Every plugin by the name of its executable link: the module that defines it and the name it
// is exported under. Data only, so that what needs the names (the dispatcher, the CLI, the
// launcher's build) does not pull in any plugin's code. The compiled executable holds one chunk
// per module (build.ts); the Node bundles load through PLUGINS (entry/loaders.ts), which names the
// same modules (test/unit/plugin-modules.test.ts).
export const PLUGIN_MODULES: Record<string, readonly [module: string, exported: string]> = {
  bridge: ['plugins/bridge/index.ts', 'bridge'],
  'dns-hosts': ['plugins/dns-hosts/index.ts', 'dnsHosts'],
  // dnsname's name, so that podman's dnsname conflists run unchanged
  dnsname: ['plugins/dns-hosts/index.ts', 'dnsHosts'],
  firewall: ['plugins/firewall/index.ts', 'firewall'],
  'host-local': ['ipam/host-local/index.ts', 'hostLocal'],
  ipvlan: ['plugins/ipvlan/index.ts', 'ipvlan'],
  loopback: ['plugins/loopback/index.ts', 'loopback'],
  macvlan: ['plugins/macvlan/index.ts', 'macvlan'],
  portmap: ['plugins/portmap/index.ts', 'portmap'],
  tuning: ['plugins/tuning/index.ts', 'tuning'],
  'vxlan-overlay': ['plugins/vxlan-overlay/index.ts', 'vxlanOverlay'],
};

export const PLUGIN_NAMES: string[] = Object.keys(PLUGIN_MODULES);

export const isPluginName = (name: string): boolean => Object.prototype.hasOwnProperty.call(PLUGIN_MODULES, name);

/** The executable's chunk for a plugin: named after the first name its module is listed under (dnsname's is dns-hosts'). */
export function pluginChunk(name: string): string {
  const module = PLUGIN_MODULES[name]![0];
  for (const n of PLUGIN_NAMES) if (PLUGIN_MODULES[n]![0] === module) return n;
  return name;
}
