// podman 4.3 on its CNI backend again, with a node agent in the test's host namespace: the same
// assertions must hold, and the agent must have run podman's plugin calls.
import t from 'tap';
import { agentTally } from '../helpers/netns.ts';

process.env.CNI_TS_TEST_AGENT = '1';
await import('./podman.test.ts');

t.teardown(() => {
  process.stderr.write(`# agents: ${JSON.stringify(agentTally)}\n`);
  if (agentTally.started > 0 && (agentTally.served === 0 || agentTally.unclean !== 0)) {
    throw new Error(`the agent did not serve podman's calls: ${JSON.stringify(agentTally)}`);
  }
});
