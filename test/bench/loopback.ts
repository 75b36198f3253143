// loopback ADD: ours vs /usr/lib/cni/loopback.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { BIN, REFERENCE_BIN } from '../helpers/netns.ts';
import { execPlugin, type Bench, type Impl } from './lib.ts';

export function loopbackAdd(): Bench {
  const ns = `cnits-bench-lo-${process.pid}`;
  const conf = JSON.stringify({ cniVersion: '1.0.0', name: 'bench', type: 'loopback', nerdctlID: 'x'.repeat(64), nerdctlLabels: { a: 'b'.repeat(900) } });
  const env = { PATH: process.env.PATH, CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'bench1', CNI_NETNS: `/run/netns/${ns}`, CNI_IFNAME: 'lo', CNI_PATH: BIN };
  const impl = (label: Impl['label'], dir: string): Impl => ({
    label,
    run: () => { execPlugin(join(dir, 'loopback'), env, conf); },
    rssProbe: () => ({ cmd: join(dir, 'loopback'), args: [], env, input: conf }),
  });
  return {
    name: 'loopback ADD',
    runs: 50,
    impls: [impl('ours', BIN), impl('reference', REFERENCE_BIN)],
    setup: () => { execFileSync('ip', ['netns', 'add', ns]); },
    teardown: () => { execFileSync('ip', ['netns', 'del', ns]); },
  };
}
