// `cni-ts agent`: the node agent (agent/supervisor.ts), its workers (agent/worker.ts, every
// plugin loaded once), and `cni-ts agent status`.
import { PLUGINS } from '../loaders.ts';
import { agentCommand } from '../../agent/command.ts';

export const run = (mode: { args: string[] }): Promise<never> => agentCommand(mode.args, PLUGINS);
