// A config schema as plain data, and its validator. The build derives these nodes from the zod
// schemas (shared/cni/schema-compile.ts) so that a plugin call validates without loading zod, whose
// start-up and schema construction cost milliseconds a call. The issues are the ones zod
// reports (same codes, paths, bounds and ordering); test/unit/schema-compiled.test.ts holds
// the two to each other over a corpus of valid and broken configs.
import { REFINEMENTS, type RefinementName } from './refinements.ts';

export type Check =
  | { k: 'int' }
  | { k: 'min'; v: number }
  | { k: 'max'; v: number }
  | { k: 'refine'; name: RefinementName };

export type SchemaNode =
  | { t: 'object'; shape: [string, SchemaNode][] }      // loose: unknown keys kept
  | { t: 'optional'; inner: SchemaNode }
  | { t: 'string'; checks: Check[] }
  | { t: 'number'; checks: Check[] }
  | { t: 'boolean' }
  | { t: 'unknown' }
  | { t: 'array'; el: SchemaNode }
  | { t: 'record'; value: SchemaNode }
  | { t: 'union'; options: SchemaNode[] }
  | { t: 'enum'; values: string[] };

/** The fields of a zod issue that messages are made from. */
export interface Issue {
  code: string;
  path: PropertyKey[];
  input?: unknown;
  expected?: string;
  values?: unknown[];
  minimum?: number;
  maximum?: number;
  origin?: string;
  message?: string;
  continue?: boolean;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function typeIssue(expected: string, input: unknown, path: PropertyKey[]): Issue {
  return { code: 'invalid_type', expected, path, ...(input === undefined ? {} : { input }) };
}

// (plain loops and one path array pushed and popped: a call validates two configs before it
// does anything, in an interpreter; an issue copies the path it is found at)
function runChecks(checks: Check[], v: any, path: PropertyKey[], out: Issue[]): void {
  for (const c of checks) {
    switch (c.k) {
      case 'int':
        // zod: a non-continuable issue aborts the rest
        if (!Number.isInteger(v)) { out.push({ ...typeIssue('int', v, [...path]), continue: false }); return; }
        if (!Number.isSafeInteger(v)) {
          out.push(v > 0
            ? { code: 'too_big', maximum: Number.MAX_SAFE_INTEGER, origin: 'int', input: v, path: [...path], continue: true }
            : { code: 'too_small', minimum: Number.MIN_SAFE_INTEGER, origin: 'int', input: v, path: [...path], continue: true });
        }
        break;
      case 'min': if (v < c.v) out.push({ code: 'too_small', minimum: c.v, origin: 'number', input: v, path: [...path], continue: true }); break;
      case 'max': if (v > c.v) out.push({ code: 'too_big', maximum: c.v, origin: 'number', input: v, path: [...path], continue: true }); break;
      case 'refine': {
        const r = REFINEMENTS[c.name];
        if (!r.test(v)) out.push({ code: 'custom', message: r.message, input: v, path: [...path], continue: true });
        break;
      }
    }
  }
}

/** Every issue zod would report for `input`, in zod's order. */
export function validate(node: SchemaNode, input: unknown, path: PropertyKey[] = [], out: Issue[] = []): Issue[] {
  walk(node, input, [...path], out);
  return out;
}

function walk(node: SchemaNode, input: unknown, path: PropertyKey[], out: Issue[]): void {
  switch (node.t) {
    case 'optional':
      if (input !== undefined) walk(node.inner, input, path, out);
      break;
    case 'unknown':
      break;
    case 'boolean':
      if (typeof input !== 'boolean') out.push(typeIssue('boolean', input, [...path]));
      break;
    case 'string':
      if (typeof input !== 'string') out.push(typeIssue('string', input, [...path]));
      else if (node.checks.length) runChecks(node.checks, input, path, out);
      break;
    case 'number':
      if (typeof input !== 'number' || !Number.isFinite(input)) out.push(typeIssue('number', input, [...path]));
      else if (node.checks.length) runChecks(node.checks, input, path, out);
      break;
    case 'enum':
      if (!node.values.includes(input as string)) out.push({ code: 'invalid_value', values: node.values, path: [...path], ...(input === undefined ? {} : { input }) });
      break;
    case 'array':
      if (!Array.isArray(input)) { out.push(typeIssue('array', input, [...path])); break; }
      for (let i = 0; i < input.length; i++) {
        path.push(i);
        walk(node.el, input[i], path, out);
        path.pop();
      }
      break;
    case 'record':
      if (!isPlainObject(input)) { out.push(typeIssue('record', input, [...path])); break; }
      for (const k in input) {
        path.push(k);
        walk(node.value, input[k], path, out);
        path.pop();
      }
      break;
    case 'object':
      if (!isPlainObject(input)) { out.push(typeIssue('object', input, [...path])); break; }
      for (const [k, sub] of node.shape) {
        path.push(k);
        // a required key of type unknown that is absent: zod reports it as "nonoptional"
        if (sub.t === 'unknown' && !(k in input)) out.push({ code: 'invalid_type', expected: 'nonoptional', path: [...path] });
        else walk(sub, input[k], path, out);
        path.pop();
      }
      break;
    case 'union': {
      let ok = false;
      for (const o of node.options) if (!validate(o, input, path).length) { ok = true; break; }
      if (!ok) out.push({ code: 'invalid_union', path: [...path], ...(input === undefined ? {} : { input }) });
      break;
    }
  }
}
