// The conformance suite, ours against the reference plugins in one table: ours must pass every
// scenario this kernel can run (ipvlan's run in the guest suite); the reference's failures are
// its deviations, listed in conformance/README.md.
import t from 'tap';
import { loadScenarios, runScenario, table, type Outcome } from '../../conformance/runner.ts';
import { BIN, REFERENCE_BIN } from '../helpers/netns.ts';

const outcomes: Outcome[] = [];
let id = 0;
for (const s of loadScenarios()) {
  for (const [impl, dir] of [['ours', BIN], ['reference', REFERENCE_BIN]] as const) outcomes.push(runScenario(s, impl, dir, id++));
}
t.comment(`\n${table(outcomes, ['ours', 'reference'])}`);
for (const o of outcomes.filter((x) => x.impl === 'ours')) {
  if (o.skipped) {
    t.equal(o.group, 'ipvlan', `${o.scenario}: skipped only where the kernel lacks the link type (${o.skipped})`);
    continue;
  }
  t.ok(o.pass, `${o.scenario}${o.why ? `: ${o.why}` : ''}`);
}
t.ok(outcomes.some((o) => o.impl === 'reference' && o.pass), 'the reference ran too');
