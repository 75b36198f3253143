// The layout's one rule, read from the code itself: imports go one way down,
//   entry -> cli, agent -> plugins -> ipam -> shared
// with the tooling above them all (build/, then conformance/, then test/); no plugin imports another
// plugin's folder (code some plugins share lives in a folder of its own under plugins/, which
// imports no plugin); and no loop between top-level folders or between folders of plugins/.
// Every relative import counts: static, type-only, re-exports and import() alike.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import t from 'tap';
import { PLUGIN_MODULES } from '../../plugins/registry.ts';

const ROOT = join(import.meta.dirname, '../..');
const SOURCE = ['entry', 'cli', 'agent', 'plugins', 'ipam', 'shared', 'build', 'conformance', 'test'];

/** Lower ranks are imported by higher ones, never the other way. */
const RANK: Record<string, number> = { shared: 0, ipam: 1, plugins: 2, cli: 3, agent: 3, entry: 4, build: 5, conformance: 6, test: 7 };

/** The folders under plugins/ that are plugins (the registry's modules); the others are shared by some. */
const PLUGIN_FOLDERS = new Set(Object.values(PLUGIN_MODULES).map(([m]) => m.split('/')).filter((p) => p[0] === 'plugins').map((p) => p[1]!));

export type Graph = Map<string, string[]>;

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) { if (e.name !== 'node_modules' && e.name !== 'build' || dir !== 'shared/netns-native') out.push(...sourceFiles(p)); }
    else if (/\.(ts|mts|mjs|js)$/.test(e.name) && !e.name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

// (a specifier built at run time, `../${module}`, is the build's: not an import of this file)
const IMPORT = /(?:\bfrom\s*|\bimport\s*\(?\s*)(['"])(\.{1,2}\/[^'"$]+)\1/g;

/** Every source file and the files of this tree it imports (relative specifiers, resolved). */
export function readGraph(): Graph {
  const g: Graph = new Map();
  for (const top of SOURCE) {
    for (const f of sourceFiles(top)) {
      const text = readFileSync(join(ROOT, f), 'utf8');
      const targets: string[] = [];
      for (const m of text.matchAll(IMPORT)) {
        const to = normalize(join(dirname(f), m[2]!));
        if (!to.startsWith('..') && !to.startsWith('node_modules')) targets.push(to);
      }
      g.set(f, targets);
    }
  }
  return g;
}

const top = (f: string): string => f.split('/')[0]!;
/** The folder of plugins/ a file is in ("bridge"), or undefined for a file directly in plugins/. */
const pluginsFolder = (f: string): string | undefined => { const p = f.split('/'); return p[0] === 'plugins' && p.length > 2 ? p[1] : undefined; };

/** Cycles in a graph of names, as lists of names (each cycle once, from its least name). */
function cycles(edges: Map<string, Set<string>>): string[][] {
  const found = new Map<string, string[]>();
  const walk = (start: string, at: string, path: string[]): void => {
    for (const next of edges.get(at) ?? []) {
      if (next === start) { const c = [...path]; const k = [...c].sort().join(' '); if (!found.has(k)) found.set(k, c); continue; }
      if (next < start || path.includes(next)) continue;
      walk(start, next, [...path, next]);
    }
  };
  for (const n of [...edges.keys()].sort()) walk(n, n, [n]);
  return [...found.values()];
}

/** What breaks the layout's rule, one line each. */
export function violations(g: Graph): string[] {
  const out: string[] = [];
  const tops = new Map<string, Set<string>>(), folders = new Map<string, Set<string>>();
  for (const [from, targets] of g) {
    for (const to of targets) {
      const a = top(from), b = top(to);
      if (a !== b) {
        (tops.get(a) ?? tops.set(a, new Set()).get(a)!).add(b);
        if (RANK[b] === undefined || RANK[a] === undefined) out.push(`${from} -> ${to}: outside the source folders`);
        else if (RANK[b]! > RANK[a]!) out.push(`${from} -> ${to}: ${a}/ imports ${b}/, which is above it`);
      }
      const fa = pluginsFolder(from), fb = pluginsFolder(to);
      if (fa && fb && fa !== fb) {
        (folders.get(fa) ?? folders.set(fa, new Set()).get(fa)!).add(fb);
        if (PLUGIN_FOLDERS.has(fb)) {
          out.push(PLUGIN_FOLDERS.has(fa)
            ? `${from} -> ${to}: plugin ${fa} imports plugin ${fb} (move what they share to a folder of its own under plugins/)`
            : `${from} -> ${to}: plugins/${fa}, shared by plugins, imports plugin ${fb}`);
        }
      }
    }
  }
  for (const c of cycles(tops)) out.push(`loop between top-level folders: ${[...c, c[0]].join(' -> ')}`);
  for (const c of cycles(folders)) out.push(`loop between folders of plugins/: ${[...c, c[0]].join(' -> ')}`);
  return out;
}

t.test('the layout: imports go one way down, no plugin imports another, no loops', async (t) => {
  const g = readGraph();
  t.ok(g.size > 100, `read the source files (${g.size})`);
  t.ok([...g.values()].reduce((n, x) => n + x.length, 0) > 300, 'and their imports');
  t.same(violations(g), [], 'no import breaks the rule');
  t.ok(PLUGIN_FOLDERS.has('bridge') && PLUGIN_FOLDERS.has('vxlan-overlay') && !PLUGIN_FOLDERS.has('local-bridge'), 'plugin folders come from the registry');
});

t.test('the check fails on what it forbids', async (t) => {
  const g = readGraph();
  const withEdge = (from: string, to: string): Graph => new Map([...g, [from, [...(g.get(from) ?? []), relative('.', to)]]]);
  const upward = violations(withEdge('shared/util/ip.ts', 'plugins/bridge/index.ts'));
  t.match(upward.join('\n'), /shared\/util\/ip\.ts -> plugins\/bridge\/index\.ts: shared\/ imports plugins\/, which is above it/, 'an import from shared/ into plugins/');
  t.match(upward.join('\n'), /loop between top-level folders/, 'and the loop it makes');
  t.match(violations(withEdge('ipam/host-local/index.ts', 'cli/main.ts')).join('\n'), /ipam\/ imports cli\//, 'from ipam/ into cli/');
  t.match(violations(withEdge('shared/cni/skel.ts', 'entry/dispatch.ts')).join('\n'), /shared\/ imports entry\//, 'from shared/ into the entry');
  t.match(violations(withEdge('plugins/vxlan-overlay/index.ts', 'plugins/bridge/index.ts')).join('\n'), /plugin vxlan-overlay imports plugin bridge/, 'one plugin importing another');
  t.match(violations(withEdge('plugins/nft-state/batch.ts', 'plugins/portmap/nft.ts')).join('\n'), /plugins\/nft-state, shared by plugins, imports plugin portmap/, 'a shared folder of plugins/ importing a plugin');
  t.match(violations(withEdge('plugins/nft-state/owner.ts', 'plugins/local-bridge/nft.ts')).join('\n'), /loop between folders of plugins\/: local-bridge -> nft-state -> local-bridge/, 'a loop between folders of plugins/');
  t.match(violations(withEdge('cli/table.ts', 'build/build.ts')).join('\n'), /cli\/ imports build\//, 'from the program into its tooling');
});
