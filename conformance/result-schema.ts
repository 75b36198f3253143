// What a result must look like in each spec version (zod/mini), for the conformance runner.
import * as z from 'zod/mini';

const cidr = () => z.string().check(z.regex(/^[0-9a-fA-F.:]+\/\d{1,3}$/));
const ip = () => z.string().check(z.regex(/^[0-9a-fA-F.:]+$/));
const dns = () => z.strictObject({
  nameservers: z.optional(z.array(z.string())), domain: z.optional(z.string()),
  search: z.optional(z.array(z.string())), options: z.optional(z.array(z.string())),
});
const route020 = () => z.strictObject({ dst: cidr(), gw: z.optional(ip()) });

export const resultSchemas = {
  '0.2.0': () => z.strictObject({
    cniVersion: z.literal('0.2.0'),
    ip4: z.optional(z.strictObject({ ip: cidr(), gateway: z.optional(ip()), routes: z.optional(z.array(route020())) })),
    ip6: z.optional(z.strictObject({ ip: cidr(), gateway: z.optional(ip()), routes: z.optional(z.array(route020())) })),
    dns: z.optional(dns()),
  }),
  '0.4.0': (v: string) => z.strictObject({
    cniVersion: z.literal(v),
    interfaces: z.optional(z.array(z.strictObject({ name: z.string(), mac: z.optional(z.string()), sandbox: z.optional(z.string()) }))),
    ips: z.optional(z.array(z.strictObject({ version: z.enum(['4', '6']), interface: z.optional(z.number()), address: cidr(), gateway: z.optional(ip()) }))),
    routes: z.optional(z.array(route020())),
    dns: z.optional(dns()),
  }),
  '1.0.0': (v: string) => z.strictObject({
    cniVersion: z.literal(v),
    interfaces: z.optional(z.array(z.strictObject({ name: z.string(), mac: z.optional(z.string()), sandbox: z.optional(z.string()) }))),
    ips: z.optional(z.array(z.strictObject({ interface: z.optional(z.number()), address: cidr(), gateway: z.optional(ip()) }))),
    routes: z.optional(z.array(route020())),
    dns: z.optional(dns()),
  }),
  '1.1.0': () => z.strictObject({
    cniVersion: z.literal('1.1.0'),
    interfaces: z.optional(z.array(z.strictObject({
      name: z.string(), mac: z.optional(z.string()), mtu: z.optional(z.number()), sandbox: z.optional(z.string()),
      socketPath: z.optional(z.string()), pciID: z.optional(z.string()),
    }))),
    ips: z.optional(z.array(z.strictObject({ interface: z.optional(z.number()), address: cidr(), gateway: z.optional(ip()) }))),
    routes: z.optional(z.array(z.strictObject({
      dst: cidr(), gw: z.optional(ip()), mtu: z.optional(z.number()), advmss: z.optional(z.number()),
      priority: z.optional(z.number()), table: z.optional(z.number()), scope: z.optional(z.number()),
    }))),
    dns: z.optional(dns()),
  }),
};

/** undefined when valid, else the first problem. */
export function resultProblem(result: unknown, version: string): string | undefined {
  const schema = version === '0.1.0' || version === '0.2.0' ? resultSchemas['0.2.0']()
    : version.startsWith('0.') ? resultSchemas['0.4.0'](version) : version === '1.0.0' ? resultSchemas['1.0.0'](version) : resultSchemas['1.1.0']();
  const r = schema.safeParse(result);
  if (r.success) return undefined;
  const i = r.error.issues[0]!;
  return `${i.path.join('.') || '(result)'}: ${i.code}${'keys' in i ? ` ${JSON.stringify((i as { keys: string[] }).keys)}` : ''}`;
}
