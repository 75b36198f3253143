// Config schemas: zod/mini is the single source of truth for every plugin's config. The build
// compiles each schema to a SchemaNode (shared/cni/schema-compile.ts) that the executables validate
// with, so a call never loads zod; run from source (tests, tsx) the zod schema itself parses.
// Either way the error names the field.
import * as z from 'zod/mini';
import { CniError, ErrCode } from './errors.ts';
import { REFINEMENTS, type RefinementName } from './refinements.ts';
import { goNormalize } from './go-json.ts';
import { compileSchema } from './schema-compile.ts';
import { validate, type Issue, type SchemaNode } from './schema-node.ts';
import { arrEvery, arrFind, arrMap, arrSome } from '../util/arrays.ts';

/** A plugin's config schema: an id the build compiles it under, and the zod schema, built on demand. */
export interface ConfigSchema<T> { id: string; zod: () => z.ZodMiniType<T> }

export const configSchema = <T>(id: string, zod: () => z.ZodMiniType<T>): ConfigSchema<T> => ({ id, zod });

// the compiled schemas, defined by the build: id -> SchemaNode as JSON text (parsed on use: a
// large object literal costs more start-up than parsing the one schema a call needs)
declare const __CNI_TS_SCHEMAS__: Record<string, string> | undefined;
const compiled = typeof __CNI_TS_SCHEMAS__ === 'undefined' ? undefined : __CNI_TS_SCHEMAS__;

let zodConfigured = false;
function zodIssues(schema: z.ZodMiniType, input: unknown): Issue[] {
  if (!zodConfigured) {
    // one parse per process: compiling object parsers with new Function costs more than it saves
    z.config({ jitless: true });
    zodConfigured = true;
  }
  const r = schema.safeParse(input, { reportInput: true });
  return r.success ? [] : (r.error.issues as Issue[]);
}

const nodes = new Map<string, SchemaNode>();

/** The schema as plain data: compiled into a build, compiled from zod when run from source. */
export function schemaNode(cs: ConfigSchema<unknown>): SchemaNode {
  let n = nodes.get(cs.id);
  if (n) return n;
  if (compiled) {
    const text = compiled[cs.id];
    if (!text) throw new CniError(ErrCode.Plugin, `internal error: config schema "${cs.id}" is not compiled into this build`);
    n = JSON.parse(text) as SchemaNode;
  } else {
    n = compileSchema(cs.zod(), cs.id);
  }
  nodes.set(cs.id, n);
  return n;
}

/** The issues for `input` (already Go-normalized): zod's own from source, the compiled schema's in a build. */
export function configIssues(cs: ConfigSchema<unknown>, input: unknown): Issue[] {
  return compiled ? validate(schemaNode(cs), input) : zodIssues(cs.zod(), input);
}

function fieldPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out ? `.${String(p)}` : String(p);
  return out || '(config)';
}

const describe = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);

function issueText(i: Issue): string {
  const input = i.input;
  switch (i.code) {
    case 'invalid_type': return input === undefined ? `is required (${i.expected})` : `expected ${i.expected}, got ${describe(input)}`;
    case 'invalid_value': return `must be one of ${arrMap(i.values ?? [], (v) => JSON.stringify(v)).join(', ')}, got ${JSON.stringify(input)}`;
    case 'too_small': return `must be at least ${String(i.minimum)}${i.origin === 'string' ? ' characters long' : ''}`;
    case 'too_big': return `must be at most ${String(i.maximum)}${i.origin === 'string' ? ' characters long' : ''}`;
    case 'invalid_union': return 'has none of the accepted forms';
    default: return i.message && i.message !== 'Invalid input' ? i.message : 'is invalid';
  }
}

/**
 * Parse a config with its schema, its keys first matched as Go's decoder matches them (see
 * go-json.ts). Wrong JSON types are decoding failures (code 6, as Go's json.Unmarshal reports
 * them); values that fail validation are invalid config (code 7).
 */
export function parseConfig<T>(cs: ConfigSchema<T>, input: unknown): T {
  const conf = goNormalize(schemaNode(cs), input);
  const issues = configIssues(cs, conf);
  if (!issues.length) return conf as T;   // no schema transforms: the (normalized) input is the config
  throw configError(issues);
}

/**
 * The same for DEL, which must clean up whatever it can: a field that fails validation is
 * dropped (the nearest optional field or array element holding it) and the rest is used. Only
 * when what is left still fails (a required field is wrong) does it throw.
 */
export function parseConfigLenient<T>(cs: ConfigSchema<T>, input: unknown): T {
  const node = schemaNode(cs);
  let conf = goNormalize(node, input);
  let issues = configIssues(cs, conf);
  if (!issues.length) return conf as T;
  conf = structuredClone(conf);
  for (let round = 0; issues.length && round < 64; round++) {
    if (!arrSome(issues, (i) => pruneAt(node, conf, i.path))) break;
    issues = configIssues(cs, conf);
  }
  if (!issues.length) return conf as T;
  throw configError(issues);
}

/** Remove the nearest optional field, array element or record entry holding `path`; false if none. */
function pruneAt(node: SchemaNode, root: unknown, path: readonly PropertyKey[]): boolean {
  let at: { parent: any; key: PropertyKey } | undefined;
  let n: SchemaNode | undefined = node;
  let v: any = root;
  for (const key of path) {
    while (n?.t === 'optional') n = n.inner;
    if (n?.t === 'union') n = arrFind(n.options, (o) => (o.t === 'array') === Array.isArray(v));
    if (!n || v === null || typeof v !== 'object') break;
    let child: SchemaNode | undefined;
    if (n.t === 'object') {
      child = arrFind(n.shape, ([k]) => k === key)?.[1];
      if (child?.t === 'optional') at = { parent: v, key };
    } else if (n.t === 'array' || n.t === 'record') {
      child = n.t === 'array' ? n.el : n.value;
      at = { parent: v, key };
    }
    n = child;
    v = v[key as string];
  }
  if (!at) return false;
  if (Array.isArray(at.parent)) at.parent.splice(at.key as number, 1);
  else delete at.parent[at.key as string];
  return true;
}

/** The CNI error for a list of issues: at most five, each naming its field. */
export function configError(issues: Issue[]): CniError {
  const msg = arrMap(issues.slice(0, 5), (i) => `${fieldPath(i.path)} ${issueText(i)}`).join('; ');
  const decoding = arrEvery(issues, (i) => i.code === 'invalid_type' && i.input !== undefined);
  return new CniError(decoding ? ErrCode.DecodingFailure : ErrCode.InvalidConfig, `invalid network config: ${msg}`);
}

// common field types; refinements live in refinements.ts so the compiled form can name them
const refined = (name: RefinementName) => z.string().check(z.refine(REFINEMENTS[name].test, REFINEMENTS[name].message));
export const ipString = () => refined('ip');
export const cidrString = () => refined('cidr');
export const macString = () => refined('mac');
export const ifnameOrEmpty = () => refined('ifnameOrEmpty');
export const dnsNameString = () => refined('dnsName');
export const upstreamString = () => refined('upstream');
export const linkString = () => refined('link');
export const endpointString = () => refined('endpoint');
export const keyPathString = () => refined('keyPath');

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
