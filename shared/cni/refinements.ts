// Value checks that config schemas attach to strings, by name. The zod schemas use them through
// schema.ts; the compiled form of a schema (schema-node.ts) refers to them by name.
import { isIfname } from '../chars.ts';
import { parseCIDR, parseIP } from '../ip.ts';

export interface Refinement { test: (s: string) => boolean; message: string }

export const REFINEMENTS = {
  ip: { test: (s) => parseIP(s) !== undefined, message: 'must be an IP address' },
  cidr: { test: (s) => parseCIDR(s) !== undefined, message: 'must be a CIDR (address/prefix)' },
  mac: { test: (s) => /^([0-9a-fA-F]{2}[:-]){5}[0-9a-fA-F]{2}$/.test(s), message: 'must be a MAC address' },
  ifnameOrEmpty: { test: (s) => s === '' || isIfname(s), message: 'must be an interface name (1-15 of A-Z a-z 0-9 _ . @ -)' },
  dnsName: { test: (s) => isDnsName(s), message: 'must be a DNS name (letters, digits, - _ . ; at most 253 characters)' },
  upstream: { test: (s) => parseUpstream(s) !== undefined, message: 'must be an IP address, optionally with :port ([v6]:port)' },
  endpoint: { test: (s) => /^https?:\/\/[^/\s]+\/?$/.test(s), message: 'must be an http:// or https:// host:port' },
  keyPath: { test: (s) => /^\/[A-Za-z0-9_.\/-]*$/.test(s) && !s.includes('..'), message: 'must be a key path starting with / (letters, digits, _ . / -)' },
  link: { test: (s) => parseLink(s) !== undefined, message: 'must be a link "target:alias" (DNS names; the alias defaults to the target)' },
} satisfies Record<string, Refinement>;

/** Docker's --link "target[:alias]" (a leading "/" on either name, as Docker writes them, dropped). */
export function parseLink(s: string): { target: string; alias: string } | undefined {
  const [t, a, extra] = s.split(':');
  const target = (t ?? '').replace(/^\//, '');
  const alias = (a ?? target).replace(/^\/.*\//, '').replace(/^\//, '');
  if (extra !== undefined || !isDnsName(target) || !isDnsName(alias)) return undefined;
  return { target, alias };
}

/** A name Docker accepts for a container, alias or link: DNS labels, separated by dots. */
export function isDnsName(s: string): boolean {
  return s.length > 0 && s.length <= 253 && /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*\.?$/.test(s) && s.split('.').every((l) => l.length <= 63);
}

/** "ip", "ip:port", "[v6]:port" -> address and port (53 by default). */
export function parseUpstream(s: string): { address: string; port: number } | undefined {
  const m = /^\[([^\]]+)\]:(\d{1,5})$/.exec(s) ?? (s.split(':').length === 2 ? /^([^:]+):(\d{1,5})$/.exec(s) : null);
  const address = m ? m[1]! : s;
  const port = m ? Number(m[2]) : 53;
  if (parseIP(address) === undefined || port < 1 || port > 65535) return undefined;
  return { address, port };
}

export type RefinementName = keyof typeof REFINEMENTS;
