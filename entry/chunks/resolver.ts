// dns-hosts' long-running resolver, and the supervisor that runs and restarts it.
import { runResolver } from '../../plugins/dns-hosts/resolver/main.ts';
import { runSupervisor } from '../../plugins/dns-hosts/resolver/supervisor.ts';
import type { Mode } from '../dispatch.ts';

export const run = (mode: Extract<Mode, { kind: 'resolver' }>): Promise<void> => (mode.role === 'supervisor' ? runSupervisor(mode.dir) : runResolver(mode.dir));
