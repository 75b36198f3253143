// The resolver: the same executable, run by its supervisor (supervisor.ts), which the first ADD
// that needs it starts (`dns-hosts --resolver=<state dir>`). One per host network namespace,
// held by a lock and named by a pid file; fed by the record files, which it reloads when a call
// says "sync" on its control socket (and answers only once it serves them); exits when no record
// remains. Killed, it loses nothing: the records are on disk, and the supervisor starts it again
// (the next ADD, CHECK or GC starts both when the supervisor is gone too).
// This thread (records, listeners, TCP, forwarding, the control socket) and the UDP threads
// (udp-lanes.ts, udp-worker.ts), which answer datagrams outside the event loop.
import { closeFile, unlink, writeFd } from '../../../shared/os/fs.ts';
import { basename } from '../../../shared/util/path.ts';
import { ClusterNames } from './cluster.ts';
import { clusterHost } from '../../cluster/lease.ts';
import { tryFileLock, writeFileAtomic } from '../../../shared/os/files.ts';
import { exitCall, native } from '../../../shared/os/native.ts';
import { paths, readAll, readRecord, recordKey, type Attachment } from '../records.ts';
import { answer, buildTables, byNamespace, RCODE, scopeOf, statusReply, type Tables } from './answer.ts';
import { forward } from './forward.ts';
import { MAX_PENDING, MAX_PER_CONTAINER } from './upstream-lane.ts';
import { Listener, type Handlers } from './listeners.ts';
import { serveControl } from './control.ts';
import type { FromUdp, View } from './udp-worker.ts';
import { UdpLanes } from './udp-lanes.ts';
import { normalJit } from './jit.ts';
import { setTimeout as sleep } from 'node:timers/promises';
import { arrFilter, arrMap } from '../../../shared/util/arrays.ts';


/** "<network>/<containerID>:<ifname>" as the skeleton validates them */
const RECORD_KEY = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*\/[a-zA-Z0-9][a-zA-Z0-9_.-]*:[^/:\s]{1,15}$/;
/** "<pid>:<fd>": the calling process and its descriptor of the container's namespace */
const NETNS_HANDLE = /^[1-9][0-9]{0,9}:[0-9]{1,9}$/;
/** How often the resolver looks whether its supervisor is still there. */
const PARENT_CHECK_MS = 250;
const START_LOCK_MS = 3000;

// (straight to fd 2, the log file: written before an _exit, never queued in a stream)
const log = (msg: string): void => { try { writeFd(2, `${new Date().toISOString()} resolver[${process.pid}]: ${msg}\n`); } catch { /* no log */ } };

class Resolver {
  private tables: Tables = buildTables([]);
  /** names across hosts: the other hosts' records, kept up by one task per network (cluster.ts) */
  private cluster: ClusterNames;
  private listeners = new Map<string, Listener>();

  private udp!: UdpLanes;
  private gen = 0;
  /** UDP fds the UDP threads may still be using: closed once they applied a view without them */
  private retired: { gen: number; fd: number }[] = [];

  constructor(private dir: string) {
    // this host: its machine, and the network namespace this resolver serves (its state directory)
    this.cluster = new ClusterNames(dir, clusterHost(basename(dir)), () => { void this.sync(undefined, undefined, true); }, log);
  }

  /** The UDP threads: this same program again, told so by a flag (udp-lanes.ts). */
  startUdpThreads(): void {
    this.udp = new UdpLanes((m: FromUdp) => {
      // a query the UDP threads could not answer: forwarded, the reply sent from its listener if still open
      let l: Listener | undefined;
      for (const x of this.listeners.values()) if (x.udpFd === m.fd) { l = x; break; }
      if (!l) return;
      const query = Buffer.from(m.forward);
      const to = l;
      this.forwardFor(to, query, false, (reply) => { if (!to.closed) native().udpSend(m.fd, reply, reply.length, m.address, m.port); });
    }, (why) => { log(why); exitCall(1); });
  }

  /** Hand the UDP threads the current view; returns when they serve it (bounded). */
  private sendView(all: Attachment[]): void {
    const gen = ++this.gen;
    this.udp.sendView({ gen, records: all, listeners: arrMap([...this.listeners.values()], (l) => ({ tag: l.tag, fd: l.udpFd, cookie: l.cookie })) } satisfies View);
    // fds retired by this view (or before) are no longer the UDP threads'
    this.retired = arrFilter(this.retired, (r) => { if (r.gen <= gen) { native().closeFd(r.fd); return false; } return true; });
  }

  private forwarding = 0;

  /**
   * Forward a container's query within the bounds the UDP threads keep too (one container's
   * flood of unknown names gets SERVFAIL past its share, the others' forwards go on), then
   * `reply` with the answer or SERVFAIL.
   */
  private forwardFor(l: Listener, query: Buffer, tcp: boolean, reply: (b: Buffer) => void): void {
    if (l.forwarding >= MAX_PER_CONTAINER || this.forwarding >= MAX_PENDING) { reply(statusReply(query, RCODE.SERVFAIL)); return; }
    l.forwarding++;
    this.forwarding++;
    void forward(query, l.scope.upstreams, tcp).then((r) => {
      l.forwarding--;
      this.forwarding--;
      reply(r ?? statusReply(query, RCODE.SERVFAIL));
    });
  }

  private handlers: Handlers = {
    answer: (l, msg) => {
      return answer(this.tables, l.scope, msg, Atomics.add(this.udp.turn, 0, 1) & 0xffff, false);
    },
    forward: (l, msg, send) => this.forwardFor(l, Buffer.from(msg), true, send),
  };

  private records = new Map<string, Attachment>();
  /** during one sync: a namespace (by cookie) as the calling process holds it */
  private handles = new Map<string, string>();
  private queue: Promise<unknown> = Promise.resolve();

  /**
   * Serve exactly the records on disk: all of them re-read (`key` undefined), or the one a call
   * changed ("<network>/<containerID>:<ifname>"); then tables rebuilt and listeners opened and
   * closed to match. One sync at a time.
   */
  sync(key?: string, handle?: string, remoteOnly = false): Promise<number> {
    const run = this.queue.then(() => {
      if (remoteOnly) { /* the other hosts' records changed: this host's stay */ } else if (key === undefined) {
        this.records = new Map(arrMap(readAll(this.dir, (f, why) => log(`ignoring ${f}: ${why}`)), (a) => [recordKey(a.network, a.containerId, a.ifname), a]));
      } else {
        const [network, rest] = key.split('/') as [string, string];
        const i = rest.indexOf(':');
        const a = readRecord(this.dir, network, rest.slice(0, i), rest.slice(i + 1));
        if (a) this.records.set(key, a); else this.records.delete(key);
        // the caller's own descriptor of the container's namespace, open while it waits: reached
        // through /proc whatever mount namespace either of us lives in
        if (a && handle) { const [pid, fd] = handle.split(':'); this.handles.set(a.cookie, `/proc/${pid}/fd/${fd}`); }
      }
      const local = [...this.records.values()];
      if (!remoteOnly) this.cluster.update(local);
      try { this.apply([...local, ...this.cluster.remote()]); } finally { this.handles.clear(); }
      return this.records.size;
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  private apply(all: Attachment[]): void {
    this.tables = buildTables(all);
    // a container (namespace) sees the union of its networks, at each of its addresses
    const byNs = byNamespace(all);
    const wanted = new Map<string, { cookie: string; address: string; list: Attachment[] }>();
    // (other hosts' records have no namespace here: cookie "")
    for (const [cookie, list] of byNs) if (cookie) for (const a of list) wanted.set(`${cookie} ${a.listen}`, { cookie, address: a.listen, list });
    for (const [key, l] of this.listeners) {
      if (wanted.has(key)) continue;
      l.close();
      this.udp.remove(l.udpFd);
      this.retired.push({ gen: this.gen + 1, fd: l.udpFd });
      this.listeners.delete(key);
    }
    for (const [key, { cookie, address, list }] of wanted) {
      const scope = scopeOf(list);
      const l = this.listeners.get(key);
      if (l) { l.scope = scope; continue; }
      try {
        const made = Listener.open(cookie, address, list, scope, this.handlers, this.handles.get(cookie));
        this.udp.add(made.udpFd, made.tag);
        this.listeners.set(key, made);
      } catch (e) {
        log(`no listener at ${address} for ${list[0]!.containerId} (${list[0]!.netns}): ${(e as Error).message}`);
      }
    }
    this.sendView(all);
  }

  listen(): Promise<void> {
    const p = paths(this.dir).control;
    try { unlink(p); } catch { /* none */ }
    return serveControl(p, (line, reply) => this.handle(line, reply));
  }

  /** One control request: "sync [<network>/<containerID>:<ifname>]" or "ping". */
  private handle(line: string, reply: (text: string) => void): void {
    const [cmd, key, handle, extra] = line.split(' ');
    if (cmd === 'sync' && extra === undefined && (key === undefined || RECORD_KEY.test(key)) && (handle === undefined || (key !== undefined && NETNS_HANDLE.test(handle)))) {
      void this.sync(key, handle).then((n) => {
        reply(`ok ${n} records, ${this.listeners.size} listeners\n`);
        if (n === 0) setImmediate(() => { void this.exitIfEmpty(); });
      }, (e: Error) => reply(`error ${e.message}\n`));
    } else if (cmd === 'ping') reply('ok\n');
    else reply('unknown command\n');
  }

  /** No record left: exit, but only under the state lock, so that no ADD is between write and sync. */
  async exitIfEmpty(): Promise<void> {
    if (this.records.size) return;
    await this.cluster.stopAll();   // this host's names out of etcd first (bounded)
    if (this.records.size) return;
    const fd = tryFileLock(paths(this.dir).lock);
    if (fd === undefined) return;   // a call is changing records: it syncs when done
    if (readAll(this.dir).length > 0) { closeFile(fd); return; }
    this.shutdown('no records left');
  }

  shutdown(why: string, code = 0): never {
    log(`exiting: ${why}`);
    for (const p of [paths(this.dir).control, paths(this.dir).pid]) { try { unlink(p); } catch { /* gone */ } }
    // _exit: the runtime's own exit would wait for the UDP threads, which are inside a blocking
    // wait (Node's process.exit never returned: the resolver stayed after its last record went)
    exitCall(code);
  }
}

export async function runResolver(dir: string): Promise<void> {
  process.umask(0o077);
  normalJit();
  // one resolver per directory: one restarted while the last is still going waits for it (the
  // last leaves once its supervisor is gone)
  const deadline = Date.now() + START_LOCK_MS;
  // (the lock's fd stays open, and the lock held, for the life of the process)
  while (tryFileLock(paths(dir).serverLock) === undefined) {
    if (Date.now() > deadline) { log('another resolver holds the lock: leaving'); process.exit(1); }
    await sleep(20);
  }
  // its supervisor gone (killed), it leaves too: a new supervisor starts a new one
  const parent = process.ppid;
  const r = new Resolver(dir);
  r.startUdpThreads();
  writeFileAtomic(paths(dir).pid, `${process.pid}\n`, paths(dir).tmp);
  const n = await r.sync();
  await r.listen();
  log(`serving ${n} records`);
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(sig, () => r.shutdown(sig));
  setInterval(() => { if (process.ppid !== parent) r.shutdown('the supervisor is gone', 1); }, PARENT_CHECK_MS).unref();
  // one bad query must not take every container's resolver down: logged, and serving goes on
  process.on('uncaughtException', (e) => log(`error: ${e.stack ?? e}`));
  if (n === 0) void r.exitIfEmpty();
}
