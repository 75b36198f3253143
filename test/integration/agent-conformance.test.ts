// The conformance corpus through the node agent: every scenario run twice on our plugins, exec'd
// and then with an agent in the scenario's host namespace (same names, same order). The agent's
// run must pass, print byte for byte what the exec'd run printed (MAC addresses aside: the
// kernel picks a veth's at random), and have run every call a launcher offers it (all but
// VERSION, which the launcher answers, and calls with no CNI_COMMAND).
import t from 'tap';
import { loadScenarios, runScenario } from '../../conformance/runner.ts';
import { BIN } from '../helpers/netns.ts';

const macs = (s: string): string => s.replace(/"mac": "[0-9a-f:]{17}"/g, '"mac": "<mac>"');
let id = 0;
for (const s of loadScenarios()) {
  const exec = runScenario(s, 'ours', BIN, id);
  if (exec.skipped) { id++; continue; }
  const agent = runScenario(s, 'ours+agent', BIN, id++, { agent: true });
  t.test(s.name, async (t) => {
    t.ok(exec.pass, `exec'd: ${exec.why ?? 'pass'}`);
    t.ok(agent.pass, `through the agent: ${agent.why ?? 'pass'}`);
    t.same(agent.transcript!.map(macs), exec.transcript!.map(macs), 'the same outputs and exit statuses');
    const offered = agent.transcript!.filter((l) => !l.startsWith('VERSION ') && !l.startsWith(' ')).length;
    t.equal(agent.agentServed, offered, `the agent ran the ${offered} calls offered to it`);
    t.ok(agent.agentStopped, 'the agent stopped on SIGTERM');
  });
}
