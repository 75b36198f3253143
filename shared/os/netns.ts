// Network namespaces by path: open, run code inside, and netlink handles bound inside.
import { native } from './native.ts';
import { Netlink } from '../netlink/socket.ts';

export class NetNS {
  private constructor(readonly path: string, private fdv: number) {}

  /** Throws with code ENOENT when the path does not exist, ENOTNETNS when it is no netns. */
  static open(path: string): NetNS {
    return new NetNS(path, native().openNetns(path));
  }

  get fd(): number {
    if (this.fdv < 0) throw new Error(`netns ${this.path} is closed`);
    return this.fdv;
  }

  /** Run fn with this thread inside the namespace; always returns to where it was. */
  run<T>(fn: () => T): T {
    return native().withNetns(this.fd, fn);
  }

  /** A rtnetlink socket bound inside this namespace. */
  netlink(): Netlink {
    return new Netlink(this.fd);
  }

  close(): void {
    if (this.fdv >= 0) native().closeFd(this.fdv);
    this.fdv = -1;
  }
}

/** Open, use, close. */
export function withNetNSPath<T>(path: string, fn: (ns: NetNS, nl: Netlink) => T): T {
  const ns = NetNS.open(path);
  const nl = ns.netlink();
  try {
    return fn(ns, nl);
  } finally {
    nl.close();
    ns.close();
  }
}
