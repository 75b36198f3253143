// Where containers reach the resolver: 127.0.0.11:53 (and .12... for further networks of one
// container, see records.ts), UDP and TCP, inside each container's own network namespace
// (Docker's way): it works whatever the main plugin (bridge, macvlan, ipvlan, an overlay),
// identifies the querier by the socket it came in on, and exposes nothing on the host. The
// sockets are made in the namespace by the addon; TCP is served by the event loop, UDP by the
// resolver's UDP threads (udp-worker.ts), which get the fd and the listener's tag.
import { createServer, type Server, type Socket } from 'node:net';
import { native } from '../../../shared/os/native.ts';
import type { Attachment } from '../records.ts';
import type { Outcome, Scope } from './answer.ts';
import { arrMap } from '../../../shared/util/arrays.ts';

const TCP_IDLE_MS = 10_000;
/** TCP connections at once, per container and in all: more are closed as they come. */
export const MAX_TCP_PER_CONTAINER = 64;
export const MAX_TCP_TOTAL = 1024;
/**
 * Per connection: reply bytes not yet taken by the client, and queries not yet answered
 * (forwarded), past which the connection is not read until the client catches up. What one
 * connection holds is bounded by these and by one message in reading.
 */
export const MAX_UNSENT_BYTES = 64 * 1024;
export const MAX_UNANSWERED = 16;

let tcpTotal = 0;

export type Send = (b: Buffer) => void;

export interface Handlers {
  /** what to do with a TCP query: a reply now, forward it, or drop it (not a query) */
  answer(l: Listener, msg: Buffer): Outcome;
  /** the reply comes later, through `send` */
  forward(l: Listener, msg: Buffer, send: Send): void;
}

let nextTag = 1;   // 0 is a UDP thread's wake-up

export class Listener {
  private conns = new Set<Socket>();
  private tcp?: Server;
  closed = false;
  /** this container's queries waiting for an upstream */
  forwarding = 0;
  /** the UDP threads' name for this listener */
  readonly tag = nextTag++;
  private constructor(readonly cookie: string, public scope: Scope, readonly udpFd: number) {}

  /**
   * Open the listeners inside the namespace the attachments name, after checking that the path
   * still names the namespace they were made for (its cookie): a reused /proc/<pid>/ns/net or a
   * remounted path must not get another container's view.
   */
  static open(cookie: string, address: string, attachments: Attachment[], scope: Scope, h: Handlers, handle?: string): Listener {
    let lastError: unknown = new Error('no netns path');
    // the calling process's descriptor first; then each recorded path as this process sees it,
    // and as PID 1 does (a runtime's namespaces mounted where this process's mounts do not reach)
    const candidates = [...(handle ? [handle] : []), ...arrMap(attachments, (a) => a.netns), ...arrMap(attachments, (a) => `/proc/1/root${a.netns}`)];
    for (const path of new Set(candidates)) {
      let fd: number;
      try { fd = native().openNetns(path); } catch (e) { lastError = e; continue; }
      let udpFd: number, tcpFd: number;
      try {
        if (native().withNetns(fd, () => native().netnsCookie()) !== cookie) { lastError = new Error(`${path} now names another namespace`); continue; }
        udpFd = native().listenIn(fd, 0, address, 53);
        try { tcpFd = native().listenIn(fd, 1, address, 53); } catch (e) { native().closeFd(udpFd); throw e; }
      } finally {
        native().closeFd(fd);
      }
      const l = new Listener(cookie, scope, udpFd);
      l.tcp = createServer((c) => l.serveTcp(c, h));
      l.tcp.on('error', () => { /* as above */ });
      l.tcp.listen({ fd: tcpFd });
      return l;
    }
    throw lastError;
  }

  private serveTcp(c: Socket, h: Handlers): void {
    if (this.conns.size >= MAX_TCP_PER_CONTAINER || tcpTotal >= MAX_TCP_TOTAL) { c.destroy(); return; }
    this.conns.add(c);
    tcpTotal++;
    c.setTimeout(TCP_IDLE_MS, () => c.destroy());
    c.on('close', () => { this.conns.delete(c); tcpTotal--; });
    c.on('error', () => c.destroy());
    let buf: Buffer = Buffer.alloc(0);
    let unanswered = 0;
    // read only while the client takes its replies and its forwarded queries are few
    const flow = (): void => {
      if (c.destroyed) return;
      if (c.writableLength > MAX_UNSENT_BYTES || unanswered >= MAX_UNANSWERED) c.pause();
      else if (c.isPaused()) { c.resume(); drain(); }
    };
    c.on('drain', flow);
    const send = (b: Buffer): void => {
      if (c.destroyed) return;
      const len = Buffer.alloc(2);
      len.writeUInt16BE(b.length);
      c.write(Buffer.concat([len, b]));
    };
    // the complete messages read so far, while reading goes on
    const drain = (): void => {
      while (!c.isPaused() && buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const msg = buf.subarray(2, 2 + buf.readUInt16BE(0));
        buf = buf.subarray(2 + msg.length);
        const r = h.answer(this, msg);
        if ('reply' in r) send(r.reply);
        else if ('forward' in r) {
          unanswered++;
          h.forward(this, Buffer.from(msg), (b) => { unanswered--; send(b); flow(); });
        }
        flow();
      }
    };
    c.on('data', (d: Buffer) => {
      buf = buf.length ? Buffer.concat([buf, d]) : d;
      drain();
    });
  }

  /** TCP closed now; the UDP fd is closed by the caller once the UDP threads let go of it */
  close(): void {
    this.closed = true;
    for (const c of this.conns) c.destroy();
    this.tcp?.close();
  }
}
