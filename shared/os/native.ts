// Loads the netns-native addon from a fixed place: beside the executable (compiled binary),
// beside the bundle (Node bundle), or from the addon's own build dir (sources under tsx).
// Never from a path the environment can choose, and never from a temporary directory.
import { dirname, join } from '../util/path.ts';

type StatTuple = [dev: number, ino: number, mode: number, size: number];

export interface NetnsNative {
  openNetns(path: string): number;
  closeFd(fd: number): void;
  withNetns<T>(fd: number, fn: () => T): T;
  netlinkOpen(nsFd: number, protocol: number): number;
  netlinkRequest(fd: number, request: Buffer): Buffer[];
  flock(fd: number, operation: number): void;
  randomU32(): number;
  netnsCookie(): string;
  /** _exit(code): for a call whose every byte of output is written */
  exitNow(code: number): never;
  // sockets (sockets.c): listeners inside container namespaces, bounded request/reply exchanges
  listenIn(nsFd: number, tcp: number, address: string, port: number): number;
  udpExchange(nsFd: number, address: string, port: number, query: Buffer, timeoutMs: number): Buffer | null;
  unixExchange(path: string, request: Buffer, timeoutMs: number): Buffer;
  tcpExchange(address: string, port: number, request: Buffer, timeoutMs: number): Buffer;
  // a blocking UDP loop (dns-hosts' resolver): epoll set, wake eventfd, one datagram in/out
  pollCreate(): number;
  /** add fd with tag (>= 0), or remove it (tag < 0); exclusive (1): one of the sets holding fd is woken a datagram */
  pollCtl(ep: number, fd: number, tag: number, exclusive: number): void;
  eventFd(): number;
  eventSignal(fd: number): void;
  /** length (0: the wake fd; -1: nothing in time); meta = [tag, fd, port, IPv4 as int32] */
  /** sends `reply` (its first replyLength bytes, when > 0) to the peer meta names, then waits for the next datagram (see udpStep) */
  udpNext(ep: number, buf: Buffer, meta: Int32Array, timeoutMs: number, reply: Buffer, replyLength: number, streakMax: number): number;
  udpSend(fd: number, buf: Buffer, length: number, address: number, port: number): void;
  // the node agent's socket (agent.c)
  agentListen(path: string): number;
  /** [connection, peer uid, peer pid]; throws EINVAL once the listener is shut down */
  agentAccept(fd: number): [number, number, number];
  /** [request, fds the request carried...] */
  agentReceive(fd: number, max: number, timeoutMs: number): [Buffer, ...number[]];
  /** the next byte, -1 at EOF, -2 after timeoutMs */
  agentWaitByte(fd: number, timeoutMs: number): number;
  agentShutdown(fd: number): void;
  dup2(from: number, to: number): void;
  alarm(seconds: number): number;
  // file syscalls (shared/os/fs.ts)
  fileOpen(path: string, flags: number, mode: number): number;
  fileRead(fd: number): string;
  fileWrite(fd: number, data: Buffer, truncate: boolean): void;
  pathOp(op: number, path: string, arg?: string | number): void;
  readDir(path: string): string[];
  stat(path: string): StatTuple;
  lstat(path: string): StatTuple;
  fstat(fd: number): StatTuple;
}

// Set by build/build.ts: 'exec' (compiled executable) or 'bundle' (Node bundle).
declare const __CNI_TS_ADDON__: 'exec' | 'bundle' | undefined;
const ADDON = 'netns_native.node';

/** How this program was built: a compiled executable, a Node bundle, or (undefined) sources. */
export const declaredAddonMode = (): 'exec' | 'bundle' | undefined => (typeof __CNI_TS_ADDON__ === 'undefined' ? undefined : __CNI_TS_ADDON__);

function addonPath(): string {
  const mode = declaredAddonMode();
  if (mode === 'exec') return join(dirname(process.execPath), ADDON);
  if (mode === 'bundle') return join(__dirname, ADDON);
  return new URL(`../netns-native/build/Release/${ADDON}`, import.meta.url).pathname;
}

let cached: NetnsNative | undefined;

export function native(): NetnsNative {
  if (!cached) {
    const mod = { exports: {} as NetnsNative };
    process.dlopen(mod, addonPath());
    cached = mod.exports;
  }
  return cached;
}

/** Whether the addon loads here (a plugin call without it still prints the error JSON that says why). */
export const addonLoads = (): boolean => { try { native(); return true; } catch { return false; } };

/**
 * End a plugin call with `code` once its output is written (all of it goes through write(2)):
 * _exit without the runtime's teardown when the addon is there, process.exit otherwise.
 */
export function exitCall(code: number): never {
  // (a run with runtime flags, --cpu-prof say, keeps the runtime's exit: it writes on exit)
  if (!process.execArgv.length) try { native().exitNow(code); } catch { /* no addon: the runtime's own exit */ }
  process.exit(code);
}

/** The UDP loop's step (udpNext's arguments; -2 - errno when the wait fails). */
/** streakMax: how many datagrams in a row the socket read last may give before the next wait (0: always wait) */
export type UdpStep = (ep: number, buf: Uint8Array, meta: Int32Array, timeoutMs: number, reply: Uint8Array, replyLength: number, streakMax: number) => number;

interface BunFfi {
  dlopen(path: string, symbols: Record<string, { args: number[]; returns: number }>): { symbols: Record<string, (...a: unknown[]) => number> };
  FFIType: { i32: number; ptr: number };
}

/**
 * udpNext for a loop that runs it for every datagram: under Bun, the addon's cnits_udp_step
 * called through Bun's FFI, which leaves nothing on the thread's heap (an N-API call leaves a
 * handle scope, and under load collecting them paused the thread every few seconds); N-API's
 * udpNext elsewhere.
 */
export function udpStep(): UdpStep {
  const n = native();
  const ffi = process.getBuiltinModule?.('bun:ffi') as BunFfi | undefined;
  if (ffi?.dlopen) {
    const { i32, ptr } = ffi.FFIType;
    const step = ffi.dlopen(addonPath(), { cnits_udp_step: { args: [i32, ptr, i32, ptr, i32, ptr, i32, i32], returns: i32 } }).symbols.cnits_udp_step!;
    return (ep, buf, meta, timeoutMs, reply, replyLength, streakMax) => {
      if (meta.length < 4 || replyLength > reply.length) throw new RangeError('udpStep: meta needs 4 slots and the reply its length');
      return step(ep, buf, buf.length, meta, timeoutMs, reply, replyLength, streakMax);
    };
  }
  return (ep, buf, meta, timeoutMs, reply, replyLength, streakMax) => n.udpNext(ep, buf as Buffer, meta, timeoutMs, reply as Buffer, replyLength, streakMax);
}
