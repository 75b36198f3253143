// Forwarding from a UDP thread: a query for a name that is not ours goes to the container's
// first IPv4 upstream from this thread's own socket (in its epoll set), under an ID of ours
// chosen at random, and the answer goes back to the client from the listener it asked on. No
// hop through the main thread's event loop, no socket per query. An answer is taken only from
// the upstream asked, under the ID and with the question it was asked; one that does not come
// in time goes to the next upstream (two tried at most), then the client gets SERVFAIL.
// Bounded: MAX_PENDING queries a thread, MAX_PER_CONTAINER of them for one listener; past a
// bound SERVFAIL at once.
import { parseUpstream } from '../../../shared/cni/refinements.ts';
import { native } from '../../../shared/os/native.ts';
import { parseIP } from '../../../shared/util/ip.ts';
import { RCODE, statusReply } from './answer.ts';

export const UPSTREAM_MS = 2000;
/** Upstreams tried per query: the client (glibc: 5 s) must hear back before it gives up. */
export const MAX_TRIES = 2;
export const MAX_PENDING = 2048;
export const MAX_PER_CONTAINER = 128;
/** How long the thread waits for a datagram while queries are out (expiries are checked after). */
const TICK_MS = 50;

interface Upstream { addr: number; port: number }
interface Asked {
  /** the client's: its ID, its listener's fd and tag, its address and port */
  id: number; fd: number; tag: number; addr: number; port: number;
  query: Buffer; question: Buffer; upstreams: Upstream[]; tried: number; deadline: number;
}

/** The question section's bytes (from the header's end to the end of the first question). */
export function questionOf(m: Uint8Array, len: number): Buffer | undefined {
  let i = 12;
  while (i < len && m[i] !== 0) {
    if ((m[i]! & 0xc0) !== 0) return undefined;   // no compression in a question
    i += m[i]! + 1;
  }
  return i + 5 <= len ? Buffer.from(m.subarray(12, i + 5)) : undefined;
}

/** A free ID of ours among `pending`'s, at random (an off-path spoofer must guess it), or undefined past `max`. */
export function freeId(pending: Map<number, unknown>, max: number): number | undefined {
  if (pending.size >= max) return undefined;
  for (;;) { const id = (Math.random() * 0x10000) | 0; if (!pending.has(id)) return id; }
}

/** The IPv4 upstreams of a list, as the step takes addresses (host order, signed); [] when the first is not IPv4. */
const parsed = new WeakMap<string[], Upstream[]>();
function ipv4Upstreams(list: string[]): Upstream[] {
  let out = parsed.get(list);
  if (out) return out;
  out = [];
  for (const u of list.slice(0, MAX_TRIES)) {
    const p = parseUpstream(u);
    const ip = p && parseIP(p.address);
    if (!ip || ip.family !== 4) break;
    const b = ip.bytes;
    out.push({ addr: ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) | 0, port: p.port });
  }
  parsed.set(list, out);
  return out;
}

export class UpstreamLane {
  private readonly pending = new Map<number, Asked>();
  private readonly perTag = new Map<number, number>();

  constructor(private readonly fd: number) {}

  /** Whether this thread forwards for these upstreams: the first is IPv4. */
  takes(upstreams: string[]): boolean {
    return ipv4Upstreams(upstreams).length > 0;
  }

  /**
   * The query in buf[0, len) from the client meta names: rewritten in place to go to the first
   * upstream, meta then naming it, and its length returned; or SERVFAIL in buf for the client
   * (meta unchanged) when a bound is reached.
   */
  ask(buf: Buffer, len: number, meta: Int32Array, upstreams: string[], tag: number): number {
    const ups = ipv4Upstreams(upstreams);
    const question = questionOf(buf, len);
    const mine = this.perTag.get(tag) ?? 0;
    const id = freeId(this.pending, MAX_PENDING);
    if (!question || id === undefined || mine >= MAX_PER_CONTAINER) return this.servfail(buf, len);
    const query = Buffer.from(buf.subarray(0, len));
    this.pending.set(id, { id: query.readUInt16BE(0), fd: meta[1]!, tag, addr: meta[3]!, port: meta[2]!, query, question, upstreams: ups, tried: 1, deadline: Date.now() + UPSTREAM_MS });
    this.perTag.set(tag, mine + 1);
    buf.writeUInt16BE(id, 0);
    meta[1] = this.fd;
    meta[2] = ups[0]!.port;
    meta[3] = ups[0]!.addr;
    return len;
  }

  /**
   * A datagram on this thread's upstream socket (buf[0, len), from the peer meta names): when it
   * answers a query of ours, rewritten in place for its client, meta then naming the client, and
   * its length returned; else 0 (nothing is sent).
   */
  answer(buf: Buffer, len: number, meta: Int32Array): number {
    if (len < 12) return 0;
    const ours = buf.readUInt16BE(0);
    const a = this.pending.get(ours);
    if (!a) return 0;
    const up = a.upstreams[a.tried - 1]!;
    if (meta[3] !== up.addr || meta[2] !== up.port) return 0;
    const q = questionOf(buf, len);
    if (!q || !q.equals(a.question)) return 0;
    this.done(ours, a);
    buf.writeUInt16BE(a.id, 0);
    meta[1] = a.fd;
    meta[2] = a.port;
    meta[3] = a.addr;
    return len;
  }

  /** whether answers are awaited (then every step waits on all sockets, the upstream's among them) */
  get waiting(): boolean { return this.pending.size > 0; }

  /** How long the next wait may be. */
  waitMs(): number {
    return this.pending.size ? TICK_MS : 60_000;
  }

  /** Queries out past their time: to the next upstream, or SERVFAIL to their clients. */
  expire(): void {
    if (!this.pending.size) return;
    const now = Date.now();
    // (in order of their deadlines: a query sent again goes to the end)
    for (const [ours, a] of this.pending) {
      if (a.deadline > now) break;
      this.pending.delete(ours);
      if (a.tried < a.upstreams.length) {
        const up = a.upstreams[a.tried++]!;
        a.deadline = now + UPSTREAM_MS;
        this.pending.set(ours, a);
        const out = Buffer.from(a.query);
        out.writeUInt16BE(ours, 0);
        native().udpSend(this.fd, out, out.length, up.addr, up.port);
      } else {
        this.perTag.set(a.tag, (this.perTag.get(a.tag) ?? 1) - 1);
        const r = statusReply(a.query, RCODE.SERVFAIL);
        native().udpSend(a.fd, r, r.length, a.addr, a.port);
      }
    }
  }

  /** Forget the queries of listeners no longer served (their fds are about to close). */
  keep(fds: Set<number>): void {
    for (const [ours, a] of this.pending) if (!fds.has(a.fd)) this.done(ours, a);
  }

  private done(ours: number, a: Asked): void {
    this.pending.delete(ours);
    const n = (this.perTag.get(a.tag) ?? 1) - 1;
    if (n > 0) this.perTag.set(a.tag, n); else this.perTag.delete(a.tag);
  }

  private servfail(buf: Buffer, len: number): number {
    const r = statusReply(Buffer.from(buf.subarray(0, len)), RCODE.SERVFAIL);
    r.copy(buf, 0);
    return r.length;
  }
}
