// bridge config: every field the reference bridge reads (nerdctl, podman and kubelet write
// them), validated with the field's name on error.
import * as z from 'zod/mini';
import { CniError, ErrCode } from '../../shared/cni/errors.ts';
import { baseShape, cidrString, ifnameOrEmpty, macString } from '../../shared/cni/schema.ts';

export const bridgeSchema = () => z.looseObject({
  ...baseShape(),
  bridge: z.optional(ifnameOrEmpty()),
  isGateway: z.optional(z.boolean()),
  isDefaultGateway: z.optional(z.boolean()),
  forceAddress: z.optional(z.boolean()),
  ipMasq: z.optional(z.boolean()),
  ipMasqBackend: z.optional(z.string()),
  /** destinations never masqueraded besides the container's own subnet (an overlay's whole range) */
  ipMasqExclude: z.optional(z.array(cidrString())),
  mtu: z.optional(z.number().check(z.int(), z.nonnegative())),
  hairpinMode: z.optional(z.boolean()),
  promiscMode: z.optional(z.boolean()),
  vlan: z.optional(z.number().check(z.int(), z.nonnegative())),
  vlanTrunk: z.optional(z.array(z.looseObject({}))),
  preserveDefaultVlan: z.optional(z.boolean()),
  macspoofchk: z.optional(z.boolean()),
  enabledad: z.optional(z.boolean()),
  disableContainerInterface: z.optional(z.boolean()),
  portIsolation: z.optional(z.boolean()),
  args: z.optional(z.looseObject({ cni: z.optional(z.looseObject({ mac: z.optional(macString()) })) })),
  runtimeConfig: z.optional(z.looseObject({ mac: z.optional(macString()) })),
});

export type BridgeConf = z.infer<ReturnType<typeof bridgeSchema>>;

/** Checks across fields, as the reference makes them. */
export function validateBridge(c: BridgeConf, ifname: string): void {
  if (ifname === 'lo') throw new CniError(ErrCode.InvalidEnv, 'interface name "lo" is the loopback device, not one bridge can make (CNI_IFNAME)');
  if (c.hairpinMode && c.promiscMode) throw new CniError(ErrCode.InvalidConfig, 'invalid network config: hairpinMode and promiscMode cannot both be set');
  if (c.vlan !== undefined && c.vlan > 4094) throw new CniError(ErrCode.InvalidConfig, `invalid network config: vlan ${c.vlan} is out of range (0-4094)`);
}

export const bridgeName = (c: BridgeConf): string => c.bridge || 'cni0';
