// The CNI_* environment, checked per command as the spec and libcni's skel require.
import { hasIfnameForbidden, isIdentifier } from '../util/chars.ts';
import { CniError, ErrCode } from './errors.ts';
import { arrFilter } from '../util/arrays.ts';

export const COMMANDS = ['ADD', 'DEL', 'CHECK', 'VERSION', 'GC', 'STATUS'] as const;
export type Command = (typeof COMMANDS)[number];

export interface CniEnv {
  command: Command;
  containerId: string;
  netns: string;
  ifname: string;
  args: string;
  path: string[];
}

const REQUIRED: Record<Command, readonly string[]> = {
  ADD: ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_PATH'],
  CHECK: ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_PATH'],
  DEL: ['CNI_CONTAINERID', 'CNI_IFNAME', 'CNI_PATH'],
  VERSION: [],
  GC: [],
  STATUS: [],
};

export function readEnv(env: NodeJS.ProcessEnv): CniEnv {
  const cmd = env.CNI_COMMAND ?? '';
  if (!cmd) throw new CniError(ErrCode.InvalidEnv, 'required env variables [CNI_COMMAND] missing');
  if (!(COMMANDS as readonly string[]).includes(cmd)) throw new CniError(ErrCode.InvalidEnv, `unknown CNI_COMMAND: ${cmd}`);
  const command = cmd as Command;
  const missing: string[] = [];
  for (const k of REQUIRED[command]) if (!env[k]) missing.push(k);
  if (missing.length) throw new CniError(ErrCode.InvalidEnv, `required env variables [${missing.join(',')}] missing`);
  return {
    command,
    containerId: env.CNI_CONTAINERID ?? '',
    netns: env.CNI_NETNS ?? '',
    ifname: env.CNI_IFNAME ?? '',
    args: env.CNI_ARGS ?? '',
    path: arrFilter((env.CNI_PATH ?? '').split(':'), Boolean),
  };
}

/** Container ID and interface name checks (ADD, CHECK, DEL), as libcni's utils do them. */
export function validateIdentity(e: CniEnv): void {
  if (!e.containerId) throw new CniError(ErrCode.UnknownContainer, 'missing containerID');
  if (!isIdentifier(e.containerId)) throw new CniError(ErrCode.InvalidEnv, `invalid characters in containerID "${e.containerId}" (CNI_CONTAINERID)`);
  const n = e.ifname;
  if (!n) throw new CniError(ErrCode.InvalidEnv, 'interface name is empty (CNI_IFNAME)');
  if (Buffer.byteLength(n) > 15) throw new CniError(ErrCode.InvalidEnv, `interface name "${n}" is too long (CNI_IFNAME, at most 15 bytes)`);
  if (n === '.' || n === '..') throw new CniError(ErrCode.InvalidEnv, 'interface name is . or .. (CNI_IFNAME)');
  if (hasIfnameForbidden(n)) throw new CniError(ErrCode.InvalidEnv, `interface name "${n}" contains / or : or whitespace characters (CNI_IFNAME)`);
}

export function validateNetworkName(name: string): void {
  if (!isIdentifier(name)) throw new CniError(ErrCode.InvalidConfig, `invalid characters found in network name "${name}" (name)`);
}
