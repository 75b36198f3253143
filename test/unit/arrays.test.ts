// shared/util/arrays.ts stands in for the array callback builtins on every call's path: each helper
// must give what the builtin gives, and plugin code must not call the builtins again.
import t from 'tap';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { arrEvery, arrFilter, arrFind, arrFindIndex, arrForEach, arrMap, arrSome } from '../../shared/util/arrays.ts';

let seed = 11;
const rnd = (n: number) => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n; };
const lists: number[][] = [[]];
for (let i = 0; i < 2000; i++) lists.push(Array.from({ length: rnd(9) }, () => rnd(7)));
const preds: ((v: number, i: number) => boolean)[] = [(v) => v > 3, (v, i) => v === i, () => false, () => true, (v, i) => (v + i) % 3 === 0];

t.test('each helper gives what its builtin gives', async (t) => {
  let differ = 0;
  for (const xs of lists) {
    for (const p of preds) {
      const seen: [number, number][] = [];
      const seenB: [number, number][] = [];
      arrForEach(xs, (v, i) => { seen.push([v, i]); });
      xs.forEach((v, i) => { seenB.push([v, i]); });
      const pairs: [unknown, unknown][] = [
        [arrMap(xs, (v, i) => v * 10 + i), xs.map((v, i) => v * 10 + i)],
        [arrFilter(xs, p), xs.filter(p)],
        [arrFind(xs, p), xs.find(p)],
        [arrFindIndex(xs, p), xs.findIndex(p)],
        [arrSome(xs, p), xs.some(p)],
        [arrEvery(xs, p), xs.every(p)],
        [seen, seenB],
      ];
      for (const [a, b] of pairs) if (JSON.stringify(a) !== JSON.stringify(b)) differ++;
    }
  }
  t.equal(differ, 0, `${lists.length} lists x ${preds.length} predicates, no result differs`);
  t.ok(lists.some((xs) => xs.length > 4) && lists.some((xs) => xs.length === 0), 'empty and longer lists are among them');
});

t.test('plugin code calls the helpers, not the builtins', async (t) => {
  const root = join(import.meta.dirname, '..', '..');
  const files: string[] = [];
  const walk = (d: string): void => {
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      if (statSync(p).isDirectory()) { if (n !== 'node_modules' && n !== 'build') walk(p); } else if (n.endsWith('.ts')) files.push(p);
    }
  };
  for (const d of ['shared', 'plugins', 'ipam']) walk(join(root, d));
  // schema-compile.ts runs at build time only (it compiles the zod schemas into the bundle)
  const builtin = /\.(map|filter|find|findIndex|some|every|forEach)\(/;
  const found = files.filter((f) => !f.endsWith('schema-compile.ts')).flatMap((f) =>
    readFileSync(f, 'utf8').split('\n').flatMap((l, i) => (builtin.test(l) && !l.trim().startsWith('//') ? [`${f.slice(root.length + 1)}:${i + 1}: ${l.trim()}`] : [])));
  t.same(found, [], `${files.length} files`);
  t.ok(files.length > 50, 'the walk found the sources');
});
