// vxlan-overlay's config: one network across hosts. Docker's model by default (mode "l2": one
// L2 network, its subnets shared by every host, addresses allocated cluster-wide in etcd);
// flannel's as mode "routed" (a subnet leased per host, routes between them).
import * as z from 'zod/mini';
import { CniError, ErrCode } from '../../shared/cni/errors.ts';
import type { Context } from '../../shared/cni/plugin.ts';
import { baseShape, cidrString, configSchema, ifnameOrEmpty, ipString, macString } from '../../shared/cni/schema.ts';
import { parseCIDR } from '../../shared/util/ip.ts';
import { join } from '../../shared/util/path.ts';
import { etcdSchema, ttlSchema, validateEtcd } from '../cluster/config.ts';
import { STATE_DIRS } from '../../shared/os/state.ts';

const schema = () => z.looseObject({
  ...baseShape(),
  mode: z.optional(z.enum(['l2', 'routed'])),
  subnet: z.optional(cidrString()),
  subnets: z.optional(z.array(z.looseObject({
    subnet: cidrString(),
    ipRange: z.optional(cidrString()),
    gateway: z.optional(ipString()),
    auxAddresses: z.optional(z.record(z.string(), ipString())),
  }))),
  encrypted: z.optional(z.boolean()),
  keyRotation: z.optional(z.number().check(z.int(), z.minimum(10), z.maximum(30 * 24 * 3600))),
  ttl: ttlSchema(),
  hostSubnetLength: z.optional(z.number().check(z.int(), z.minimum(1), z.maximum(30))),
  vni: z.number().check(z.int(), z.minimum(1), z.maximum(16777215)),
  port: z.optional(z.number().check(z.int(), z.minimum(1), z.maximum(65535))),
  underlayInterface: z.optional(ifnameOrEmpty()),
  underlayAddress: z.optional(ipString()),
  mtu: z.optional(z.number().check(z.int(), z.minimum(68))),
  ipMasq: z.optional(z.boolean()),
  bridge: z.optional(ifnameOrEmpty()),
  dataDir: z.optional(z.string()),
  etcd: etcdSchema(),
  args: z.optional(z.looseObject({ cni: z.optional(z.looseObject({ mac: z.optional(macString()), ips: z.optional(z.array(z.string())) })) })),
  runtimeConfig: z.optional(z.looseObject({ mac: z.optional(macString()), ips: z.optional(z.array(z.string())) })),
  'cni.dev/valid-attachments': z.optional(z.array(z.looseObject({ containerID: z.string(), ifname: z.string() }))),
});

export type OverlayConf = z.infer<ReturnType<typeof schema>>;
export type Ctx = Context<OverlayConf>;
export const overlayConfig = configSchema('vxlan-overlay', schema);

export const DEFAULT_PREFIX = '/cni-ts/overlay';
export const DEFAULT_DATA_DIR = join(STATE_DIRS.data, 'vxlan-overlay');

/** The routed mode's checks across fields: an IPv4 overlay whose per-host subnets fit in it. */
export function validateOverlay(c: OverlayConf): { hostLen: number } {
  if (!c.subnet) throw new CniError(ErrCode.InvalidConfig, 'invalid network config: subnet is missing (mode "routed" takes one IPv4 subnet)');
  if (c.subnets) throw new CniError(ErrCode.InvalidConfig, 'invalid network config: subnets is a key of mode "l2"; mode "routed" takes one subnet');
  const net = parseCIDR(c.subnet)!;
  if (net.ip.family !== 4) throw new CniError(ErrCode.InvalidConfig, `invalid network config: subnet ${c.subnet}: IPv6 overlays are not supported yet (an IPv4 subnet is)`);
  const hostLen = c.hostSubnetLength ?? 24;
  if (hostLen <= net.prefix) throw new CniError(ErrCode.InvalidConfig, `invalid network config: hostSubnetLength ${hostLen} must be longer than the subnet's prefix /${net.prefix}`);
  if (hostLen - net.prefix > 16) throw new CniError(ErrCode.InvalidConfig, `invalid network config: hostSubnetLength ${hostLen} makes more than 65536 host subnets of ${c.subnet}`);
  validateCommon(c);
  return { hostLen };
}

/** What both modes check: etcd's settings, and that no security option is asked for that is not honoured. */
export function validateCommon(c: OverlayConf): void {
  validateEtcd(c.etcd);
  // never a silent fallback to clear text
  if (c.encrypted && modeOf(c) === 'routed') throw new CniError(ErrCode.UnsupportedField, 'encrypted: true: IPsec between hosts is built for mode "l2" (Docker\'s overlay); mode "routed" would carry traffic in clear text, so it is refused');
  if (c.keyRotation !== undefined && !c.encrypted) throw new CniError(ErrCode.InvalidConfig, 'invalid network config: keyRotation is a key of encrypted networks ("encrypted": true)');
}

/** The network's VXLAN port (IANA's by default, as Docker's). */
export const DEFAULT_PORT = 4789;
export const portOf = (c: OverlayConf): number => c.port ?? DEFAULT_PORT;

export const modeOf = (c: OverlayConf): 'l2' | 'routed' => c.mode ?? 'l2';

export const bridgeNameOf = (c: OverlayConf): string => c.bridge || `ovbr${c.vni}`.slice(0, 15);
export const vxlanNameOf = (c: OverlayConf): string => `ovx${c.vni}`.slice(0, 15);
