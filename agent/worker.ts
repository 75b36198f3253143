// An agent worker: one process that runs plugin calls one at a time, warm, for as long as the
// agent runs. It blocks in accept on the listening socket it shares with the other workers
// (fd 3), so a call waiting for a lock, or a stuck one, holds up only its own worker. Each call
// runs as an exec'd one would: its own stdin, stdout and stderr in place of the worker's, its
// own environment, the skeleton's runPlugin, the caches a call may keep forgotten after it
// (shared/os/call-scope.ts), and an alarm that ends the worker should the call outlive its
// deadline (the launcher then prints the error it was given, code 11).
import type { Plugin } from '../shared/cni/plugin.ts';
import { errorReply, replyVersion, runPlugin, type Io } from '../shared/cni/skel.ts';
import { endCall } from '../shared/os/call-scope.ts';
import { holdFileLock } from '../shared/os/files.ts';
import { O, closeFile, openFile, readFd, writeFd } from '../shared/os/fs.ts';
import { exitCall, native } from '../shared/os/native.ts';
import { isOwnNetnsFd, openAsCaller } from '../shared/os/netns.ts';
import { startLongRunningWith } from '../shared/os/self.ts';
import { giveBackIdleMemory } from './memory.ts';
import { shortHash } from '../shared/util/hash.ts';
import { join } from '../shared/util/path.ts';
import { GO, MAX_REQUEST, NOT_HERE, REQUEST_FDS, exitStatus, failure, parseRequest, taken, type AgentRequest } from './protocol.ts';

/** The listening socket the supervisor hands every worker, and the pipe it hears them on. */
export const LISTEN_FD = 3, SUPERVISOR_FD = 4;
/** How long a step of the exchange around a call may take (the launcher's is the same). */
const STEP_MS = 2000;
/** Slots of the per-container lock: calls for one container never interleave. */
const CONTAINER_SLOTS = 256;

export interface WorkerOptions {
  build: string;
  dir: string;
  deadlineS: number;
  /** calls before the worker leaves for a fresh one (bounds what a long life could gather) */
  maxCalls: number;
  /** a worker added for a burst leaves after this long without a call (undefined: it stays) */
  idleExitS?: number;
  plugins: Record<string, Plugin<any>>;
}

function tell(line: string): void {
  try { writeFd(SUPERVISOR_FD, `${line}\n`); } catch { /* the supervisor is gone: it notices our exit */ }
}

/** The error to print when the call cannot end in time, in the version its own errors are told in. */
const timeoutError = (stdin: string, deadlineS: number): string =>
  errorReply(replyVersion(stdin), 11, `the call ended unfinished (cni-ts agent: its worker stopped, or its ${deadlineS} s deadline passed): try again later`);

export async function runWorker(o: WorkerOptions): Promise<never> {
  const devNull = openFile('/dev/null', O.RDWR);
  const base = { ...process.env };
  // (a launcher gone meanwhile is EPIPE: the runtime ignores SIGPIPE in its processes)
  const send = (fd: number, b: Buffer): boolean => { try { writeFd(fd, b); return true; } catch { return false; } };

  function setEnv(env: Record<string, string | undefined>): void {
    for (const k of Object.keys(process.env)) if (!(k in env)) delete process.env[k];
    for (const k of Object.keys(env)) process.env[k] = env[k];
  }

  /** One call, taken: its stdio in place, its environment, its lock; its exit status. */
  async function run(conn: number, req: AgentRequest, fds: number[], plugin: Plugin<any>): Promise<number> {
    native().alarm(o.deadlineS);
    native().dup2(fds[0]!, 0);
    native().dup2(fds[1]!, 1);
    native().dup2(fds[2]!, 2);
    openAsCaller(fds[4]);
    setEnv(req.env);
    let release: (() => void) | undefined;
    try {
      let stdin = '';
      try { stdin = readFd(0); } catch { /* as the exec path: an unreadable stdin is an empty one */ }
      const late = timeoutError(stdin, o.deadlineS);
      send(conn, failure(late));
      const id = req.env.CNI_CONTAINERID;
      if (id) {
        try { release = holdFileLock(join(o.dir, 'calls', String(parseInt(shortHash(id, 16).slice(8), 16) % CONTAINER_SLOTS)), Math.max(1, o.deadlineS - 2) * 1000); } catch {
          writeFd(1, late);
          return 1;
        }
      }
      const io: Io = {
        env: process.env,
        readStdin: () => stdin,
        stdout: (s) => writeFd(1, s),
        stderr: (s) => writeFd(2, s),
      };
      try { return await runPlugin(plugin, io); } catch { return 1; }   // (its stdout gone: nothing more to tell)
    } finally {
      release?.();
      for (const f of [0, 1, 2]) native().dup2(devNull, f);
      openAsCaller(undefined);
      setEnv(base);
      endCall();
      native().alarm(0);
    }
  }

  /** One connection: checked, taken or sent back, run. */
  async function serve(conn: number, uid: number): Promise<boolean> {
    if (uid !== 0) return false;   // root's calls only (the socket is root's, 0600: this is a second lock)
    let got: [Buffer, ...number[]];
    try { got = native().agentReceive(conn, MAX_REQUEST, STEP_MS); } catch { return false; }
    const [body, ...fds] = got;
    try {
      const req = parseRequest(body);
      if (!req || fds.length !== REQUEST_FDS) return false;
      const plugin = o.plugins[req.name];
      let here = false;
      try { here = isOwnNetnsFd(fds[3]!); } catch { /* not a namespace we can see */ }
      // another build's launcher, a name we do not run, a caller in another network namespace:
      // the launcher execs the call itself
      if (req.build !== o.build || !plugin || !here) { send(conn, NOT_HERE); return false; }
      if (!send(conn, taken(o.deadlineS)) || native().agentWaitByte(conn, STEP_MS) !== GO) return false;
      const started = Date.now();
      tell('busy');
      const status = await run(conn, req, fds, plugin);
      send(conn, exitStatus(status));
      tell(`done ${req.name} ${req.env.CNI_COMMAND ?? '-'} ${status} ${Date.now() - started}`);
      return true;
    } finally {
      for (const f of fds) try { closeFile(f); } catch { /* closed */ }
    }
  }

  // a call that starts a long-running mode (dns-hosts' resolver) has the agent start it
  startLongRunningWith((name, args) => { tell(`start ${name} ${args.join(' ')}`); return true; });
  tell('ready');
  let lastCall = Date.now(), collectedAt = 0;
  const parent = process.ppid;
  for (let served = 0; served < o.maxCalls;) {
    let accepted: [number, number, number];
    try { accepted = native().agentAccept(LISTEN_FD); } catch (e) {
      if ((e as { code?: string }).code === 'EINVAL') break;   // shut down: the agent is stopping
      if ((e as { code?: string }).code === 'EAGAIN') {   // nothing to take for a while
        if (o.idleExitS !== undefined && Date.now() - lastCall >= o.idleExitS * 1000) break;
        // the supervisor is gone (killed): a new agent serves a new socket; this one leaves
        if (process.ppid !== parent) break;
        // (an accept that timed out: no call for a while, a moment to give back what the last ones gathered)
        if (served > collectedAt) { giveBackIdleMemory(); collectedAt = served; }
        continue;
      }
      if ((e as { code?: string }).code === 'EMFILE' || (e as { code?: string }).code === 'ENFILE') { await new Promise((r) => setTimeout(r, 100)); continue; }
      throw e;
    }
    const [conn, uid] = accepted;
    try {
      if (await serve(conn, uid)) { served++; lastCall = Date.now(); }
    } catch (e) {
      tell(`error ${String((e as Error)?.message ?? e).replace(/\s+/g, ' ').slice(0, 300)}`);
    } finally {
      closeFile(conn);
    }
  }
  exitCall(0);
}
