// The resolver's side of names across hosts: per network whose records name an etcd store, a
// task that publishes this host's records there (and removes the ones it no longer has), watches
// the network's keys, and hands the resolver the other hosts' records, checked. The last known
// ones are kept on disk (<dir>/remote/), so a resolver restarted while etcd is away still answers
// them; with `ttl` the task renews this host's lease, so a dead host's records lapse.
import { setTimeout as sleep } from 'node:timers/promises';
import { readStateFile, unlink } from '../../../shared/os/fs.ts';
import { ensureDir, writeFileAtomic } from '../../../shared/os/files.ts';
import { shortHash } from '../../../shared/util/hash.ts';
import { join } from '../../../shared/util/path.ts';
import { arrFilter, arrMap } from '../../../shared/util/arrays.ts';
import { Etcd } from '../../cluster/etcd.ts';
import { leaseIdOf, putBackKey, renewLease } from '../../cluster/lease.ts';
import { oneAtATime, watchPrefix } from '../../cluster/watch.ts';
import { nameKey, namesPrefix, recordOf, remoteRecords } from '../cluster-names.ts';
import type { Attachment, ClusterSettings } from '../records.ts';

const FULL_SYNC_MS = 10_000;
const STOP_MS = 2000;
const RETRY_MAX_MS = 500;

type Log = (m: string) => void;

class Task {
  local: Attachment[] = [];
  remote: Attachment[] = [];
  private etcd: Etcd;
  private keyPrefix: string;
  private ctl = new AbortController();
  private running: Promise<void> | undefined;
  private published = new Map<string, string>();
  private timer: ReturnType<typeof setInterval>;
  private lastSkipLog = 0;

  constructor(readonly network: string, private settings: ClusterSettings, private me: string, private file: string, private changed: () => void, private log: Log) {
    this.etcd = new Etcd(settings.etcd);
    this.keyPrefix = namesPrefix(settings.etcd.prefix, network);
    try {
      const saved = JSON.parse(readStateFile(file, 4 << 20));
      if (Array.isArray(saved)) this.remote = arrFilter(saved, (a) => a && typeof a === 'object' && a.remote && a.network === network);
    } catch { /* none yet */ }
    const ttl = settings.ttl ?? 0;
    this.timer = setInterval(() => this.step(), ttl ? Math.min(FULL_SYNC_MS, Math.max(1000, (ttl * 1000) / 3)) : FULL_SYNC_MS);
    void this.watch();
  }

  /** One reconcile at a time; one more when asked meanwhile. */
  readonly step = oneAtATime(() => (this.running = this.reconcile()), (e) => this.log(`${this.network}: names: ${e.message}`), () => this.ctl.signal.aborted);

  /** Publish what this host has, remove what it no longer has, read the others'. */
  private async reconcile(): Promise<void> {
    const ttl = this.settings.ttl ?? 0;
    const want = new Map(arrMap(this.local, (a) => [nameKey(this.keyPrefix, a), JSON.stringify(recordOf(a, this.me))] as const));
    const lease = ttl ? await renewLease(this.etcd, leaseIdOf(`${this.me}/dns/${this.network}`), ttl, async (id) => {
      for (const [k, v] of want) await putBackKey(this.etcd, k, v, id);
      this.published.clear();
    }) : undefined;
    const { kvs } = await this.etcd.range(this.keyPrefix);
    const have = new Map(arrMap(kvs, (kv) => [kv.key, kv.value] as const));
    for (const [k, v] of want) {
      if (have.get(k) === v && this.published.get(k) === v) continue;
      await this.etcd.putAbsent([[k, v, have.get(k)]], lease);
      this.published.set(k, v);
    }
    // this host's records it no longer has (only while they still hold what it wrote)
    for (const kv of kvs) {
      if (want.has(kv.key)) continue;
      let host: unknown;
      try { host = JSON.parse(kv.value)?.host; } catch { continue; }
      if (host === this.me) { await this.etcd.deleteIf(kv.key, kv.value); this.published.delete(kv.key); }
    }
    const subnets = new Set<string>();
    for (const a of this.local) for (const s of a.subnets ?? []) subnets.add(s);
    const { remote, skipped } = remoteRecords(arrFilter(kvs, (kv) => !want.has(kv.key)), this.keyPrefix, this.network, [...subnets], this.me);
    if (skipped.length && Date.now() - this.lastSkipLog > 60_000) {
      this.lastSkipLog = Date.now();
      for (const why of skipped.slice(0, 4)) this.log(`${this.network}: record skipped: ${why}`);
      if (skipped.length > 4) this.log(`${this.network}: ${skipped.length - 4} more records skipped`);
    }
    const text = JSON.stringify(remote);
    if (text !== JSON.stringify(this.remote)) {
      this.remote = remote;
      try { ensureDir(join(this.file, '..')); writeFileAtomic(this.file, text, join(this.file, '..')); } catch (e) { this.log(`${this.network}: ${(e as Error).message}`); }
      this.changed();
    }
  }

  /** Watch the network's keys: a reconcile at each change, and at each (re)connection. */
  private watch(): Promise<void> {
    // (retrying every half second at most: a name added while etcd was away resolves everywhere within a second of its return)
    return watchPrefix(this.etcd, this.keyPrefix, () => { void this.step(); }, this.ctl.signal, RETRY_MAX_MS, (m) => this.log(`${this.network}: ${m}`));
  }

  /** Stop: this host's records removed from etcd (bounded), the watch ended, the saved ones removed. */
  async stop(): Promise<void> {
    this.local = [];
    clearInterval(this.timer);
    try {
      await Promise.race([this.running ?? Promise.resolve(), sleep(STOP_MS)]);
      const { kvs } = await this.etcd.range(this.keyPrefix);
      for (const kv of kvs) {
        let host: unknown;
        try { host = JSON.parse(kv.value)?.host; } catch { continue; }
        if (host === this.me) await this.etcd.deleteIf(kv.key, kv.value);
      }
    } catch (e) { this.log(`${this.network}: names not removed from etcd: ${(e as Error).message}`); }
    this.ctl.abort();
    try { unlink(this.file); } catch { /* none */ }
  }
}

export class ClusterNames {
  private tasks = new Map<string, Task>();
  constructor(private dir: string, private me: string, private changed: () => void, private log: Log) {}

  /** The other hosts' records of every network served. */
  remote(): Attachment[] {
    const out: Attachment[] = [];
    for (const t of this.tasks.values()) for (const a of t.remote) out.push(a);
    return out;
  }

  /** This host's records now: tasks started, fed and stopped to match; each publishes at once. */
  update(local: Attachment[]): void {
    const by = new Map<string, { settings: ClusterSettings; list: Attachment[]; network: string }>();
    for (const a of local) {
      if (!a.cluster) continue;
      const k = `${a.network} ${JSON.stringify(a.cluster)}`;
      const e = by.get(k) ?? { settings: a.cluster, list: [], network: a.network };
      e.list.push(a);
      by.set(k, e);
    }
    for (const [k, t] of this.tasks) if (!by.has(k)) { this.tasks.delete(k); void t.stop().then(() => this.changed()); }
    for (const [k, e] of by) {
      let t = this.tasks.get(k);
      if (!t) {
        t = new Task(e.network, e.settings, this.me, join(this.dir, 'remote', `${shortHash(k, 16)}.json`), this.changed, this.log);
        this.tasks.set(k, t);
      }
      t.local = e.list;
      void t.step();
    }
  }

  /** Every task stopped (this host's records removed from etcd), within a bound. */
  async stopAll(): Promise<void> {
    const all = [...this.tasks.values()];
    this.tasks.clear();
    await Promise.race([Promise.all(arrMap(all, (t) => t.stop())), sleep(STOP_MS * 2)]);
  }
}
