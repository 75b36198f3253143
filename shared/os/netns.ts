// Network namespaces by path: open, run code inside, and netlink handles bound inside.
import { fstat, stat } from './fs.ts';
import { native } from './native.ts';
import { Netlink } from '../netlink/socket.ts';

// A process that runs calls for callers in other mount namespaces (the node agent's workers)
// opens a namespace path as its caller would see it: through the caller's root directory. Where
// `ip netns exec` gave the caller a mount namespace of its own, a netns made since is mounted
// there and may not be in the agent's.
let callerRoot: number | undefined;
/** Namespace paths are opened under this directory fd (the caller's root) until set back to undefined. */
export function openAsCaller(rootFd: number | undefined): void { callerRoot = rootFd; }

function openPath(path: string): number {
  if (callerRoot === undefined || !path.startsWith('/')) return native().openNetns(path);
  const via = `/proc/self/fd/${callerRoot}`;
  try { return native().openNetns(`${via}${path}`); } catch (e) {
    // the error names the path as the caller gave it
    if (e instanceof Error) e.message = e.message.split(via).join('');
    throw e;
  }
}

/** Whether `fd` is the network namespace this thread runs in (compared on the file, not a path). */
export function isOwnNetnsFd(fd: number): boolean {
  const own = stat('/proc/thread-self/ns/net');
  const target = fstat(fd);
  return own.ino === target.ino && own.dev === target.dev;
}

export class NetNS {
  private constructor(readonly path: string, private fdv: number) {}

  /** Throws with code ENOENT when the path does not exist, ENOTNETNS when it is no netns. */
  static open(path: string): NetNS {
    return new NetNS(path, openPath(path));
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
