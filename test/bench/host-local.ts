// host-local ADD in a /16 with 0 and with 10,000 existing leases: ours vs the reference.
// Each timed ADD is undone (its lease file removed) outside the timing.
import { mkdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, REFERENCE_BIN } from '../helpers/netns.ts';
import { execPlugin, type Bench, type Impl } from './lib.ts';

export function hostLocalAdd(leases: number): () => Bench {
  return () => {
    const dataDir = join(tmpdir(), `cnits-bench-hl-${leases}-${process.pid}`);   // made by setup
    const conf = JSON.stringify({ cniVersion: '1.0.0', name: 'bench', type: 'host-local', ipam: { type: 'host-local', dataDir, ranges: [[{ subnet: '10.100.0.0/16' }]] } });
    const dir = join(dataDir, 'bench');
    const impl = (label: Impl['label'], bin: string): Impl => {
      let last = '';
      const env = (i: number) => ({ PATH: process.env.PATH, CNI_COMMAND: 'ADD', CNI_CONTAINERID: `bench-${label}-${i}`, CNI_NETNS: '/x', CNI_IFNAME: 'eth0', CNI_PATH: BIN });
      return {
        label,
        run: (i) => { last = JSON.parse(execPlugin(join(bin, 'host-local'), env(i), conf)).ips[0].address.split('/')[0]; },
        reset: (i) => {
          unlinkSync(join(dir, last));
          rmSync(join(dataDir, '.cni-ts/bench/ids', `bench-${label}-${i}@eth0`), { force: true });
        },
        rssProbe: () => ({ cmd: join(bin, 'host-local'), args: [], env: { ...env(99999), CNI_COMMAND: 'CHECK', CNI_CONTAINERID: 'lease-1' }, input: conf.replace('1.0.0', '1.1.0') }),
      };
    };
    return {
      name: `host-local ADD, ${leases} leases in a /16`,
      runs: 40,
      impls: [impl('ours', BIN), impl('reference', REFERENCE_BIN)],
      setup: () => {
        mkdirSync(dir, { recursive: true });
        for (let i = 1; i <= leases; i++) {
          const ip = `10.100.${(i + 1) >> 8}.${(i + 1) & 255}`;
          writeFileSync(join(dir, ip), `lease-${i}\r\neth0`);
          if (i === leases) writeFileSync(join(dir, 'last_reserved_ip.0'), ip);
        }
      },
      teardown: () => rmSync(dataDir, { recursive: true, force: true }),
    };
  };
}
