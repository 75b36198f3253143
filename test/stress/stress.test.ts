// The stress probes at a reduced size, in the README's test command (npm run stress: full size).
import t, { type Test } from 'tap';
import { haveBuild } from '../helpers/netns.ts';
import { fuzz, kill, storm, type Figures } from './probes.ts';

const clean = (t: Test, f: Figures) => {
  for (const k of ['failed', 'duplicates', 'leftovers', 'stackTraces', 'slow'] as const) t.equal(f[k], 0, `${f.name}: ${k} (${f.notes.join(' | ') || 'none'})`);
};

t.test('storm: 24 containers, 12 at a time over two networks, through libcni', { skip: !haveBuild() }, async (t) => {
  const f = await storm(24, 12);
  t.equal(f.calls, 48);
  clean(t, f);
});

t.test('kill: 12 chain ADDs SIGKILLed at random moments, then DEL and a fresh ADD', { skip: !haveBuild() }, async (t) => {
  const f = await kill(12);
  t.ok(f.calls >= 12 * 9, `${f.calls} calls`);
  clean(t, f);
});

t.test('fuzz: 400 calls of mutated configs and environments (fixed seed)', { skip: !haveBuild() }, async (t) => {
  const f = await fuzz(400);
  t.ok((f.addsOk ?? 0) > 5, `${f.addsOk} ADDs succeeded (and were taken down)`);
  clean(t, f);
});
