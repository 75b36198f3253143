// macvlan: containers as hosts of the parent's network (Docker's macvlan driver), including
// 802.1q parents such as eth0.50 and internal networks' dummy parents, made on demand.
import * as z from 'zod/mini';
import type { Plugin } from '../../shared/cni/plugin.ts';
import { baseShape, configSchema, macString } from '../../shared/cni/schema.ts';
import { IFLA_MACVLAN, MACVLAN_MODE } from '../../shared/netlink/constants.ts';
import { underlayAdd, underlayCheck, underlayDel } from '../underlay/underlay.ts';

const schema = () => z.looseObject({
  ...baseShape(),
  master: z.optional(z.string()),
  mode: z.optional(z.enum(['', 'bridge', 'private', 'vepa', 'passthru'])),
  mtu: z.optional(z.number().check(z.int(), z.nonnegative())),
  mac: z.optional(macString()),
  linkInContainer: z.optional(z.boolean()),
  /** Docker's default route via the gateway (the default); false: only the IPAM result's routes, as the reference */
  defaultRoute: z.optional(z.boolean()),
  bcqueuelen: z.optional(z.number().check(z.int(), z.nonnegative())),
  vlan: z.optional(z.number().check(z.int(), z.minimum(1), z.maximum(4094))),
  /** Docker's --internal (or empty -o parent=): containers reach each other through a dummy parent of the network's own, and nothing else */
  internal: z.optional(z.boolean()),
  args: z.optional(z.looseObject({ cni: z.optional(z.looseObject({ mac: z.optional(macString()) })) })),
  runtimeConfig: z.optional(z.looseObject({ mac: z.optional(macString()) })),
});
type MacvlanConf = z.infer<ReturnType<typeof schema>>;

const modeOf = (c: MacvlanConf): keyof typeof MACVLAN_MODE => c.mode || 'bridge';

export const macvlan: Plugin<MacvlanConf> = {
  type: 'macvlan',
  knownArgs: ['MAC', 'IP'],
  config: configSchema('macvlan', schema),
  add: (ctx) => {
    const c = ctx.conf;
    const mac = c.runtimeConfig?.mac ?? c.args?.cni?.mac ?? ctx.args.MAC ?? c.mac;
    return underlayAdd(ctx, {
      kind: 'macvlan',
      link: { kind: 'macvlan', mode: modeOf(c), ...(c.bcqueuelen !== undefined ? { bcQueueLen: c.bcqueuelen } : {}) },
      ...(mac ? { mac } : {}),
    });
  },
  del: (ctx) => underlayDel(ctx, 'macvlan'),
  check: (ctx) => underlayCheck(ctx, 'macvlan', (l) => {
    const mode = l.info?.u32(IFLA_MACVLAN.MODE);
    return mode === MACVLAN_MODE[modeOf(ctx.conf)] ? undefined : `macvlan mode is ${mode}, expected ${modeOf(ctx.conf)}`;
  }),
};
