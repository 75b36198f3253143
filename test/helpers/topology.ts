// Test topologies: a host namespace, container namespaces, an "outside" host joined to the
// host by a veth pair, and traffic between them. Everything is torn down by the test.
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import type { Test } from 'tap';
import { ROOT, ipIn, makeNetns } from './netns.ts';

const TRAFFIC = join(ROOT, 'test/helpers/traffic.mjs');

/** A host namespace with an outside neighbour: host 192.0.2.1/24 <-> outside 192.0.2.2/24 (TEST-NET-1, only inside these namespaces). */
export function hostWithOutside(t: Test) {
  const host = makeNetns(t, 'cnits-host');
  const outside = makeNetns(t, 'cnits-out');
  ipIn(host.name, 'link', 'add', 'uplink', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', outside.name);
  ipIn(host.name, 'addr', 'add', '192.0.2.1/24', 'dev', 'uplink');
  ipIn(host.name, 'addr', 'add', '2001:db8:2::1/64', 'dev', 'uplink', 'nodad');
  ipIn(host.name, 'link', 'set', 'uplink', 'up');
  ipIn(outside.name, 'addr', 'add', '192.0.2.2/24', 'dev', 'eth0');
  ipIn(outside.name, 'addr', 'add', '2001:db8:2::2/64', 'dev', 'eth0', 'nodad');
  ipIn(outside.name, 'link', 'set', 'eth0', 'up');
  return { host, outside };
}

export function ping(ns: string, target: string, count = 1): boolean {
  const args = ['netns', 'exec', ns, 'ping', '-c', String(count), '-W', '1', '-i', '0.2', target];
  if (target.includes(':')) args.splice(4, 0, '-6');
  return spawnSync('ip', args, { stdio: 'ignore', timeout: 10_000 }).status === 0;
}

/** A listener inside `ns`; stopped in teardown. Resolves once it is listening. */
export async function serve(t: Test, ns: string, proto: 'tcp' | 'udp', port: number): Promise<void> {
  const p = spawn('ip', ['netns', 'exec', ns, process.execPath, TRAFFIC, 'serve', proto, String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => { p.kill('SIGKILL'); });
  await new Promise<void>((res, rej) => {
    p.stdout.on('data', (d) => { if (String(d).includes('ready')) res(); });
    p.on('exit', (c) => rej(new Error(`listener exited ${c}`)));
  });
}

/** Ask a listener from inside `ns`; the answer is the address the listener saw, or undefined. */
export function ask(ns: string, proto: 'tcp' | 'udp', host: string, port: number): string | undefined {
  const r = spawnSync('ip', ['netns', 'exec', ns, process.execPath, TRAFFIC, 'ask', proto, host, String(port)], { encoding: 'utf8', timeout: 10_000 });
  return r.status === 0 ? r.stdout.trim().replace(/^::ffff:/, '') : undefined;
}
