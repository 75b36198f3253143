// Value checks that config schemas attach to strings, by name. The zod schemas use them through
// schema.ts; the compiled form of a schema (schema-node.ts) refers to them by name.
import { parseCIDR, parseIP } from '../ip.ts';

export interface Refinement { test: (s: string) => boolean; message: string }

export const REFINEMENTS = {
  ip: { test: (s) => parseIP(s) !== undefined, message: 'must be an IP address' },
  cidr: { test: (s) => parseCIDR(s) !== undefined, message: 'must be a CIDR (address/prefix)' },
  mac: { test: (s) => /^([0-9a-fA-F]{2}[:-]){5}[0-9a-fA-F]{2}$/.test(s), message: 'must be a MAC address' },
  ifnameOrEmpty: { test: (s) => s === '' || /^[A-Za-z0-9_.@-]{1,15}$/.test(s), message: 'must be an interface name (1-15 of A-Z a-z 0-9 _ . @ -)' },
} satisfies Record<string, Refinement>;

export type RefinementName = keyof typeof REFINEMENTS;
