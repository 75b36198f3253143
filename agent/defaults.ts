// Where the agent listens and how long a call may take unless told: the supervisor, the CLI's
// unit and manifest, and launcher.c (its own copy of the path, held to this one by a test).
import { STATE_DIRS } from '../shared/os/state.ts';
import { join } from '../shared/util/path.ts';

export const AGENT_DIR = join(STATE_DIRS.run, 'agent');
export const DEFAULT_DEADLINE_S = 90;
