// The resolver: the same executable, run detached by the first ADD that needs it
// (`dns-hosts --resolver=<state dir>`). One per host network namespace, held by a lock and
// named by a pid file; fed by the record files, which it reloads when a call says "sync" on
// its control socket (and answers only once it serves them); exits when no record remains.
// Killed, it loses nothing: the records are on disk and the next ADD, CHECK or GC restarts it.
import { createServer, type Server } from 'node:net';
import { O, openFile, unlink } from '../../../shared/fs.ts';
import { writeFileAtomic } from '../../../shared/files.ts';
import { native } from '../../../shared/native.ts';
import { paths, readAll, type Attachment } from '../records.ts';
import { answer, buildTables, RCODE, scopeOf, statusReply, type Tables } from './answer.ts';
import { forward } from './forward.ts';
import { Listener, type Handlers } from './listeners.ts';

const LOCK_EX = 2, LOCK_NB = 4, LOCK_UN = 8;
const START_LOCK_MS = 3000;

const log = (msg: string): void => { process.stderr.write(`${new Date().toISOString()} resolver[${process.pid}]: ${msg}\n`); };
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function tryLock(path: string): number | undefined {
  const fd = openFile(path, O.RDWR | O.CREAT | O.NOFOLLOW, 0o600);
  try { native().flock(fd, LOCK_EX | LOCK_NB); return fd; } catch { native().closeFd(fd); return undefined; }
}

class Resolver {
  private tables: Tables = buildTables([]);
  private listeners = new Map<string, Listener>();
  private turn = 0;
  private control?: Server;

  constructor(private dir: string) {}

  private handlers: Handlers = {
    udp: (l, msg, send) => this.serve(l, msg, send, false),
    tcp: (l, msg, send) => this.serve(l, msg, send, true),
  };

  private serve(l: Listener, msg: Buffer, send: (b: Buffer) => void, tcp: boolean): void {
    const out = answer(this.tables, l.scope, msg, this.turn++ & 0xffff, !tcp);
    if ('reply' in out) { send(out.reply); return; }
    void forward(msg, l.scope.upstreams, tcp).then((r) => send(r ?? statusReply(msg, RCODE.SERVFAIL)));
  }

  /** Serve exactly the records on disk: tables rebuilt, listeners opened and closed to match. */
  reload(): number {
    const all = readAll(this.dir, (f, why) => log(`ignoring ${f}: ${why}`));
    this.tables = buildTables(all);
    // a container (namespace) sees the union of its networks, at each of its addresses
    const byNs = new Map<string, Attachment[]>();
    for (const a of all) { const l = byNs.get(a.cookie); if (l) l.push(a); else byNs.set(a.cookie, [a]); }
    const wanted = new Map<string, { cookie: string; address: string; list: Attachment[] }>();
    for (const [cookie, list] of byNs) for (const a of list) wanted.set(`${cookie} ${a.listen}`, { cookie, address: a.listen, list });
    for (const [key, l] of this.listeners) {
      if (!wanted.has(key)) { l.close(); this.listeners.delete(key); }
    }
    for (const [key, { cookie, address, list }] of wanted) {
      const scope = scopeOf(list);
      const l = this.listeners.get(key);
      if (l) { l.scope = scope; continue; }
      try { this.listeners.set(key, Listener.open(cookie, address, list, scope, this.handlers)); } catch (e) {
        log(`no listener at ${address} for ${list[0]!.containerId} (${list[0]!.netns}): ${(e as Error).message}`);
      }
    }
    return all.length;
  }

  listen(): Promise<void> {
    const p = paths(this.dir).control;
    try { unlink(p); } catch { /* none */ }
    this.control = createServer((c) => {
      let req = '';
      c.setTimeout(5000, () => c.destroy());
      c.on('error', () => c.destroy());
      c.on('data', (d) => { req += d; if (req.length > 1024) c.destroy(); });
      c.on('end', () => {
        const cmd = req.trim();
        if (cmd === 'sync') {
          const n = this.reload();
          c.end(`ok ${n} records, ${this.listeners.size} listeners\n`);
          if (n === 0) setImmediate(() => this.exitIfEmpty());
        } else if (cmd === 'ping') c.end('ok\n');
        else c.end('unknown command\n');
      });
    });
    return new Promise((resolve, reject) => { this.control!.once('error', reject); this.control!.listen(p, () => resolve()); });
  }

  /** No record left: exit, but only under the state lock, so that no ADD is between write and sync. */
  exitIfEmpty(): void {
    const fd = tryLock(paths(this.dir).lock);
    if (fd === undefined) return;   // a call is changing records: it syncs when done
    if (readAll(this.dir).length > 0) { native().flock(fd, LOCK_UN); native().closeFd(fd); return; }
    this.shutdown('no records left');
  }

  shutdown(why: string): never {
    log(`exiting: ${why}`);
    for (const p of [paths(this.dir).control, paths(this.dir).pid]) { try { unlink(p); } catch { /* gone */ } }
    process.exit(0);
  }
}

export async function runResolver(dir: string): Promise<void> {
  process.umask(0o077);
  // one resolver per directory: a second one started by a racing ADD waits briefly, then leaves
  const deadline = Date.now() + START_LOCK_MS;
  // (the lock's fd stays open, and the lock held, for the life of the process)
  while (tryLock(paths(dir).resolverLock) === undefined) {
    if (Date.now() > deadline) { log('another resolver holds the lock: leaving'); process.exit(0); }
    await sleep(20);
  }
  const r = new Resolver(dir);
  writeFileAtomic(paths(dir).pid, `${process.pid}\n`, paths(dir).tmp);
  const n = r.reload();
  await r.listen();
  log(`serving ${n} records`);
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(sig, () => r.shutdown(sig));
  // one bad query must not take every container's resolver down: logged, and serving goes on
  process.on('uncaughtException', (e) => log(`error: ${e.stack ?? e}`));
  if (n === 0) r.exitIfEmpty();
}
