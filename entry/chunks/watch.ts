// vxlan-overlay's sync process.
import { runSync } from '../../plugins/vxlan-overlay/sync.ts';

export const run = (): Promise<void> => runSync();
