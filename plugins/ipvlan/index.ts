// ipvlan l2, l3, l3s: containers share the parent's MAC. In l3 and l3s the parent routes, so
// the container's routes point at the device, with no gateway.
import * as z from 'zod/mini';
import type { Plugin } from '../../shared/cni/plugin.ts';
import { baseShape, configSchema } from '../../shared/cni/schema.ts';
import { IFLA_IPVLAN, IPVLAN_MODE } from '../../shared/netlink/constants.ts';
import { underlayAdd, underlayCheck, underlayDel } from '../underlay/underlay.ts';

const schema = () => z.looseObject({
  ...baseShape(),
  master: z.optional(z.string()),
  mode: z.optional(z.enum(['', 'l2', 'l3', 'l3s'])),
  mtu: z.optional(z.number().check(z.int(), z.nonnegative())),
  linkInContainer: z.optional(z.boolean()),
  /** Docker's default route via the gateway (the default); false: only the IPAM result's routes, as the reference */
  defaultRoute: z.optional(z.boolean()),
  vlan: z.optional(z.number().check(z.int(), z.minimum(1), z.maximum(4094))),
  /** Docker's --internal (or empty -o parent=): containers reach each other through a dummy parent of the network's own, and nothing else */
  internal: z.optional(z.boolean()),
});
type IpvlanConf = z.infer<ReturnType<typeof schema>>;

const modeOf = (c: IpvlanConf): keyof typeof IPVLAN_MODE => c.mode || 'l2';

export const ipvlan: Plugin<IpvlanConf> = {
  type: 'ipvlan',
  knownArgs: ['IP'],
  config: configSchema('ipvlan', schema),
  add: (ctx) => underlayAdd(ctx, { kind: 'ipvlan', link: { kind: 'ipvlan', mode: modeOf(ctx.conf) }, deviceRoutes: modeOf(ctx.conf) !== 'l2' }),
  del: (ctx) => underlayDel(ctx, 'ipvlan'),
  check: (ctx) => underlayCheck(ctx, 'ipvlan', (l) => {
    const mode = l.info?.u16(IFLA_IPVLAN.MODE);
    return mode === IPVLAN_MODE[modeOf(ctx.conf)] ? undefined : `ipvlan mode is ${mode}, expected ${modeOf(ctx.conf)}`;
  }),
};
