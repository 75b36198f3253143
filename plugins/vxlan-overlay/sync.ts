// The sync process: the same executable, long-running (`vxlan-overlay --sync`), one per host
// network namespace for every overlay network the host is on (registry.ts: a host's first ADD on
// a network registers it, its leaving removes it; new ones are served within half a second).
// Per network it applies etcd's watch events as they come (a new or departed container's or
// host's entries within a second), where plugin calls alone converge at the next call; a full
// sync every 10 s bounds what a stalled stream could miss; with `ttl` it renews the host's
// lease. It keeps no state of its own: every step is one etcd read applied to the kernel, as a
// call does, so it can be restarted at any time.
import { setTimeout as sleep } from 'node:timers/promises';
import { boundedLog } from '../cluster/log.ts';
import { oneAtATime, syncEveryMs, watchPrefix } from '../cluster/watch.ts';
import { unlink } from '../../shared/os/fs.ts';
import { ensureDir, tryFileLock, writeFileAtomic } from '../../shared/os/files.ts';
import { join } from '../../shared/util/path.ts';
import { parseConfig } from '../../shared/cni/schema.ts';
import { DEFAULT_PREFIX, modeOf, overlayConfig, validateOverlay, type OverlayConf } from './config.ts';
import { Etcd } from '../cluster/etcd.ts';
import { networkPrefix } from './endpoints.ts';
import { resync } from './host.ts';
import { resyncL2 } from './l2-host.ts';
import { leasePrefix } from './lease.ts';
import { poolsOf } from './pools.ts';
import { timingOf } from './keys.ts';
import { registered, syncDir } from './registry.ts';

const log = (m: string): void => { process.stderr.write(`${new Date().toISOString()} vxlan-overlay sync[${process.pid}]: ${m}\n`); };

/** The most networks one host's process serves (each holds a watch connection). */
const MAX_NETWORKS = 256;

/** A registered config, checked as a call checks it. */
function confOf(text: string): OverlayConf {
  const conf = parseConfig(overlayConfig, JSON.parse(text));
  if (modeOf(conf) === 'routed') validateOverlay(conf);
  else poolsOf(conf);
  return conf;
}

export async function runSync(): Promise<void> {
  process.umask(0o077);
  const dir = syncDir();
  ensureDir(dir);
  // held for the life of the process
  if (tryFileLock(join(dir, 'sync.lock')) === undefined) { log('another sync process serves this host: leaving'); process.exit(0); }
  const pidFile = join(dir, 'sync.pid');
  writeFileAtomic(pidFile, `${process.pid}\n`, dir);
  const stop = (sig: string) => { log(`exiting: ${sig}`); try { unlink(pidFile); } catch { /* gone */ } process.exit(0); };
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(sig, () => stop(sig));
  log('serving the overlay networks this host is on');

  const served = new Map<string, { text: string; ctl: AbortController; name: string }>();
  const refused = new Set<string>();
  for (;;) {
    const now = registered();
    for (const [file, s] of served) {
      if (now.get(file) === s.text) continue;
      s.ctl.abort();
      served.delete(file);
      log(`${s.name}: no longer served${now.has(file) ? ' (its config changed)' : ''}`);
    }
    for (const [file, text] of now) {
      if (served.has(file) || refused.has(text)) continue;
      if (served.size >= MAX_NETWORKS) { log(`more than ${MAX_NETWORKS} networks: ${file} not served`); refused.add(text); continue; }
      let c: OverlayConf;
      try { c = confOf(text); } catch (e) { log(`${file}: not served: ${(e as Error).message}`); refused.add(text); continue; }
      const ctl = new AbortController();
      served.set(file, { text, ctl, name: c.name });
      log(`${c.name}: serving (mode ${modeOf(c)}, ${c.etcd.endpoints.join(', ')})`);
      void serve(c, ctl.signal);
    }
    if (refused.size > 1024) refused.clear();
    await sleep(500);
  }
}

/** One network, until `signal` aborts: watch, and sync at each event, every 10 s, every third of the ttl, and (encrypted) every half grace period. */
async function serve(c: OverlayConf, signal: AbortSignal): Promise<void> {
  const etcd = new Etcd(c.etcd);
  const l2 = modeOf(c) === 'l2';
  // l2: the network's whole tree (its endpoints and, encrypted, its keys)
  const prefix = (l2 ? networkPrefix : leasePrefix)(c.etcd.prefix ?? DEFAULT_PREFIX, c.name);
  const sync = l2 ? resyncL2 : resync;
  // a failing step (etcd away) is logged once a minute, or when its reason changes
  const failed = boundedLog(log);
  const step = oneAtATime(() => sync(c), (e) => failed(`${c.name}: sync: ${e.message}`), () => signal.aborted);
  // an encrypted network's keys change on a clock: a step each half grace period sees the next change in time
  const timer = setInterval(step, c.encrypted ? Math.min(syncEveryMs(c.ttl), timingOf(c).graceMs / 2) : syncEveryMs(c.ttl));
  signal.addEventListener('abort', () => clearInterval(timer));
  // etcd away: back off (300 ms doubling to 10 s)
  await watchPrefix(etcd, prefix, () => { void step(); }, signal, 10_000, (m) => log(`${c.name}: ${m}`));
}
