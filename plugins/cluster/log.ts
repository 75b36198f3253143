// How the plugins that keep cluster state report what goes wrong with etcd: bounded, so that
// etcd away or a store full of bad records never floods a log. No imports: plain calls load it.

/**
 * `log` bounded for a long-running process: a message is written when it differs from the last
 * one, or a minute after it (etcd away for hours writes a line a minute, not one a retry).
 */
export function boundedLog(log: (m: string) => void): (m: string) => void {
  let last = '', at = 0;
  return (m) => {
    if (m === last && Date.now() - at < 60_000) return;
    last = m; at = Date.now();
    log(m);
  };
}

/** What a read of etcd skipped, as both plugins report it: four lines at most, then a count. */
export function reportSkipped(log: (m: string) => void, network: string, what: string, skipped: string[]): void {
  for (const why of skipped.slice(0, 4)) log(`${network}: ${what} skipped: ${why}`);
  if (skipped.length > 4) log(`${network}: ${skipped.length - 4} more ${what}s skipped`);
}
