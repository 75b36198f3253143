// Entry of the compiled executable: dispatch.ts decides what this start is for, then only that
// mode's chunk is evaluated: the build compiles one chunk per plugin module and per other mode
// beside this entry (build.ts), each a bundle of what its mode reaches. A bundle of everything
// cost a bridge+host-local ADD 71 more page faults and ~2.9 ms (A/B on a VM whose faults cost
// ~12 us; README, Start-up): the runtime makes an object for every function declared at a
// bundle's top level, used or not, and the bundler hoists every module's functions there.
import { mark } from '../shared/os/trace.ts';
import { dispatch } from './dispatch.ts';
import { pluginChunk } from '../plugins/registry.ts';

mark('main');
const mode = dispatch();
// (a path the bundler cannot follow: the chunk stays a file of its own, found beside this one)
const chunk = `./${mode.kind === 'plugin' ? pluginChunk(mode.name) : mode.kind}.js`;
const loaded = (await import(chunk)) as { run(m: typeof mode): unknown };
await loaded.run(mode);
