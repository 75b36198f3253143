// The resolver's UDP side: a thread of the resolver (one of its lanes: udp-lanes.ts) that waits
// on every container's UDP listener at once (its epoll set) and answers in a plain loop, nothing
// allocated per datagram on the common path. The runtime's event loop adds a tail to every
// answer (timers, other sockets, collections), so datagrams never go through it. The main
// thread owns the sockets, the records and everything else: it sends this thread each new view
// (and waits, on shared memory, until it is applied before a call's sync returns). Queries for names that are not ours go to an IPv4 upstream
// from here too, on a socket of this thread's (UpstreamLane): only those it cannot forward (an
// IPv6 upstream) go to the main thread.
import type { MessagePort } from 'node:worker_threads';
import { udpStep } from '../../../shared/os/native.ts';
import type { Attachment } from '../records.ts';
import { normalJit } from './jit.ts';
import { FORWARD, buildTables, byNamespace, decodedAnswer, quickReply, scopeOf, scratchReply, type Scope, type Tables } from './answer.ts';
import { UpstreamLane } from './upstream-lane.ts';
import { arrMap } from '../../../shared/util/arrays.ts';

/** What the main thread sends: every record, and the UDP listeners by tag. */
export interface View { gen: number; records: Attachment[]; listeners: { tag: number; fd: number; cookie: string }[] }
/** What this thread sends back: a view applied, or a query to forward. */
export type FromUdp = { forward: Uint8Array; fd: number; address: number; port: number };

/**
 * `applied`: the generation of the last view applied, stored here and notified; `turn`: the
 * round-robin counter every thread shares; `upstreamFd`: this thread's socket to the upstreams,
 * in its epoll set under `upstreamTag`.
 */
export interface UdpWorkerData { ep: number; wake: number; wakeTag: number; port: MessagePort; applied: Int32Array; turn: Int32Array; upstreamFd: number; upstreamTag: number }

/**
 * Datagrams of one socket read in a row before the others get a turn (udpStep); fewer while an
 * upstream's answers are awaited, so that they are not kept behind a busy listener.
 */
const STREAK = 16;
const STREAK_WAITING = 4;

export function runUdpWorker(data: UdpWorkerData): never {
  normalJit();
  const { receiveMessageOnPort } = process.getBuiltinModule('node:worker_threads') as typeof import('node:worker_threads');
  const step = udpStep();
  let tables: Tables = buildTables([]);
  let scopes = new Map<number, Scope>();
  const upstream = new UpstreamLane(data.upstreamFd);
  const buf = Buffer.alloc(65536);
  const meta = new Int32Array(4);

  const applyView = (v: View): void => {
    tables = buildTables(v.records);
    const byCookie = byNamespace(v.records);
    scopes = new Map(arrMap(v.listeners, (l) => [l.tag, scopeOf(byCookie.get(l.cookie) ?? [])]));
    // queries of listeners gone are not answered (their fds are the main thread's to close)
    upstream.keep(new Set(arrMap(v.listeners, (l) => l.fd)));
    Atomics.store(data.applied, 0, v.gen);
    Atomics.notify(data.applied, 0);
  };

  // the reply to the last datagram, sent by the next step before it waits (one call into the
  // addon a query, and under Bun one that leaves nothing to collect: see udpStep)
  let reply: Buffer = buf, replyLength = 0;
  for (;;) {
    // a busy listener is read again without a wait, unless an upstream's answer may be waiting
    const len = step(data.ep, buf, meta, upstream.waitMs(), reply, replyLength, upstream.waiting ? STREAK_WAITING : STREAK);
    replyLength = 0;
    if (len < -1) throw new Error(`epoll_wait: errno ${-2 - len}`);
    upstream.expire();
    if (len < 0) continue;
    const tag = meta[0]!;
    if (tag === data.upstreamTag) {
      // an upstream's answer: to its client, by the next step (meta now names the client)
      const n = upstream.answer(buf, len, meta);
      if (n > 0) { reply = buf; replyLength = n; }
      continue;
    }
    if (tag === data.wakeTag) {
      for (let m = receiveMessageOnPort(data.port); m; m = receiveMessageOnPort(data.port)) applyView(m.message as View);
      continue;
    }
    const scope = scopes.get(tag);
    if (!scope) continue;   // a listener being removed
    // the common case allocates nothing; anything else is decoded in full
    const rotate = Atomics.add(data.turn, 0, 1) & 0xffff;
    const quick = quickReply(tables, scope, buf, len, rotate);
    if (quick > 0) { reply = scratchReply(); replyLength = quick; continue; }
    const query = buf.subarray(0, len);
    const out = quick === FORWARD ? { forward: true as const } : decodedAnswer(tables, scope, query, rotate, true);
    if ('reply' in out) { reply = out.reply; replyLength = out.reply.length; }
    else if ('forward' in out && upstream.takes(scope.upstreams)) {
      // to the upstream by the next step (meta now names the upstream), or SERVFAIL now
      const n = upstream.ask(buf, len, meta, scope.upstreams, tag);
      if (n > 0) { reply = buf; replyLength = n; }
    } else if ('forward' in out) data.port.postMessage({ forward: new Uint8Array(query), fd: meta[1]!, address: meta[3]!, port: meta[2]! } satisfies FromUdp);
  }
}
