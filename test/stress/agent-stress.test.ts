// The stress probes with every call offered to a node agent in the probe's host namespace, and
// the agent killed during a storm (npm run stress: full size; the exec'd ones: stress.test.ts).
import t, { type Test } from 'tap';
import { haveBuild } from '../helpers/netns.ts';
import { agentCrash, fuzz, kill, storm, type Figures } from './probes.ts';

const clean = (t: Test, f: Figures) => {
  for (const k of ['failed', 'duplicates', 'leftovers', 'stackTraces', 'slow'] as const) t.equal(f[k], 0, `${f.name}: ${k} (${f.notes.join(' | ') || 'none'})`);
};

t.test('storm through the agent: 24 containers, 12 at a time, through libcni', { skip: !haveBuild() }, async (t) => {
  const f = await storm(24, 12, { agent: true });
  t.equal(f.calls, 48);
  t.ok((f.agentServed ?? 0) >= 48 * 4, `the agent ran the plugin calls (${f.agentServed})`);
  clean(t, f);
});

t.test('kill through the agent: 12 chain ADDs whose launcher is SIGKILLed, then DEL and a fresh ADD', { skip: !haveBuild() }, async (t) => {
  const f = await kill(12, 1, { agent: true });
  t.ok(f.calls >= 12 * 9, `${f.calls} calls`);
  t.ok((f.agentServed ?? 0) >= 12 * 8, `the agent ran the plugin calls (${f.agentServed})`);
  clean(t, f);
});

t.test('fuzz through the agent: 300 mutated calls (fixed seed)', { skip: !haveBuild() }, async (t) => {
  const f = await fuzz(300, 7, 1000, { agent: true });
  t.ok((f.addsOk ?? 0) > 5, `${f.addsOk} ADDs succeeded (and were taken down)`);
  t.ok((f.agentServed ?? 0) > 100, `the agent ran the calls offered to it (${f.agentServed})`);
  clean(t, f);
});

t.test('the agent SIGKILLed three times during a storm of 30 chain ADDs, then every chain DELed', { skip: !haveBuild() }, async (t) => {
  const f = await agentCrash(30, 6, 3);
  t.ok((f.addsOk ?? 0) > 0, `${f.addsOk} of 30 ADDs succeeded`);
  t.ok(f.notes.some((n) => n.includes('crashed and restarted (3)')), 'the agent was crashed three times');
  clean(t, f);
});
