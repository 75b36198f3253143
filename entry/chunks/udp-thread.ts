// One of dns-hosts' resolver's UDP threads (a worker the resolver starts with this executable).
import { runUdpWorker } from '../../plugins/dns-hosts/resolver/udp-worker.ts';

export function run(): never {
  const { workerData, isMainThread } = process.getBuiltinModule('node:worker_threads') as typeof import('node:worker_threads');
  if (!isMainThread) runUdpWorker(workerData);
  process.exit(2);
}
