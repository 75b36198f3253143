// bridge config: every field the reference bridge reads (nerdctl, podman and kubelet write
// them), validated with the field's name on error.
import * as z from 'zod/mini';
import { CniError, ErrCode } from '../../shared/cni/errors.ts';
import { baseShape } from '../../shared/cni/schema.ts';

const macString = () => z.string().check(z.refine((s) => /^([0-9a-fA-F]{2}[:-]){5}[0-9a-fA-F]{2}$/.test(s), 'must be a MAC address'));

export const bridgeSchema = () => z.looseObject({
  ...baseShape(),
  bridge: z.optional(z.string().check(z.refine((s) => s === '' || /^[A-Za-z0-9_.@-]{1,15}$/.test(s), 'must be an interface name (1-15 of A-Z a-z 0-9 _ . @ -)'))),
  isGateway: z.optional(z.boolean()),
  isDefaultGateway: z.optional(z.boolean()),
  forceAddress: z.optional(z.boolean()),
  ipMasq: z.optional(z.boolean()),
  ipMasqBackend: z.optional(z.string()),
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
export function validateBridge(c: BridgeConf): void {
  if (c.hairpinMode && c.promiscMode) throw new CniError(ErrCode.InvalidConfig, 'invalid network config: hairpinMode and promiscMode cannot both be set');
  if (c.vlan !== undefined && c.vlan > 4094) throw new CniError(ErrCode.InvalidConfig, `invalid network config: vlan ${c.vlan} is out of range (0-4094)`);
}

export const bridgeName = (c: BridgeConf): string => c.bridge || 'cni0';
