// bridge: Docker's default and user-defined bridge networks. The plugin is the local bridge
// attachment (plugins/local-bridge) under the reference's config keys.
import type { Plugin } from '../../shared/cni/plugin.ts';
import { configSchema } from '../../shared/cni/schema.ts';
import { attach, detach, verify } from '../local-bridge/attach.ts';
import { bridgeSchema, type BridgeConf } from '../local-bridge/config.ts';

export const bridge: Plugin<BridgeConf> = {
  type: 'bridge',
  knownArgs: ['MAC', 'IP'],
  config: configSchema('bridge', bridgeSchema),
  add: attach, del: detach, check: verify,
};
