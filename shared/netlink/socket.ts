// A NETLINK_ROUTE socket, optionally bound inside another network namespace. Requests are
// built and replies parsed here; the addon only moves bytes.
import { nodeOs } from '../util/lazy.ts';
import { native } from '../os/native.ts';
import { NETLINK_ROUTE, NLMSG, NLM_F } from './constants.ts';
import { decodeError, decodeMessage, encodeMessage, type NlMessage } from './message.ts';
import { arrFind } from '../util/arrays.ts';

// the errnos netlink answers with in practice; others from node:os (whose loading costs start-up,
// and ENODEV is an everyday answer: "is this link there?")
const ERRNO: Record<number, string> = {
  1: 'EPERM', 2: 'ENOENT', 3: 'ESRCH', 12: 'ENOMEM', 13: 'EACCES', 16: 'EBUSY', 17: 'EEXIST', 19: 'ENODEV', 22: 'EINVAL',
  34: 'ERANGE', 61: 'ENODATA', 90: 'EMSGSIZE', 93: 'EPROTONOSUPPORT', 95: 'EOPNOTSUPP', 97: 'EAFNOSUPPORT', 99: 'EADDRNOTAVAIL', 101: 'ENETUNREACH', 105: 'ENOBUFS', 113: 'EHOSTUNREACH',
};
export const errnoName = (n: number): string =>
  ERRNO[n] ?? arrFind(Object.entries(nodeOs().constants.errno), ([, v]) => v === n)?.[0] ?? `errno ${n}`;

export class NetlinkError extends Error {
  readonly code: string;
  constructor(readonly errno: number, readonly op: string, extack?: string) {
    const name = errnoName(errno);
    super(`${op}: ${name}${extack ? ` (${extack})` : ''}`);
    this.code = name;
  }
}

// unpredictable, so that nobody can answer a request before the kernel (replies are also only
// taken from the kernel's own port, in the addon)
let seqCounter: number | undefined;

export class Netlink {
  private fd: number;
  /** nsFd: a namespace fd from the addon, or -1 for the calling thread's namespace */
  constructor(nsFd = -1, protocol = NETLINK_ROUTE) {
    this.fd = native().netlinkOpen(nsFd, protocol);
  }

  /** Send one request; for dumps return every reply, otherwise wait for the ACK. */
  request(op: string, type: number, flags: number, payload: Buffer): NlMessage[] {
    const dump = (flags & NLM_F.DUMP) === NLM_F.DUMP;
    return this.send(op, (seq) => encodeMessage({ type, flags: flags | NLM_F.REQUEST | (dump ? 0 : NLM_F.ACK), seq, pid: 0 }, payload));
  }

  /**
   * Send what `build` makes for a fresh sequence number (one message, or a batch of messages
   * under that one number); the replies up to the first error, ACK or DONE, errors thrown.
   */
  send(op: string, build: (seq: number) => Buffer): NlMessage[] {
    if (this.fd < 0) throw new Error('netlink socket is closed');
    const seq = (seqCounter = ((seqCounter ?? native().randomU32()) + 1) >>> 0);
    const req = build(seq);
    const out: NlMessage[] = [];
    for (const raw of native().netlinkRequest(this.fd, req)) {
      const m = decodeMessage(raw);
      if (m.type === NLMSG.ERROR) {
        const e = decodeError(m);
        if (e.errno !== 0) throw new NetlinkError(e.errno, op, e.message);
      } else if (m.type === NLMSG.DONE) {
        const err = m.payload.length >= 4 ? m.payload.readInt32LE(0) : 0;
        if (err < 0) throw new NetlinkError(-err, op);
      } else {
        out.push(m);
      }
    }
    return out;
  }

  close(): void {
    if (this.fd >= 0) native().closeFd(this.fd);
    this.fd = -1;
  }
}
