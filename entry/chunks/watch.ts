// vxlan-overlay's watcher.
import { runWatcher } from '../../plugins/vxlan-overlay/watch.ts';
import type { Mode } from '../dispatch.ts';

export const run = (mode: Extract<Mode, { kind: 'watch' }>): Promise<void> => runWatcher(mode.arg);
