// The resolver's side of names across hosts: per network whose records name an etcd store, a
// task that publishes this host's records there (and removes the ones it no longer has), watches
// the network's keys, and hands the resolver the other hosts' records, checked. The last known
// ones are kept on disk (<dir>/remote/), so a resolver restarted while etcd is away still answers
// them; with `ttl` the task renews this host's lease, so a dead host's records lapse.
import { setTimeout as sleep } from 'node:timers/promises';
import { readStateFile, rmdir, unlink } from '../../../shared/os/fs.ts';
import { ensureDir, writeFileAtomic } from '../../../shared/os/files.ts';
import { shortHash } from '../../../shared/util/hash.ts';
import { dirname, join } from '../../../shared/util/path.ts';
import { arrFilter, arrMap } from '../../../shared/util/arrays.ts';
import { Etcd, type KV } from '../../cluster/etcd.ts';
import { leaseIdOf, putBackKey, renewLease } from '../../cluster/lease.ts';
import { boundedLog, reportSkipped } from '../../cluster/log.ts';
import { oneAtATime, syncEveryMs, watchPrefix } from '../../cluster/watch.ts';
import { nameKey, namesPrefix, recordOf, remoteRecords } from '../cluster-names.ts';
import type { Attachment, ClusterSettings } from '../records.ts';

const STOP_MS = 2000;
const RETRY_MAX_MS = 500;

type Log = (m: string) => void;

class Task {
  private localv: Attachment[] = [];
  remote: Attachment[] = [];
  /** the other hosts' records as last read (kept on disk), checked again until etcd answers */
  private saved: KV[] = [];
  private fresh = false;
  private etcd: Etcd;
  private keyPrefix: string;
  private ctl = new AbortController();
  private running: Promise<void> | undefined;
  private published = new Map<string, string>();
  private timer: ReturnType<typeof setInterval>;
  private lastSkipLog = 0;

  constructor(readonly network: string, private settings: ClusterSettings, private me: string, private file: string, private changed: () => void, private log: Log) {
    this.etcd = new Etcd(settings.etcd);
    this.failed = boundedLog(log);
    this.keyPrefix = namesPrefix(settings.etcd.prefix, network);
    // an empty directory in the file's place was made by an earlier build's mistake: it would refuse every save
    try { rmdir(file); } catch { /* none: the usual case */ }
    try {
      const saved = JSON.parse(readStateFile(file, 4 << 20));
      // (a state file is read, not trusted: its records go through the checks etcd's do)
      if (Array.isArray(saved)) this.saved = arrFilter(saved, (kv) => typeof kv?.key === 'string' && typeof kv?.value === 'string');
    } catch { /* none yet */ }
    this.timer = setInterval(() => this.step(), syncEveryMs(settings.ttl));
    void this.watch();
  }

  get local(): Attachment[] { return this.localv; }

  /** This host's records of the network; until etcd has answered, the saved ones are checked against their subnets. */
  set local(list: Attachment[]) {
    this.localv = list;
    if (!this.fresh) this.remote = this.check(this.saved).remote;
  }

  /** The other hosts' records among `kvs`, as remoteRecords checks them against this host's subnets of the network. */
  private check(kvs: KV[]) {
    const subnets = new Set<string>();
    for (const a of this.localv) for (const s of a.subnets ?? []) subnets.add(s);
    return remoteRecords(kvs, this.keyPrefix, this.network, [...subnets], this.me);
  }

  /** One reconcile at a time; one more when asked meanwhile. */
  private failed: (m: string) => void;
  readonly step = oneAtATime(() => (this.running = this.reconcile()), (e) => this.failed(`${this.network}: names: ${e.message}`), () => this.ctl.signal.aborted);

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
    await this.removeMine(kvs, want);
    const others = arrFilter(kvs, (kv) => !want.has(kv.key));
    const { remote, skipped } = this.check(others);
    this.fresh = true;
    if (skipped.length && Date.now() - this.lastSkipLog > 60_000) {
      this.lastSkipLog = Date.now();
      reportSkipped(this.log, this.network, 'record', skipped);
    }
    if (JSON.stringify(remote) !== JSON.stringify(this.remote)) {
      this.remote = remote;
      const text = JSON.stringify(arrMap(others, (kv) => ({ key: kv.key, value: kv.value })));
      try { ensureDir(dirname(this.file)); writeFileAtomic(this.file, text, dirname(this.file)); } catch (e) { this.log(`${this.network}: ${(e as Error).message}`); }
      this.changed();
    }
  }

  /** This host's records among `kvs` that `keep` does not hold, deleted while they still hold what it wrote. */
  private async removeMine(kvs: KV[], keep: Map<string, string>): Promise<void> {
    for (const kv of kvs) {
      if (keep.has(kv.key)) continue;
      let host: unknown;
      try { host = JSON.parse(kv.value)?.host; } catch { continue; }
      if (host === this.me) { await this.etcd.deleteIf(kv.key, kv.value); this.published.delete(kv.key); }
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
      await this.removeMine((await this.etcd.range(this.keyPrefix)).kvs, new Map());
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
