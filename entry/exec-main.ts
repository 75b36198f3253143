// Entry of the compiled executable: dispatch.ts decides what this start is for, then only that
// mode's chunk is evaluated: the build compiles one chunk per plugin module and per other mode
// beside this entry (build/build.ts), each a bundle of what its mode reaches. One bundle of
// everything would make every call pay for all of it: the runtime makes an object for every
// function declared at a bundle's top level, used or not, and the bundler hoists every module's
// functions there (docs/start-up.md, "one chunk per call").
import { mark } from '../shared/os/trace.ts';
import { dispatch } from './dispatch.ts';
import { pluginChunk } from '../plugins/registry.ts';

mark('main');
const mode = dispatch();
// (a path the bundler cannot follow: the chunk stays a file of its own, found beside this one)
const chunk = `./${mode.kind === 'plugin' ? pluginChunk(mode.name) : mode.kind}.js`;
const loaded = (await import(chunk)) as { run(m: typeof mode): unknown };
await loaded.run(mode);
