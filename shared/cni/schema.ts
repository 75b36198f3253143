// zod/mini pieces every plugin config shares, and error messages that name the field.
import * as z from 'zod/mini';
import { CniError, ErrCode } from './errors.ts';
import { parseCIDR, parseIP } from '../ip.ts';

type Issue = z.core.$ZodIssue;

function fieldPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out ? `.${String(p)}` : String(p);
  return out || '(config)';
}

const describe = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);

function issueText(i: Issue): string {
  const input = (i as { input?: unknown }).input;
  switch (i.code) {
    case 'invalid_type': return input === undefined ? `is required (${i.expected})` : `expected ${i.expected}, got ${describe(input)}`;
    case 'invalid_value': return `must be one of ${i.values.map((v) => JSON.stringify(v)).join(', ')}, got ${JSON.stringify(input)}`;
    case 'too_small': return `must be at least ${String(i.minimum)}${i.origin === 'string' ? ' characters long' : ''}`;
    case 'too_big': return `must be at most ${String(i.maximum)}${i.origin === 'string' ? ' characters long' : ''}`;
    case 'invalid_union': return 'has none of the accepted forms';
    default: return i.message && i.message !== 'Invalid input' ? i.message : 'is invalid';
  }
}

/**
 * Parse a config with its schema. Wrong JSON types are decoding failures (code 6, as Go's
 * json.Unmarshal reports them); values that fail validation are invalid config (code 7).
 */
export function parseConfig<T>(schema: z.ZodMiniType<T>, input: unknown): T {
  const r = schema.safeParse(input, { reportInput: true });
  if (r.success) return r.data;
  const issues = r.error.issues;
  const msg = issues.slice(0, 5).map((i) => `${fieldPath(i.path)} ${issueText(i)}`).join('; ');
  const decoding = issues.every((i) => i.code === 'invalid_type' && (i as { input?: unknown }).input !== undefined);
  throw new CniError(decoding ? ErrCode.DecodingFailure : ErrCode.InvalidConfig, `invalid network config: ${msg}`);
}

// common field types
export const ipString = () => z.string().check(z.refine((s) => parseIP(s) !== undefined, 'must be an IP address'));
export const cidrString = () => z.string().check(z.refine((s) => parseCIDR(s) !== undefined, 'must be a CIDR (address/prefix)'));

export const dnsSchema = () => z.looseObject({
  nameservers: z.optional(z.array(z.string())),
  domain: z.optional(z.string()),
  search: z.optional(z.array(z.string())),
  options: z.optional(z.array(z.string())),
});

/** Keys every network config has; plugins extend this. Unknown keys are kept and ignored. */
export const baseShape = () => ({
  cniVersion: z.optional(z.string()),
  name: z.string(),
  type: z.string(),
  capabilities: z.optional(z.record(z.string(), z.boolean())),
  ipam: z.optional(z.looseObject({ type: z.optional(z.string()) })),
  dns: z.optional(dnsSchema()),
  args: z.optional(z.looseObject({})),
  runtimeConfig: z.optional(z.looseObject({})),
  prevResult: z.optional(z.unknown()),
});

export const baseSchema = () => z.looseObject(baseShape());
export type BaseConf = z.infer<ReturnType<typeof baseSchema>>;
