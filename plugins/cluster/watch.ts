// A long-running process's view of a key prefix: `changed` at each (re)connection and at each
// change etcd reports, for as long as `signal` lets it. With etcd away it retries, backing off
// from 300 ms to `retryMaxMs`, and logs a failure once a minute, or when it changes.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Etcd } from './etcd.ts';
import { boundedLog } from './log.ts';

/** How often a long-running process syncs a network in full: every 10 s, or every third of a host lease's TTL (at least 1 s). */
export const syncEveryMs = (ttl: number | undefined): number => (ttl ? Math.min(10_000, Math.max(1000, (ttl * 1000) / 3)) : 10_000);

export async function watchPrefix(etcd: Etcd, prefix: string, changed: () => void, signal: AbortSignal, retryMaxMs: number, log: (m: string) => void): Promise<void> {
  let delay = 300;
  const failed = boundedLog(log);
  while (!signal.aborted) {
    let watching = false;
    try {
      const { revision } = await etcd.range(prefix);
      watching = true;
      changed();
      await etcd.watch(prefix, revision + 1, changed, signal);
    } catch (e) {
      failed(`etcd: ${(e as Error).message}`);
    }
    delay = watching ? 300 : Math.min(delay * 2, retryMaxMs);
    try { await sleep(delay, undefined, { signal }); } catch { /* stopped */ }
  }
}

/**
 * `run` made to go one at a time: a call while it runs asks for one more run after it (however
 * many calls came), never a second at once. Failures go to `onError`.
 */
export function oneAtATime(run: () => Promise<void>, onError: (e: Error) => void, stopped: () => boolean = () => false): () => Promise<void> {
  let running: Promise<void> | undefined, again = false;
  const step = (): Promise<void> => {
    if (stopped()) return Promise.resolve();
    if (running) { again = true; return running; }
    running = run().catch(onError).finally(() => {
      running = undefined;
      if (again) { again = false; void step(); }
    });
    return running;
  };
  return step;
}
