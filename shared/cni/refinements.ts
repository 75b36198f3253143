// Value checks that config schemas attach to strings, by name. The zod schemas use them through
// schema.ts; the compiled form of a schema (schema-node.ts) refers to them by name.
import { isAlnum, isDigits, isIfname } from '../util/chars.ts';
import { parseCIDR, parseIP } from '../util/ip.ts';

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

/**
 * A name Docker accepts for a container, alias or link: DNS labels (letters, digits, _ -, at
 * most 63 each) separated by dots, one trailing dot allowed, at most 253 in all. By hand, as
 * /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*\.?$/ with the length limits (tested against it).
 */
export function isDnsName(s: string): boolean {
  if (s.length === 0 || s.length > 253) return false;
  let label = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 46) {   // a dot ends a non-empty label; only the last character may be a lone trailing dot
      if (label === 0) return false;
      label = 0;
      continue;
    }
    if (!isAlnum(c) && c !== 95 && c !== 45) return false;
    if (++label > 63) return false;
  }
  return true;
}

/** "[address]:port" (/^\[([^\]]+)\]:(\d{1,5})$/) or, with exactly one colon, "address:port" (/^([^:]+):(\d{1,5})$/), by hand. */
function withPort(s: string): [string, string] | undefined {
  if (s.startsWith('[')) {
    const close = s.indexOf(']');
    if (close >= 2 && s.charCodeAt(close + 1) === 58 && isDigits(s.slice(close + 2), 5)) return [s.slice(1, close), s.slice(close + 2)];
  }
  const colon = s.indexOf(':');
  if (colon > 0 && s.indexOf(':', colon + 1) < 0 && isDigits(s.slice(colon + 1), 5)) return [s.slice(0, colon), s.slice(colon + 1)];
  return undefined;
}

/** "ip", "ip:port", "[v6]:port" -> address and port (53 by default). */
export function parseUpstream(s: string): { address: string; port: number } | undefined {
  const m = withPort(s);
  const address = m ? m[0] : s;
  const port = m ? Number(m[1]) : 53;
  if (parseIP(address) === undefined || port < 1 || port > 65535) return undefined;
  return { address, port };
}

export type RefinementName = keyof typeof REFINEMENTS;
