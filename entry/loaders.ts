// Every plugin, by the name of its executable, loaded on demand (the Node bundles: a call pays
// only for its own). The modules are the ones plugins/registry.ts names, which the compiled
// executable's chunks import (test/unit/plugin-modules.test.ts holds the two together).
import type { Plugin } from '../shared/cni/plugin.ts';

export const PLUGINS: Record<string, () => Promise<Plugin<any>>> = {
  bridge: async () => (await import('../plugins/bridge/index.ts')).bridge,
  'dns-hosts': async () => (await import('../plugins/dns-hosts/index.ts')).dnsHosts,
  dnsname: async () => (await import('../plugins/dns-hosts/index.ts')).dnsHosts,
  firewall: async () => (await import('../plugins/firewall/index.ts')).firewall,
  'host-local': async () => (await import('../ipam/host-local/index.ts')).hostLocal,
  ipvlan: async () => (await import('../plugins/ipvlan/index.ts')).ipvlan,
  loopback: async () => (await import('../plugins/loopback/index.ts')).loopback,
  macvlan: async () => (await import('../plugins/macvlan/index.ts')).macvlan,
  portmap: async () => (await import('../plugins/portmap/index.ts')).portmap,
  tuning: async () => (await import('../plugins/tuning/index.ts')).tuning,
  'vxlan-overlay': async () => (await import('../plugins/vxlan-overlay/index.ts')).vxlanOverlay,
};
