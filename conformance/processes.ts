// Waiting on processes from synchronous code (the conformance runner, test teardown, the bench).
import { readFileSync } from 'node:fs';

/** Block this thread for `ms` (no child process, no event loop). */
export const pause = (ms: number): void => { Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms); };

/** Gone, or a zombie (its parent has not reaped it yet): either way it runs no more. */
export function gone(pid: number): boolean {
  try { return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] === 'Z'; } catch { return true; }
}

/** Its children, from the process table. */
export const childrenOf = (pid: number): number[] => {
  try { return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number); } catch { return []; }
};
