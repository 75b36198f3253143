// The runtimes' tests (libcni as cnitool and podman call it, go-cni as containerd's CRI and
// nerdctl do, and the conflists nerdctl and podman write) again, with a node agent in every test
// host namespace: the same assertions must hold, and the agents must have run the calls.
import t from 'tap';
import { agentTally } from '../helpers/netns.ts';

process.env.CNI_TS_TEST_AGENT = '1';
await import('./libcni.test.ts');
await import('./gocni.test.ts');
await import('./runtimes.test.ts');

t.teardown(() => {
  process.stderr.write(`# agents: ${JSON.stringify(agentTally)}\n`);
  // (tap's teardown runs after every test above: their namespaces, and so their agents, are gone)
  if (agentTally.started === 0 || agentTally.served === 0 || agentTally.unclean !== 0) {
    throw new Error(`the agents did not serve these tests: ${JSON.stringify(agentTally)}`);
  }
});
t.test('the agents ran the calls', async (t) => {
  t.ok(agentTally.started > 0, `${agentTally.started} agents started so far`);
});
