// Where containers reach the resolver: 127.0.0.11:53 (and .12... for further networks of one
// container, see records.ts), UDP and TCP, inside each container's own network namespace
// (Docker's way): it works whatever the main plugin (bridge, macvlan, ipvlan, an overlay),
// identifies the querier by the socket it came in on, and exposes nothing on the host. The
// sockets are made in the namespace by the addon; TCP is served by the event loop, UDP by the
// resolver's UDP threads (udp-worker.ts), which get the fd and the listener's tag.
import { createServer, type Server, type Socket } from 'node:net';
import { native } from '../../../shared/os/native.ts';
import type { Attachment } from '../records.ts';
import type { Scope } from './answer.ts';
import { arrMap } from '../../../shared/util/arrays.ts';

const TCP_IDLE_MS = 10_000;

export type Send = (b: Buffer) => void;

export interface Handlers {
  /** the reply to a TCP query now, or undefined: forward it */
  answer(l: Listener, msg: Buffer): Buffer | undefined;
  /** the reply comes later, through `send` */
  forward(l: Listener, msg: Buffer, send: Send): void;
}

let nextTag = 1;   // 0 is a UDP thread's wake-up

export class Listener {
  private conns = new Set<Socket>();
  private tcp?: Server;
  closed = false;
  /** the UDP threads' name for this listener */
  readonly tag = nextTag++;
  private constructor(readonly cookie: string, public scope: Scope, readonly udpFd: number) {}

  /**
   * Open the listeners inside the namespace the attachments name, after checking that the path
   * still names the namespace they were made for (its cookie): a reused /proc/<pid>/ns/net or a
   * remounted path must not get another container's view.
   */
  static open(cookie: string, address: string, attachments: Attachment[], scope: Scope, h: Handlers): Listener {
    let lastError: unknown = new Error('no netns path');
    for (const path of new Set(arrMap(attachments, (a) => a.netns))) {
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
    this.conns.add(c);
    c.setTimeout(TCP_IDLE_MS, () => c.destroy());
    c.on('close', () => this.conns.delete(c));
    c.on('error', () => c.destroy());
    let buf: Buffer = Buffer.alloc(0);
    c.on('data', (d: Buffer) => {
      buf = buf.length ? Buffer.concat([buf, d]) : d;
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const msg = buf.subarray(2, 2 + buf.readUInt16BE(0));
        buf = buf.subarray(2 + msg.length);
        const send = (b: Buffer): void => {
          if (c.destroyed) return;
          const len = Buffer.alloc(2);
          len.writeUInt16BE(b.length);
          c.write(Buffer.concat([len, b]));
        };
        const r = h.answer(this, msg);
        if (r) send(r); else h.forward(this, msg, send);
      }
    });
  }

  /** TCP closed now; the UDP fd is closed by the caller once the UDP threads let go of it */
  close(): void {
    this.closed = true;
    for (const c of this.conns) c.destroy();
    this.tcp?.close();
  }
}
