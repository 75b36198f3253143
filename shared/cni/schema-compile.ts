// A zod/mini config schema -> the plain-data SchemaNode the executables validate with
// (shared/cni/schema-node.ts), at build time; run from source, the same node drives Go-style key
// matching (go-json.ts). Only the zod features our schemas use are understood; any other fails
// the build, so a schema can never be compiled into something looser than itself.
import type * as z from 'zod/mini';
import { REFINEMENTS, type RefinementName } from './refinements.ts';
import type { Check, SchemaNode } from './schema-node.ts';
import { arrEvery, arrFind, arrMap } from '../util/arrays.ts';

type Def = { type: string; [k: string]: any };
const defOf = (s: unknown): Def => (s as { _zod: { def: Def } })._zod.def;

function refinementName(fn: unknown): RefinementName {
  const name = arrFind(Object.keys(REFINEMENTS) as RefinementName[], (n) => REFINEMENTS[n].test === fn);
  if (!name) throw new Error('schema-compile: a refine() whose function is not in shared/cni/refinements.ts');
  return name;
}

function checks(def: Def, where: string): Check[] {
  return (def.checks ?? []).map((c: unknown): Check => {
    const d = defOf(c) as Def & { check: string };
    switch (d.check) {
      case 'number_format':
        if (d.format !== 'safeint') break;
        return { k: 'int' };
      case 'greater_than':
        if (!d.inclusive || d.abort) break;
        return { k: 'min', v: d.value };
      case 'less_than':
        if (!d.inclusive || d.abort) break;
        return { k: 'max', v: d.value };
      case 'custom':
        if (d.abort || d.when) break;
        return { k: 'refine', name: refinementName(d.fn) };
    }
    throw new Error(`schema-compile: ${where}: unsupported check ${JSON.stringify({ check: d.check, format: d.format, abort: d.abort })}`);
  });
}

export function compileSchema(schema: z.ZodMiniType, where = '(config)'): SchemaNode {
  const def = defOf(schema);
  const noChecks = (): void => { if (def.checks?.length) throw new Error(`schema-compile: ${where}: checks on ${def.type} are not supported`); };
  switch (def.type) {
    case 'object': {
      noChecks();
      if (!def.catchall || defOf(def.catchall).type !== 'unknown') throw new Error(`schema-compile: ${where}: only looseObject is supported`);
      return { t: 'object', shape: arrMap(Object.entries(def.shape as Record<string, z.ZodMiniType>), ([k, v]) => [k, compileSchema(v, `${where}.${k}`)]) };
    }
    case 'optional': noChecks(); return { t: 'optional', inner: compileSchema(def.innerType, where) };
    case 'string': return { t: 'string', checks: checks(def, where) };
    case 'number': return { t: 'number', checks: checks(def, where) };
    case 'boolean': noChecks(); return { t: 'boolean' };
    case 'unknown': noChecks(); return { t: 'unknown' };
    case 'array': noChecks(); return { t: 'array', el: compileSchema(def.element, `${where}[]`) };
    case 'record':
      noChecks();
      if (defOf(def.keyType).type !== 'string' || defOf(def.keyType).checks?.length) throw new Error(`schema-compile: ${where}: record keys must be plain strings`);
      return { t: 'record', value: compileSchema(def.valueType, `${where}{}`) };
    case 'union': noChecks(); return { t: 'union', options: arrMap(def.options as z.ZodMiniType[], (o, i) => compileSchema(o, `${where}|${i}`)) };
    case 'enum': {
      noChecks();
      const values = Object.values(def.entries as Record<string, unknown>);
      if (!arrEvery(values, (v) => typeof v === 'string')) throw new Error(`schema-compile: ${where}: only string enums are supported`);
      return { t: 'enum', values: values as string[] };
    }
  }
  throw new Error(`schema-compile: ${where}: unsupported zod type "${def.type}"`);
}
