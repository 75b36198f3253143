// 50 bridge ADDs at once (kubelet starting many pods): wall time of the whole batch, ours vs
// the reference. Each batch runs from one shell that starts all 50 and waits for them.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, REFERENCE_BIN } from '../helpers/netns.ts';
import type { Bench, Impl } from './lib.ts';

const N = 50;

export function concurrentBridgeAdd(): Bench {
  const dataDir = join(tmpdir(), `cnits-bench-conc-${process.pid}`);
  const namespaces: string[] = [];
  const confs: [string, string][] = [];
  const impl = (label: Impl['label'], dir: string, k: number): Impl => {
    const conf = join(dataDir, `${label}.json`);
    confs.push([conf, JSON.stringify({ cniVersion: '1.0.0', name: `conc-${label}`, type: 'bridge', bridge: `cnitsc${k}`, isGateway: true, ipMasq: false, ipam: { type: 'host-local', dataDir, ranges: [[{ subnet: `10.${220 + k}.0.0/16` }]] } })]);
    const ns = Array.from({ length: N }, (_, i) => `cnits-bc-${label.slice(0, 3)}-${process.pid}-${i}`);
    namespaces.push(...ns);
    const batch = (cmd: string) => {
      const script = ns.map((n, i) => `CNI_COMMAND=${cmd} CNI_CONTAINERID=c${i} CNI_NETNS=/run/netns/${n} CNI_IFNAME=eth0 CNI_PATH=${dir} ${join(dir, 'bridge')} <${conf} >/dev/null || echo FAIL &`).join('\n');
      const r = spawnSync('bash', ['-c', `${script}\nwait`], { encoding: 'utf8' });
      if (r.status !== 0 || r.stdout.includes('FAIL')) throw new Error(`${label}: concurrent ${cmd} failed: ${r.stdout}${r.stderr}`);
    };
    return { label, run: () => batch('ADD'), reset: () => batch('DEL') };
  };
  return {
    name: `${N} concurrent bridge ADDs (wall time of the batch)`,
    runs: 30,
    impls: [impl('ours', BIN, 0), impl('reference', REFERENCE_BIN, 1)],
    setup: () => {
      mkdirSync(dataDir, { recursive: true });
      for (const [f, text] of confs) writeFileSync(f, text);
      for (const n of namespaces) execFileSync('ip', ['netns', 'add', n]);
    },
    teardown: () => { for (const n of namespaces) spawnSync('ip', ['netns', 'del', n]); rmSync(dataDir, { recursive: true, force: true }); },
  };
}
