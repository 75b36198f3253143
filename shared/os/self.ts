// This executable again, in another mode (a long-running resolver or watcher): the compiled
// multicall binary, the Node bundle or the sources, each run the way this process was.
import { declaredAddonMode } from './native.ts';

/** argv to start this same program as `name` with `args` (busybox style: the name comes first). */
export function selfCommand(name: string, args: string[]): string[] {
  const script = declaredAddonMode() === 'exec' ? [] : [...process.execArgv, process.argv[1]!];
  return [process.execPath, ...script, name, ...args];
}
