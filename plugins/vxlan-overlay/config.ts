// vxlan-overlay's config: one network across hosts, a subnet leased per host in etcd.
import * as z from 'zod/mini';
import { CniError, ErrCode } from '../../shared/cni/errors.ts';
import type { Context } from '../../shared/cni/plugin.ts';
import { baseShape, cidrString, configSchema, endpointString, ifnameOrEmpty, ipString, keyPathString } from '../../shared/cni/schema.ts';
import { parseCIDR } from '../../shared/util/ip.ts';
import { join } from '../../shared/util/path.ts';
import { STATE_DIRS } from '../../shared/os/state.ts';

const schema = () => z.looseObject({
  ...baseShape(),
  subnet: cidrString(),
  hostSubnetLength: z.optional(z.number().check(z.int(), z.minimum(1), z.maximum(30))),
  vni: z.number().check(z.int(), z.minimum(1), z.maximum(16777215)),
  port: z.optional(z.number().check(z.int(), z.minimum(1), z.maximum(65535))),
  underlayInterface: z.optional(ifnameOrEmpty()),
  underlayAddress: z.optional(ipString()),
  mtu: z.optional(z.number().check(z.int(), z.minimum(68))),
  ipMasq: z.optional(z.boolean()),
  bridge: z.optional(ifnameOrEmpty()),
  dataDir: z.optional(z.string()),
  etcd: z.looseObject({
    endpoints: z.array(endpointString()),
    prefix: z.optional(keyPathString()),
    caFile: z.optional(z.string()),
    certFile: z.optional(z.string()),
    keyFile: z.optional(z.string()),
  }),
  'cni.dev/valid-attachments': z.optional(z.array(z.looseObject({ containerID: z.string(), ifname: z.string() }))),
});

export type OverlayConf = z.infer<ReturnType<typeof schema>>;
export type Ctx = Context<OverlayConf>;
export const overlayConfig = configSchema('vxlan-overlay', schema);

export const DEFAULT_PREFIX = '/cni-ts/overlay';
export const DEFAULT_DATA_DIR = join(STATE_DIRS.data, 'vxlan-overlay');

/** Checks across fields: an IPv4 overlay whose per-host subnets fit in it. */
export function validateOverlay(c: OverlayConf): { hostLen: number } {
  const net = parseCIDR(c.subnet)!;
  if (net.ip.family !== 4) throw new CniError(ErrCode.InvalidConfig, `invalid network config: subnet ${c.subnet}: IPv6 overlays are not supported yet (an IPv4 subnet is)`);
  const hostLen = c.hostSubnetLength ?? 24;
  if (hostLen <= net.prefix) throw new CniError(ErrCode.InvalidConfig, `invalid network config: hostSubnetLength ${hostLen} must be longer than the subnet's prefix /${net.prefix}`);
  if (hostLen - net.prefix > 16) throw new CniError(ErrCode.InvalidConfig, `invalid network config: hostSubnetLength ${hostLen} makes more than 65536 host subnets of ${c.subnet}`);
  if (!c.etcd.endpoints.length) throw new CniError(ErrCode.InvalidConfig, 'invalid network config: etcd.endpoints is empty');
  if (c.etcd.certFile && !c.etcd.keyFile) throw new CniError(ErrCode.InvalidConfig, 'invalid network config: etcd.certFile needs etcd.keyFile');
  return { hostLen };
}

export const bridgeNameOf = (c: OverlayConf): string => c.bridge || `ovbr${c.vni}`.slice(0, 15);
export const vxlanNameOf = (c: OverlayConf): string => `ovx${c.vni}`.slice(0, 15);
