// dns-hosts' config: dnsname's keys unchanged (domainName), our own (upstreams, forward), the
// aliases and links capabilities (a list, or podman's map of network -> list), and the names
// runtimes pass in CNI_ARGS. Everything is checked here, before the first change.
import { isSpace } from '../../shared/util/chars.ts';
import * as z from 'zod/mini';
import { CniError, ErrCode } from '../../shared/cni/errors.ts';
import type { Context } from '../../shared/cni/plugin.ts';
import { isDnsName, parseLink, parseUpstream } from '../../shared/cni/refinements.ts';
import { baseShape, cidrString, configSchema, dnsNameString, linkString, upstreamString } from '../../shared/cni/schema.ts';
import { arrForEach, arrMap } from '../../shared/util/arrays.ts';
import { etcdSchema, ttlSchema } from '../cluster/config.ts';

const links = () => z.optional(z.array(linkString()));

const schema = () => z.looseObject({
  ...baseShape(),
  domainName: z.optional(dnsNameString()),
  upstreams: z.optional(z.array(upstreamString())),
  forward: z.optional(z.boolean()),
  // names across hosts: this network's records published in etcd, every host's answered
  etcd: z.optional(etcdSchema()),
  ttl: ttlSchema(),
  /** with etcd: where other hosts' addresses may be (default: the subnets of this host's containers on the network) */
  subnets: z.optional(z.array(cidrString())),
  args: z.optional(z.looseObject({
    cni: z.optional(z.looseObject({ name: z.optional(dnsNameString()), aliases: z.optional(z.array(dnsNameString())), links: links() })),
  })),
  // podman's map may hold other networks' lists: only this network's is checked (attachment())
  runtimeConfig: z.optional(z.looseObject({
    aliases: z.optional(z.union([z.array(z.string()), z.record(z.string(), z.array(z.string()))])),
    links: links(),
  })),
  'cni.dev/valid-attachments': z.optional(z.array(z.looseObject({ containerID: z.string(), ifname: z.string() }))),
});

export type DnsConf = z.infer<ReturnType<typeof schema>>;
export type Ctx = Context<DnsConf>;
export const dnsConfig = configSchema('dns-hosts', schema);

/** CNI_ARGS that name the container: podman and kubelet, then nerdctl. */
export const NAME_ARGS = ['K8S_POD_NAME', 'NERDCTL_CNI_DHCP_HOSTNAME'] as const;

export interface Names {
  name?: string;
  shortId: string;
  aliases: string[];
  links: { target: string; alias: string }[];
}

const refuse = (field: string, value: string, what: string): never => {
  throw new CniError(ErrCode.InvalidConfig, `invalid network config: ${field} ${JSON.stringify(value)} must be ${what}`);
};
const lower = (s: string): string => (s.endsWith('.') ? s.slice(0, -1) : s).toLowerCase();

/** The names this attachment answers to on its network, and its link aliases; code 7 naming the field. */
export function names(ctx: Ctx): Names {
  const c = ctx.conf;
  let name = c.args?.cni?.name;
  for (const key of NAME_ARGS) {
    const v = ctx.args[key];
    if (name || !v) continue;
    if (!isDnsName(v)) refuse(`CNI_ARGS ${key}`, v, 'a DNS name');
    name = v;
  }
  const rc = c.runtimeConfig?.aliases;
  const own = Array.isArray(rc) ? rc : rc?.[c.name] ?? [];
  const field = Array.isArray(rc) ? 'runtimeConfig.aliases' : `runtimeConfig.aliases.${c.name}`;
  arrForEach(own, (a, i) => { if (!isDnsName(a)) refuse(`${field}[${i}]`, a, 'a DNS name'); });
  const aliases = [...new Set(arrMap([...own, ...(c.args?.cni?.aliases ?? [])], lower))];
  const linkList = arrMap([...(c.runtimeConfig?.links ?? []), ...(c.args?.cni?.links ?? [])], (l) => parseLink(l)!);
  const out: Names = {
    shortId: ctx.env.containerId.slice(0, 12).toLowerCase(),
    aliases,
    links: arrMap(linkList, (l) => ({ target: lower(l.target), alias: lower(l.alias) })),
  };
  if (name) out.name = lower(name);
  return out;
}

/** Upstream resolvers as "address:port" pairs ([v6]:port), from the config or the host's resolv.conf. */
export function upstreams(ctx: Ctx, hostResolvConf: () => string): string[] {
  const list = ctx.conf.upstreams ?? nameservers(hostResolvConf());
  return arrMap(list, (u) => {
    const p = parseUpstream(u)!;
    return p.address.includes(':') ? `[${p.address}]:${p.port}` : `${p.address}:${p.port}`;
  });
}

/** The nameserver lines of a resolv.conf that are addresses we can reach (no zone suffixes). */
export function nameservers(resolvConf: string): string[] {
  const out: string[] = [];
  for (const line of resolvConf.split('\n')) {
    // /^\s*nameserver\s+(\S+)/, by hand
    const t = line.trimStart();
    if (!t.startsWith('nameserver') || !isSpace(t.charCodeAt(10))) continue;
    const rest = t.slice(10).trimStart();
    let end = 0;
    while (end < rest.length && !isSpace(rest.charCodeAt(end))) end++;
    const ns = rest.slice(0, end);
    if (ns && parseUpstream(ns)) out.push(ns);
  }
  return out;
}
