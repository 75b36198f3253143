// The watcher: the same executable, long-running (`vxlan-overlay --watch=<conflist>`), one
// per network and host namespace (a lock and a pid file under /run/cni-ts/vxlan-overlay/).
// It applies etcd's watch events as they come (a new or departed host's route, neighbour and
// FDB entries within a second), where plugin calls alone converge at the next call. It keeps
// no state of its own: every step is one etcd read applied to the kernel, as a call does.
import { setTimeout as sleep } from 'node:timers/promises';
import { readConfigFile, unlink } from '../../shared/os/fs.ts';
import { tryFileLock, writeFileAtomic } from '../../shared/os/files.ts';
import { join } from '../../shared/util/path.ts';
import { parseConfig } from '../../shared/cni/schema.ts';
import { DEFAULT_PREFIX, modeOf, overlayConfig, validateOverlay, type OverlayConf } from './config.ts';
import { endpointPrefix } from './endpoints.ts';
import { resyncL2 } from './l2-host.ts';
import { poolsOf } from './pools.ts';
import { Etcd } from './etcd.ts';
import { resync, watcherDir } from './host.ts';
import { leasePrefix } from './lease.ts';
import { arrFind } from '../../shared/util/arrays.ts';

const log = (m: string): void => { process.stderr.write(`${new Date().toISOString()} vxlan-overlay watcher[${process.pid}]: ${m}\n`); };

/** The vxlan-overlay config of a conflist (or of a single-plugin config file). */
export function overlayConfOf(path: string): OverlayConf {
  const raw = JSON.parse(readConfigFile(path)) as Record<string, any>;
  const plugin = Array.isArray(raw.plugins) ? arrFind(raw.plugins, (p: any) => p?.type === 'vxlan-overlay') : raw.type === 'vxlan-overlay' ? raw : undefined;
  if (!plugin) throw new Error(`${path} has no vxlan-overlay plugin`);
  const conf = parseConfig(overlayConfig, { ...plugin, name: raw.name, cniVersion: raw.cniVersion });
  if (modeOf(conf) === 'routed') validateOverlay(conf);
  else poolsOf(conf);
  return conf;
}

export async function runWatcher(path: string): Promise<void> {
  process.umask(0o077);
  const c = overlayConfOf(path);
  const dir = watcherDir();
  // held for the life of the process
  if (tryFileLock(join(dir, `${c.name}.watcher.lock`)) === undefined) { log(`another watcher serves ${c.name} here: leaving`); process.exit(0); }
  const pidFile = join(dir, `${c.name}.watcher.pid`);
  writeFileAtomic(pidFile, `${process.pid}\n`, join(dir, '.tmp'));
  const stop = (sig: string) => { log(`exiting: ${sig}`); try { unlink(pidFile); } catch { /* gone */ } process.exit(0); };
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(sig, () => stop(sig));
  log(`watching ${c.name} (${c.etcd.endpoints.join(', ')})`);

  const etcd = new Etcd(c.etcd);
  const l2 = modeOf(c) === 'l2';
  const prefix = (l2 ? endpointPrefix : leasePrefix)(c.etcd.prefix ?? DEFAULT_PREFIX, c.name);
  const sync = l2 ? resyncL2 : resync;
  let running: Promise<void> | undefined, again = false;
  const step = (): void => {
    if (running) { again = true; return; }
    running = sync(c).catch((e: Error) => log(`sync: ${e.message}`)).finally(() => { running = undefined; if (again) { again = false; step(); } });
  };
  // the host's etcd lease renewed every third of its TTL (a step renews it)
  if (l2 && c.ttl) setInterval(step, Math.max(1000, (c.ttl * 1000) / 3));
  // etcd away: back off (300 ms doubling to 10 s) and log a failure once a minute, or when it changes
  let delay = 300, lastLog = '', lastAt = 0;
  for (;;) {
    let watching = false;
    try {
      const { revision } = await etcd.range(prefix);
      watching = true;
      step();
      await etcd.watch(prefix, revision + 1, () => step());
    } catch (e) {
      const m = (e as Error).message;
      if (m !== lastLog || Date.now() - lastAt > 60_000) { log(`etcd: ${m}${delay > 300 ? ` (retrying every ${delay} ms)` : ''}`); lastLog = m; lastAt = Date.now(); }
    }
    delay = watching ? 300 : Math.min(delay * 2, 10_000);
    await sleep(delay);   // the endpoint went away: watch again (the next endpoint if it stays away)
  }
}
