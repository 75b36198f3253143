// Go's encoding/json key matching, for input written by Go runtimes. Go matches a JSON key to a
// struct field by its exact name first, else case-insensitively (Unicode simple folding), and a
// later key for the same field overwrites an earlier one. Structs without JSON tags therefore
// travel with Go's own field names (containerd's go-cni sends `"HostPort"`, `"RangeStart"`,
// `"Servers"`), and the reference plugins accept them. We do the same, driven by the config
// schemas (one mechanism for every config, runtimeConfig and args key) and by the result keys.
import type { SchemaNode } from './schema-node.ts';
import { arrFind, arrMap } from '../util/arrays.ts';

type Json = Record<string, unknown>;
const isPlainObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The folded form of a key: equal for two keys exactly when Go's EqualFold says so. */
export function goFold(s: string): string {
  let out = '';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (c < 0x80) { out += c >= 0x61 && c <= 0x7a ? String.fromCharCode(c - 32) : ch; continue; }
    // the smallest rune of the fold orbit, as Go's foldRune (K for the Kelvin sign, S for ſ)
    let min = c;
    for (const x of [ch.toUpperCase(), ch.toLowerCase(), ch.toLowerCase().toUpperCase()]) {
      const y = x.codePointAt(0)!;
      if ([...x].length === 1 && y < min) min = y;
    }
    out += String.fromCodePoint(min);
  }
  return out;
}

const foldCache = new Map<readonly string[], Map<string, string>>();

function foldedFields(fields: readonly string[]): Map<string, string> {
  let m = foldCache.get(fields);
  if (!m) {
    m = new Map();
    for (const f of fields) { const k = goFold(f); if (!m.has(k)) m.set(k, f); }
    foldCache.set(fields, m);
  }
  return m;
}

/**
 * `o` with every key that Go would decode into one of `fields` renamed to that field (the
 * same object when no key needs it). Keys matching no field are kept as they are.
 */
export function goKeys(o: Json, fields: readonly string[]): Json {
  let rename = false;
  for (const k in o) if (!fields.includes(k) && foldedFields(fields).has(goFold(k))) { rename = true; break; }
  if (!rename) return o;
  const folded = foldedFields(fields);
  const out: Json = {};
  for (const [k, v] of Object.entries(o)) {
    const field = fields.includes(k) ? k : (folded.get(goFold(k)) ?? k);
    out[field] = v;
  }
  return out;
}

const kindOf = (v: unknown): string => (Array.isArray(v) ? 'array' : isPlainObject(v) ? 'object' : typeof v);

function nodeKind(n: SchemaNode): string {
  switch (n.t) {
    case 'optional': return nodeKind(n.inner);
    case 'record': return 'object';
    default: return n.t;
  }
}

const fieldsCache = new WeakMap<object, string[]>();
const fieldsOf = (n: Extract<SchemaNode, { t: 'object' }>): string[] => {
  let f = fieldsCache.get(n);
  if (!f) fieldsCache.set(n, (f = arrMap(n.shape, ([k]) => k)));
  return f;
};

/**
 * `input` as Go would decode it into the structs `node` describes: keys renamed to the
 * schema's field names at every depth. Returns `input` itself when nothing changes.
 */
export function goNormalize(node: SchemaNode, input: unknown): unknown {
  switch (node.t) {
    case 'optional':
      return input === undefined ? input : goNormalize(node.inner, input);
    case 'object': {
      if (!isPlainObject(input)) return input;
      let o = goKeys(input, fieldsOf(node));
      for (const [k, sub] of node.shape) {
        if (!(k in o)) continue;
        const v = goNormalize(sub, o[k]);
        if (v !== o[k]) { if (o === input) o = { ...input }; o[k] = v; }
      }
      return o;
    }
    case 'array': {
      if (!Array.isArray(input)) return input;
      let out: unknown[] | undefined;
      for (let i = 0; i < input.length; i++) {
        const v = input[i], n = goNormalize(node.el, v);
        if (n !== v) (out ??= [...input])[i] = n;
      }
      return out ?? input;
    }
    case 'record': {
      if (!isPlainObject(input)) return input;
      let out: Json | undefined;
      for (const [k, v] of Object.entries(input)) {
        const n = goNormalize(node.value, v);
        if (n !== v) (out ??= { ...input })[k] = n;
      }
      return out ?? input;
    }
    case 'union': {
      // the first option of the input's JSON kind (Go has no unions: the struct is one shape)
      const opt = arrFind(node.options, (o) => nodeKind(o) === kindOf(input));
      return opt ? goNormalize(opt, input) : input;
    }
    default:
      return input;
  }
}
