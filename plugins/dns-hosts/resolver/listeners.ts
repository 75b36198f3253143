// Where containers reach the resolver: 127.0.0.11:53 (and .12... for further networks of one
// container, see records.ts), UDP and TCP, inside each container's own
// network namespace (Docker's way): it works whatever the main plugin (bridge, macvlan, ipvlan,
// an overlay), identifies the querier by the socket it came in on, and exposes nothing on the
// host. The sockets are made in the namespace by the addon and served by this process's loop.
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, type Server, type Socket } from 'node:net';
import { native } from '../../../shared/native.ts';
import type { Attachment } from '../records.ts';
import type { Scope } from './answer.ts';

const TCP_IDLE_MS = 10_000;

export interface Handlers {
  /** a datagram: the reply (or nothing) comes back through `send` */
  udp(l: Listener, msg: Buffer, send: (b: Buffer) => void): void;
  /** one length-framed TCP message */
  tcp(l: Listener, msg: Buffer, send: (b: Buffer) => void): void;
}

export class Listener {
  private conns = new Set<Socket>();
  closed = false;
  private constructor(readonly cookie: string, public scope: Scope, private udp: UdpSocket, private tcp: Server) {}

  /**
   * Open the listeners inside the namespace the attachments name, after checking that the path
   * still names the namespace they were made for (its cookie): a reused /proc/<pid>/ns/net or a
   * remounted path must not get another container's view.
   */
  static open(cookie: string, address: string, attachments: Attachment[], scope: Scope, h: Handlers): Listener {
    let lastError: unknown = new Error('no netns path');
    for (const path of new Set(attachments.map((a) => a.netns))) {
      let fd: number;
      try { fd = native().openNetns(path); } catch (e) { lastError = e; continue; }
      try {
        if (native().withNetns(fd, () => native().netnsCookie()) !== cookie) { lastError = new Error(`${path} now names another namespace`); continue; }
        const udpFd = native().listenIn(fd, 0, address, 53);
        let tcpFd: number;
        try { tcpFd = native().listenIn(fd, 1, address, 53); } catch (e) { native().closeFd(udpFd); throw e; }
        return Listener.adopt(cookie, scope, udpFd, tcpFd, h);
      } finally {
        native().closeFd(fd);
      }
    }
    throw lastError;
  }

  private static adopt(cookie: string, scope: Scope, udpFd: number, tcpFd: number, h: Handlers): Listener {
    const udp = createSocket('udp4');
    const tcp = createServer();
    const l = new Listener(cookie, scope, udp, tcp);
    udp.on('message', (msg, r) => {
      // copied now: the runtime may reuse rinfo before a forwarded answer comes back
      const port = r.port, address = r.address;
      h.udp(l, msg, (b) => { if (!l.closed) udp.send(b, port, address); });
    });
    udp.on('error', () => { /* one client's ICMP error is no reason to stop */ });
    udp.bind({ fd: udpFd });
    tcp.on('connection', (c) => l.serveTcp(c, h));
    tcp.on('error', () => { /* as above */ });
    tcp.listen({ fd: tcpFd });
    return l;
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
        h.tcp(this, msg, (b) => {
          if (c.destroyed) return;
          const len = Buffer.alloc(2);
          len.writeUInt16BE(b.length);
          c.write(Buffer.concat([len, b]));
        });
      }
    });
  }

  close(): void {
    this.closed = true;
    for (const c of this.conns) c.destroy();
    try { this.udp.close(); } catch { /* closed */ }
    this.tcp.close();
  }
}
