// Multicall entry of the Node bundles (build/dist/*.cjs): dispatch.ts decides what this start is
// for; that mode's code loads on demand. (The compiled executable's entry is exec-main.ts.)
import { mark } from '../shared/os/trace.ts';
import { dispatch } from './dispatch.ts';
import { PLUGINS } from './loaders.ts';

async function main(): Promise<void> {
  mark('main');
  const mode = dispatch();
  switch (mode.kind) {
    case 'cli': return (await import('./chunks/cli.ts')).run();
    case 'agent': return (await import('./chunks/agent.ts')).run(mode);
    case 'udp-thread': return (await import('./chunks/udp-thread.ts')).run();
    case 'resolver': return (await import('./chunks/resolver.ts')).run(mode);
    case 'watch': return (await import('./chunks/watch.ts')).run();
    case 'plugin': {
      const { runPluginCall } = await import('./chunks/plugin-call.ts');
      return runPluginCall(await PLUGINS[mode.name]!());
    }
  }
}

void main();
