// The resolver: the same executable, run detached by the first ADD that needs it
// (`dns-hosts --resolver=<state dir>`). One per host network namespace, held by a lock and
// named by a pid file; fed by the record files, which it reloads when a call says "sync" on
// its control socket (and answers only once it serves them); exits when no record remains.
// Killed, it loses nothing: the records are on disk and the next ADD, CHECK or GC restarts it.
// Two threads: this one (records, listeners, TCP, forwarding, the control socket) and the UDP
// thread (udp-worker.ts), which answers datagrams outside the event loop.
import type { Worker } from 'node:worker_threads';
import { closeFile, unlink, writeFd } from '../../../shared/fs.ts';
import { tryFileLock, writeFileAtomic } from '../../../shared/files.ts';
import { exitCall, native } from '../../../shared/native.ts';
import { paths, readAll, readRecord, recordKey, type Attachment } from '../records.ts';
import { answer, buildTables, byNamespace, RCODE, scopeOf, statusReply, type Tables } from './answer.ts';
import { forward } from './forward.ts';
import { Listener, type Handlers } from './listeners.ts';
import { serveControl } from './control.ts';
import type { FromUdp, View } from './udp-worker.ts';
import { normalJit } from './jit.ts';
import { UDP_THREAD_FLAG } from '../modes.ts';
import { setTimeout as sleep } from 'node:timers/promises';
import { arrFilter, arrMap } from '../../../shared/arrays.ts';

const WAKE_TAG = 0;
const APPLY_MS = 5000;

/** "<network>/<containerID>:<ifname>" as the skeleton validates them */
const RECORD_KEY = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*\/[a-zA-Z0-9][a-zA-Z0-9_.-]*:[^/:\s]{1,15}$/;
const START_LOCK_MS = 3000;

// (straight to fd 2, the log file: written before an _exit, never queued in a stream)
const log = (msg: string): void => { try { writeFd(2, `${new Date().toISOString()} resolver[${process.pid}]: ${msg}\n`); } catch { /* no log */ } };

class Resolver {
  private tables: Tables = buildTables([]);
  private listeners = new Map<string, Listener>();
  private turn = 0;

  private ep = native().pollCreate();
  private wake = native().eventFd();
  private udp!: Worker;
  private toUdp!: import('node:worker_threads').MessagePort;
  private gen = 0;
  /** the last view generation the UDP thread applied (it stores and notifies; sync waits on it) */
  private applied = new Int32Array(new SharedArrayBuffer(4));
  /** UDP fds the UDP thread may still be using: closed once it applied a view without them */
  private retired: { gen: number; fd: number }[] = [];

  constructor(private dir: string) {}

  /** The UDP thread: this same program again (its script, its argv), told so by a flag. */
  startUdpThread(): void {
    const { Worker, MessageChannel } = process.getBuiltinModule('node:worker_threads') as typeof import('node:worker_threads');
    native().pollCtl(this.ep, this.wake, WAKE_TAG);
    const { port1, port2 } = new MessageChannel();
    this.toUdp = port1;
    this.udp = new Worker(process.argv[1]!, { argv: ['dns-hosts', UDP_THREAD_FLAG], workerData: { ep: this.ep, wake: this.wake, wakeTag: WAKE_TAG, port: port2, applied: this.applied }, transferList: [port2] });
    this.udp.on('error', (e: Error) => { log(`UDP thread failed: ${e.stack ?? e}`); process.exit(1); });
    this.udp.on('exit', (code) => { log(`UDP thread exited (${code})`); process.exit(1); });
    this.udp.unref();
    port1.on('message', (m: FromUdp) => {
      // a query the UDP thread could not answer: forwarded, the reply sent from its listener if still open
      let l: Listener | undefined;
      for (const x of this.listeners.values()) if (x.udpFd === m.fd) { l = x; break; }
      if (!l) return;
      const query = Buffer.from(m.forward);
      void forward(query, l.scope.upstreams, false).then((r) => {
        const reply = r ?? statusReply(query, RCODE.SERVFAIL);
        if (!l.closed) native().udpSend(m.fd, reply, reply.length, m.address, m.port);
      });
    });
  }

  /**
   * Hand the UDP thread the current view; returns when it serves it (bounded). The wait blocks
   * this thread (tens of microseconds, at most APPLY_MS): an acknowledgement through the event
   * loop cost a call 0.2-0.8 ms.
   */
  private sendView(all: Attachment[]): void {
    const gen = ++this.gen;
    const view: View = { gen, records: all, listeners: arrMap([...this.listeners.values()], (l) => ({ tag: l.tag, fd: l.udpFd, cookie: l.cookie })) };
    this.toUdp.postMessage(view);
    native().eventSignal(this.wake);
    const deadline = Date.now() + APPLY_MS;
    for (let seen = Atomics.load(this.applied, 0); seen < gen; seen = Atomics.load(this.applied, 0)) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('the UDP thread did not take the change');
      Atomics.wait(this.applied, 0, seen, left);
    }
    // fds retired by this view (or before) are no longer the UDP thread's
    this.retired = arrFilter(this.retired, (r) => { if (r.gen <= gen) { native().closeFd(r.fd); return false; } return true; });
  }

  private handlers: Handlers = {
    answer: (l, msg) => {
      const out = answer(this.tables, l.scope, msg, this.turn++ & 0xffff, false);
      return 'reply' in out ? out.reply : undefined;
    },
    forward: (l, msg, send) => {
      const query = Buffer.from(msg);
      void forward(query, l.scope.upstreams, true).then((r) => send(r ?? statusReply(query, RCODE.SERVFAIL)));
    },
  };

  private records = new Map<string, Attachment>();
  private queue: Promise<unknown> = Promise.resolve();

  /**
   * Serve exactly the records on disk: all of them re-read (`key` undefined), or the one a call
   * changed ("<network>/<containerID>:<ifname>"); then tables rebuilt and listeners opened and
   * closed to match. One sync at a time.
   */
  sync(key?: string): Promise<number> {
    const run = this.queue.then(() => {
      if (key === undefined) {
        this.records = new Map(arrMap(readAll(this.dir, (f, why) => log(`ignoring ${f}: ${why}`)), (a) => [recordKey(a.network, a.containerId, a.ifname), a]));
      } else {
        const [network, rest] = key.split('/') as [string, string];
        const i = rest.indexOf(':');
        const a = readRecord(this.dir, network, rest.slice(0, i), rest.slice(i + 1));
        if (a) this.records.set(key, a); else this.records.delete(key);
      }
      this.apply([...this.records.values()]);
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
    for (const [cookie, list] of byNs) for (const a of list) wanted.set(`${cookie} ${a.listen}`, { cookie, address: a.listen, list });
    for (const [key, l] of this.listeners) {
      if (wanted.has(key)) continue;
      l.close();
      native().pollCtl(this.ep, l.udpFd, -1);
      this.retired.push({ gen: this.gen + 1, fd: l.udpFd });
      this.listeners.delete(key);
    }
    for (const [key, { cookie, address, list }] of wanted) {
      const scope = scopeOf(list);
      const l = this.listeners.get(key);
      if (l) { l.scope = scope; continue; }
      try {
        const made = Listener.open(cookie, address, list, scope, this.handlers);
        native().pollCtl(this.ep, made.udpFd, made.tag);
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
    const [cmd, key, extra] = line.split(' ');
    if (cmd === 'sync' && extra === undefined && (key === undefined || RECORD_KEY.test(key))) {
      void this.sync(key).then((n) => {
        reply(`ok ${n} records, ${this.listeners.size} listeners\n`);
        if (n === 0) setImmediate(() => this.exitIfEmpty());
      }, (e: Error) => reply(`error ${e.message}\n`));
    } else if (cmd === 'ping') reply('ok\n');
    else reply('unknown command\n');
  }

  /** No record left: exit, but only under the state lock, so that no ADD is between write and sync. */
  exitIfEmpty(): void {
    const fd = tryFileLock(paths(this.dir).lock);
    if (fd === undefined) return;   // a call is changing records: it syncs when done
    if (readAll(this.dir).length > 0) { closeFile(fd); return; }
    this.shutdown('no records left');
  }

  shutdown(why: string): never {
    log(`exiting: ${why}`);
    for (const p of [paths(this.dir).control, paths(this.dir).pid]) { try { unlink(p); } catch { /* gone */ } }
    // _exit: the runtime's own exit would wait for the UDP thread, which is inside a blocking
    // wait (Node's process.exit never returned: the resolver stayed after its last record went)
    exitCall(0);
  }
}

export async function runResolver(dir: string): Promise<void> {
  process.umask(0o077);
  normalJit();
  // one resolver per directory: a second one started by a racing ADD waits briefly, then leaves
  const deadline = Date.now() + START_LOCK_MS;
  // (the lock's fd stays open, and the lock held, for the life of the process)
  while (tryFileLock(paths(dir).resolverLock) === undefined) {
    if (Date.now() > deadline) { log('another resolver holds the lock: leaving'); process.exit(0); }
    await sleep(20);
  }
  const r = new Resolver(dir);
  r.startUdpThread();
  writeFileAtomic(paths(dir).pid, `${process.pid}\n`, paths(dir).tmp);
  const n = await r.sync();
  await r.listen();
  log(`serving ${n} records`);
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(sig, () => r.shutdown(sig));
  // one bad query must not take every container's resolver down: logged, and serving goes on
  process.on('uncaughtException', (e) => log(`error: ${e.stack ?? e}`));
  if (n === 0) r.exitIfEmpty();
}
