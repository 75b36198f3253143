// macvlan ADD and DEL (no IPAM: the link itself), ours vs the reference, on a veth parent.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { BIN, REFERENCE_BIN } from '../helpers/netns.ts';
import { execPlugin, type Bench, type Impl } from './lib.ts';

function macvlanBench(op: 'ADD' | 'DEL'): () => Bench {
  return () => {
    const ctrs: string[] = [];
    const conf = JSON.stringify({ cniVersion: '1.0.0', name: 'bench-mv', type: 'macvlan', master: 'cnitsmvp', mode: 'bridge' });
    const impl = (label: Impl['label'], dir: string): Impl => {
      const ns = `cnits-bench-mv-${label}-${process.pid}`;
      ctrs.push(ns);
      const env = (cmd: string) => ({ PATH: process.env.PATH, CNI_COMMAND: cmd, CNI_CONTAINERID: `mv-${label}`, CNI_NETNS: `/run/netns/${ns}`, CNI_IFNAME: 'eth0', CNI_PATH: dir });
      const add = () => { execPlugin(join(dir, 'macvlan'), env('ADD'), conf); };
      const del = () => { execPlugin(join(dir, 'macvlan'), env('DEL'), conf); };
      return op === 'ADD' ? { label, run: add, reset: del } : { label, prepare: add, run: del };
    };
    const impls = [impl('ours', BIN), impl('reference', REFERENCE_BIN)];
    return {
      name: `macvlan ${op}`, runs: 30, impls,
      setup: () => {
        execFileSync('ip', ['link', 'add', 'cnitsmvp', 'type', 'veth', 'peer', 'name', 'cnitsmvq']);
        execFileSync('ip', ['link', 'set', 'cnitsmvp', 'up']);
        for (const n of ctrs) execFileSync('ip', ['netns', 'add', n]);
      },
      teardown: () => {
        for (const n of ctrs) execFileSync('ip', ['netns', 'del', n]);
        execFileSync('ip', ['link', 'del', 'cnitsmvp']);
      },
    };
  };
}

export const macvlanBenches = [macvlanBench('ADD'), macvlanBench('DEL')];
