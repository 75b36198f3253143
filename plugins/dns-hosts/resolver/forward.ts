// Forwarding to the upstream resolvers by the main thread, for what the UDP threads do not
// forward themselves (upstream-lane.ts: the first upstream IPv4, over UDP): TCP clients, IPv6
// upstreams. From the host's namespace (where the host's own
// resolvers, such as 127.0.0.53, answer): the query as the container sent it, the upstream's
// answer passed back unchanged but for the ID. UDP for UDP clients (a truncated answer goes back
// truncated, and the client asks again over TCP), TCP for TCP clients. Each upstream in turn,
// each bounded: undefined (SERVFAIL to the client) when none answered in time.
//
// Everything is bounded, so that no container's flood can take the resolver's descriptors or
// memory, or the upstream's connections, from the others: over UDP one socket per upstream,
// taking only its datagrams, carries every query, each under an ID of our own (as dnsmasq does), at most
// MAX_PENDING_UDP of them at once; over TCP at most MAX_TCP connections at once in all. A query
// beyond a bound gets undefined at once (SERVFAIL), never a place in a queue.
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect } from 'node:net';
import { parseUpstream } from '../../../shared/cni/refinements.ts';
import { parseIP } from '../../../shared/util/ip.ts';
import { MAX_TRIES, UPSTREAM_MS, freeId, questionOf as questionIn } from './upstream-lane.ts';

const questionOf = (m: Buffer): Buffer | undefined => questionIn(m, m.length);

/** Queries waiting for an upstream's UDP answer, per upstream socket (IDs are 16 bits). */
export const MAX_PENDING_UDP = 4096;
/** TCP connections to upstreams open at once, in all. */
export const MAX_TCP = 64;
/** The largest DNS message over TCP (its 2-byte length). */
const MAX_MESSAGE = 65535;

interface Pending { done(b?: Buffer): void; id: number; question: Buffer }

/** The same address however written ("::1" and "0:0::1"; IPv4 as such, or mapped). */
function sameAddress(a: string, b: string): boolean {
  const x = parseIP(a.startsWith('::ffff:') && a.includes('.') ? a.slice(7) : a), y = parseIP(b);
  return !!x && !!y && x.family === y.family && x.bytes.equals(y.bytes);
}


/** One upstream over UDP: a socket of its own that takes only its datagrams, queries by ID. */
class UdpUpstream {
  private sock?: UdpSocket;
  private readonly pending = new Map<number, Pending>();

  constructor(private readonly address: string, private readonly port: number) {}

  private socket(): UdpSocket {
    if (this.sock) return this.sock;
    const s = createSocket(this.address.includes(':') ? 'udp6' : 'udp4');
    // (not connect(): a send must not wait for it, and runtimes differ in queueing one meanwhile)
    s.on('message', (m, from) => { if (from.port === this.port && sameAddress(from.address, this.address)) this.received(m); });
    s.on('error', () => this.reset());
    return (this.sock = s);
  }

  /** The socket failed: every query on it has no answer, and the next one opens another. */
  private reset(): void {
    const s = this.sock;
    this.sock = undefined;
    try { s?.close(); } catch { /* closed */ }
    for (const p of [...this.pending.values()]) p.done();
  }

  private received(m: Buffer): void {
    if (m.length < 12) return;
    const p = this.pending.get(m.readUInt16BE(0));
    // the answer to the question we asked under that ID, or not ours
    const q = questionOf(m);
    if (!p || !q || !q.equals(p.question)) return;
    const reply = Buffer.from(m);
    reply.writeUInt16BE(p.id, 0);
    p.done(reply);
  }

  ask(query: Buffer, timeoutMs: number): Promise<Buffer | undefined> {
    const question = questionOf(query);
    const ours = freeId(this.pending, MAX_PENDING_UDP);
    if (!question || ours === undefined) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const timer = setTimeout(() => p.done(), timeoutMs);
      const p: Pending = {
        id: query.readUInt16BE(0), question: Buffer.from(question),
        done: (b) => { if (this.pending.get(ours) !== p) return; this.pending.delete(ours); clearTimeout(timer); resolve(b); },
      };
      this.pending.set(ours, p);
      const out = Buffer.from(query);
      out.writeUInt16BE(ours, 0);
      this.socket().send(out, this.port, this.address, (e) => { if (e) p.done(); });
    });
  }
}

const udpUpstreams = new Map<string, UdpUpstream>();
let tcpOpen = 0;

function viaTcp(query: Buffer, address: string, port: number, timeoutMs: number): Promise<Buffer | undefined> {
  if (tcpOpen >= MAX_TCP) return Promise.resolve(undefined);
  tcpOpen++;
  return new Promise((resolve) => {
    const sock = connect({ host: address, port });
    let got = Buffer.alloc(0), finished = false;
    const done = (b?: Buffer): void => {
      if (finished) return;
      finished = true;
      tcpOpen--;
      clearTimeout(timer);
      sock.destroy();
      resolve(b);
    };
    const timer = setTimeout(() => done(), timeoutMs);
    sock.on('error', () => done());
    sock.on('close', () => done());
    sock.on('connect', () => { const len = Buffer.alloc(2); len.writeUInt16BE(query.length); sock.write(Buffer.concat([len, query])); });
    sock.on('data', (d: Buffer) => {
      got = Buffer.concat([got, d]);
      if (got.length > 2 + MAX_MESSAGE) return done();
      if (got.length >= 2 && got.length >= 2 + got.readUInt16BE(0)) {
        const m = got.subarray(2, 2 + got.readUInt16BE(0));
        // the answer to this query (its ID and question), or nothing
        const q = questionOf(m), mine = questionOf(query);
        done(m.length >= 12 && m.readUInt16BE(0) === query.readUInt16BE(0) && q && mine && q.equals(mine) ? Buffer.from(m) : undefined);
      }
    });
    sock.on('end', () => done());
  });
}

function udpUpstream(address: string, port: number): UdpUpstream {
  const key = `${address} ${port}`;
  let u = udpUpstreams.get(key);
  if (!u) udpUpstreams.set(key, (u = new UdpUpstream(address, port)));
  return u;
}

export async function forward(query: Buffer, upstreams: string[], tcp: boolean): Promise<Buffer | undefined> {
  for (const u of upstreams.slice(0, MAX_TRIES)) {
    const p = parseUpstream(u);
    if (!p) continue;
    const reply = tcp ? await viaTcp(query, p.address, p.port, UPSTREAM_MS) : await udpUpstream(p.address, p.port).ask(query, UPSTREAM_MS);
    if (reply) return reply;
  }
  return undefined;
}
