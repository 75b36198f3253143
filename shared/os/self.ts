// This executable again, in another mode (a long-running resolver or watcher): the compiled
// multicall binary, the Node bundle or the sources, each run the way this process was.
import { declaredAddonMode } from './native.ts';

/** argv to start this same program as `name` with `args` (busybox style: the name comes first). */
export function selfCommand(name: string, args: string[]): string[] {
  const script = declaredAddonMode() === 'exec' ? [] : [...process.execArgv, process.argv[1]!];
  return [process.execPath, ...script, name, ...args];
}

/**
 * Who starts a long-running mode for a plugin call (dns-hosts' resolver): the call itself,
 * detached (undefined: the default), or, in a node agent's worker, the agent, which runs it
 * under itself. Returns whether the start was handed over.
 */
let starter: ((name: string, args: string[]) => boolean) | undefined;
export function startLongRunningWith(fn: ((name: string, args: string[]) => boolean) | undefined): void { starter = fn; }
export const handOverStart = (name: string, args: string[]): boolean => (starter ? starter(name, args) : false);
