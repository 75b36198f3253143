// The resolver's UDP threads ("lanes"). Each waits on an epoll set of its own that holds every
// listener's UDP socket, added with EPOLLEXCLUSIVE: a datagram wakes one idle lane. One lane is
// the default: a second one covers for a lane the machine stalls, but every datagram that finds
// the busy lane's queue empty wakes the idle one, and on a machine short of CPUs those wake-ups
// cost the clients more than the stalls did (docs/benchmarks.md has both).
import type { MessagePort, Worker } from 'node:worker_threads';
import { native } from '../../../shared/os/native.ts';
import { UDP_THREAD_FLAG } from '../modes.ts';
import type { FromUdp, UdpWorkerData, View } from './udp-worker.ts';

const WAKE_TAG = 0;
/** the lane's own socket to the upstreams (listener tags count up from 1) */
const UPSTREAM_TAG = 0x7fffffff;
/** how long a view change may take to reach every lane */
const APPLY_MS = 5000;
/** lanes beyond the CPUs only add switching */
const MAX_LANES = 1;

interface Lane { ep: number; wake: number; worker: Worker; port: MessagePort; applied: Int32Array }

export class UdpLanes {
  private lanes: Lane[] = [];
  /** the round-robin turn, one counter for every lane (and the TCP answers) */
  readonly turn = new Int32Array(new SharedArrayBuffer(4));

  /** onForward: a query no lane could answer; onExit: a lane failed or ended (never expected) */
  constructor(onForward: (m: FromUdp) => void, onExit: (why: string) => void) {
    const { Worker, MessageChannel } = process.getBuiltinModule('node:worker_threads') as typeof import('node:worker_threads');
    const { availableParallelism } = process.getBuiltinModule('node:os') as typeof import('node:os');
    const count = Math.max(1, Math.min(MAX_LANES, availableParallelism()));
    for (let i = 0; i < count; i++) {
      const ep = native().pollCreate();
      const wake = native().eventFd();
      native().pollCtl(ep, wake, WAKE_TAG, 0);
      const { port1, port2 } = new MessageChannel();
      const applied = new Int32Array(new SharedArrayBuffer(4));
      // the lane's socket to IPv4 upstreams, in this (the host's) namespace, any address, a port of the kernel's
      const upstreamFd = native().listenIn(-1, 0, '0.0.0.0', 0);
      native().pollCtl(ep, upstreamFd, UPSTREAM_TAG, 0);
      const workerData: UdpWorkerData = { ep, wake, wakeTag: WAKE_TAG, port: port2, applied, turn: this.turn, upstreamFd, upstreamTag: UPSTREAM_TAG };
      // this same program again (its script, its argv), told by a flag that it is a lane
      const worker = new Worker(process.argv[1]!, { argv: ['dns-hosts', UDP_THREAD_FLAG], workerData, transferList: [port2] });
      worker.on('error', (e: Error) => onExit(`UDP thread ${i} failed: ${e.stack ?? e}`));
      worker.on('exit', (code) => onExit(`UDP thread ${i} exited (${code})`));
      worker.unref();
      port1.on('message', onForward);
      this.lanes.push({ ep, wake, worker, port: port1, applied });
    }
  }

  /** A listener's UDP socket: every lane waits on it (tag >= 1), or no lane any more. */
  add(fd: number, tag: number): void {
    for (const l of this.lanes) native().pollCtl(l.ep, fd, tag, 1);
  }

  remove(fd: number): void {
    for (const l of this.lanes) native().pollCtl(l.ep, fd, -1, 0);
  }

  /**
   * Hand every lane the view; returns when all of them serve it (bounded). The wait blocks the
   * calling thread (at most APPLY_MS): an acknowledgement through the event loop would wait for
   * whatever the loop is doing, and a call's sync waits for it.
   */
  sendView(view: View): void {
    for (const l of this.lanes) {
      l.port.postMessage(view);
      native().eventSignal(l.wake);
    }
    const deadline = Date.now() + APPLY_MS;
    for (const l of this.lanes) {
      for (let seen = Atomics.load(l.applied, 0); seen < view.gen; seen = Atomics.load(l.applied, 0)) {
        const left = deadline - Date.now();
        if (left <= 0) throw new Error('a UDP thread did not take the change');
        Atomics.wait(l.applied, 0, seen, left);
      }
    }
  }
}
