// dns-hosts' long-running resolver.
import { runResolver } from '../../plugins/dns-hosts/resolver/main.ts';
import type { Mode } from '../dispatch.ts';

export const run = (mode: Extract<Mode, { kind: 'resolver' }>): Promise<void> => runResolver(mode.dir);
