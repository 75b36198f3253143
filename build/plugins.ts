// Every plugin, by the name of its executable. Loaded on demand: a call pays only for its own.
import type { Plugin } from '../shared/cni/plugin.ts';

export const PLUGINS: Record<string, () => Promise<Plugin<any>>> = {
  bridge: async () => (await import('../plugins/bridge/index.ts')).bridge,
  'host-local': async () => (await import('../ipam/host-local/index.ts')).hostLocal,
  loopback: async () => (await import('../plugins/loopback/index.ts')).loopback,
};
