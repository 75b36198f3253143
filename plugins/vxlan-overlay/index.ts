// vxlan-overlay: one network across hosts over VXLAN, cluster state in etcd. Two modes: "l2"
// (the default, Docker's overlay: one subnet shared by every host, l2.ts) and "routed"
// (flannel's: a subnet leased per host, routed.ts).
import type { Plugin } from '../../shared/cni/plugin.ts';
import { modeOf, overlayConfig, type Ctx, type OverlayConf } from './config.ts';
import { l2 } from './l2.ts';
import { routed } from './routed.ts';

const of = (ctx: Ctx) => (modeOf(ctx.conf) === 'routed' ? routed : l2);

export const vxlanOverlay: Plugin<OverlayConf> = {
  type: 'vxlan-overlay', config: overlayConfig, knownArgs: ['IP', 'MAC'],
  add: (ctx) => of(ctx).add(ctx), del: (ctx) => of(ctx).del(ctx), check: (ctx) => of(ctx).check(ctx), gc: (ctx) => of(ctx).gc(ctx), status: () => {},
};
