// The exchange between a plugin's launcher (build/launcher/launcher.c, the other end) and an
// agent worker, over one unix stream connection per call:
//
//   launcher -> worker  a 4-byte little-endian length, then "cni-ts-agent/1", the build id, the
//                       plugin's name and each "NAME=value" of the call's environment, each
//                       NUL-terminated; with it (SCM_RIGHTS) the call's stdin, stdout, stderr,
//                       the caller's network namespace and its root directory (O_PATH)
//   worker -> launcher  "A" and the call's deadline in seconds (4 bytes LE): taken; or "X":
//                       not here (another build, another namespace, not a plugin): exec it
//   launcher -> worker  "G": go. A worker never runs a call without it, so a launcher that gave
//                       up waiting (and runs the call itself) is never doubled by a worker
//   worker -> launcher  "E", a 2-byte length and the error JSON to print should the call not end
//                       (the worker gone at its deadline), then "S" and the exit status
//
// The call's output goes straight to the caller's own stdout and stderr: the bytes an exec'd
// call would print, by construction.
export const MAGIC = 'cni-ts-agent/1';
/** The largest request taken (the launcher sends none larger). */
export const MAX_REQUEST = 256 * 1024;
/** The descriptors a request carries: stdin, stdout, stderr, the caller's network namespace and root. */
export const REQUEST_FDS = 5;

export interface AgentRequest {
  build: string;
  name: string;
  /** NAME -> value; the first of a repeated name (as getenv finds it) */
  env: Record<string, string>;
}

/** A request's body, or undefined when it is not one (wrong magic, no build or name). */
export function parseRequest(body: Uint8Array): AgentRequest | undefined {
  const parts = Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8').split('\0');
  // NUL-terminated fields: the last split is the empty tail
  if (parts.length < 4 || parts[0] !== MAGIC || parts[parts.length - 1] !== '') return undefined;
  const build = parts[1]!, name = parts[2]!;
  if (!build || !name) return undefined;
  const env: Record<string, string> = Object.create(null);
  for (let i = 3; i < parts.length - 1; i++) {
    const kv = parts[i]!, eq = kv.indexOf('=');
    if (eq <= 0) continue;
    const k = kv.slice(0, eq);
    if (!(k in env)) env[k] = kv.slice(eq + 1);
  }
  return { build, name, env };
}

export const taken = (deadlineS: number): Buffer => {
  const b = Buffer.alloc(5);
  b[0] = 0x41;   // A
  b.writeUInt32LE(deadlineS, 1);
  return b;
};
export const NOT_HERE = Buffer.from('X');
export const GO = 0x47;   // G

/** "E": what the launcher prints should the call not end (at most 1024 bytes, as launcher.c takes). */
export function failure(json: string): Buffer {
  const body = Buffer.from(json, 'utf8').subarray(0, 1024);
  const b = Buffer.alloc(3 + body.length);
  b[0] = 0x45;   // E
  b.writeUInt16LE(body.length, 1);
  body.copy(b, 3);
  return b;
}

export const exitStatus = (status: number): Buffer => Buffer.from([0x53, status & 255]);   // S
