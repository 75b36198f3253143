// IPAM for main plugins: our own host-local runs in-process (no exec); any other type is
// exec'd from CNI_PATH as the spec's delegation says: same environment, the command given,
// the network config on stdin, and its result (or error) taken as ours.
import { childProcess } from '../shared/util/lazy.ts';
import { mark } from '../shared/os/trace.ts';
import { isExecutable, stat } from '../shared/os/fs.ts';
import { join } from '../shared/util/path.ts';
import { CniError, ErrCode } from '../shared/cni/errors.ts';
import type { Context } from '../shared/cni/plugin.ts';
import { resultFromVersion, type Result } from '../shared/cni/result.ts';
import { parseConfig, parseConfigLenient, type BaseConf } from '../shared/cni/schema.ts';

type IpamCommand = 'ADD' | 'DEL' | 'CHECK';

/** The ipam type, or undefined when the config has none (absent, {} or an empty type). */
export const ipamType = (conf: BaseConf): string | undefined => conf.ipam?.type || undefined;

export function findInPath(type: string, path: string[]): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(type)) throw new CniError(ErrCode.InvalidConfig, `invalid network config: ipam.type "${type}" is not a plugin name`);
  for (const dir of path) {
    const file = join(dir, type);
    try {
      if (stat(file).isFile && isExecutable(file)) return file;
    } catch { /* not here */ }
  }
  throw new CniError(ErrCode.InvalidConfig, `invalid network config: ipam.type "${type}": no such plugin in CNI_PATH (${path.join(':') || 'empty'})`);
}

const parsed = new WeakMap<object, unknown>();

/** Our host-local's own config, parsed once per call (leniently for DEL). */
async function hostLocalIn(ctx: Context<BaseConf>, command: IpamCommand) {
  const hl = await import('./host-local/index.ts');
  mark('host-local loaded');
  let conf = parsed.get(ctx) as Parameters<typeof hl.ipamAdd>[0]['conf'] | undefined;
  if (!conf) {
    const raw: unknown = JSON.parse(ctx.stdin);
    conf = command === 'DEL' ? parseConfigLenient(hl.hostLocal.config, raw) : parseConfig(hl.hostLocal.config, raw);
    parsed.set(ctx, conf);
    mark('host-local config parsed');
  }
  return { hl, sub: { ...ctx, conf } };
}

async function inProcess(command: IpamCommand, ctx: Context<BaseConf>): Promise<Result | undefined> {
  const { hl, sub } = await hostLocalIn(ctx, command);
  if (command === 'ADD') return hl.ipamAdd(sub);
  if (command === 'DEL') hl.ipamDel(sub);
  else hl.ipamCheck(sub);
  return undefined;
}

/**
 * What an ADD can know about its IPAM before making anything: our host-local checks its config
 * and the requested addresses; any other type must be an executable in CNI_PATH.
 */
export async function checkIpam(ctx: Context<BaseConf>): Promise<void> {
  const type = ipamType(ctx.conf);
  if (!type) return;
  if (type !== 'host-local') { findInPath(type, ctx.env.path); return; }
  const { hl, sub } = await hostLocalIn(ctx, 'ADD');
  hl.ipamValidate(sub);
}

function delegate(command: IpamCommand, ctx: Context<BaseConf>, type: string): Result | undefined {
  const file = findInPath(type, ctx.env.path);
  const r = childProcess().spawnSync(file, [], { env: { ...process.env, CNI_COMMAND: command }, input: ctx.stdin, encoding: 'utf8', maxBuffer: 16 << 20 });
  if (r.error) throw new CniError(ErrCode.IOFailure, `cannot run IPAM plugin ${file}: ${r.error.message}`);
  let out: any;
  try { out = r.stdout.trim() ? JSON.parse(r.stdout) : undefined; } catch {
    throw new CniError(ErrCode.DecodingFailure, `IPAM plugin ${type} printed something that is not JSON: ${r.stdout.slice(0, 200)}`);
  }
  if (r.status !== 0) {
    if (out && typeof out.code === 'number') throw new CniError(out.code, String(out.msg ?? ''), out.details);
    throw new CniError(ErrCode.Plugin, `IPAM plugin ${type} failed (exit ${r.status ?? r.signal}): ${r.stderr.trim().slice(0, 500)}`);
  }
  return command === 'ADD' ? resultFromVersion(out ?? {}, ctx.version) : undefined;
}

/** Run the config's IPAM for `command`; undefined when there is none (or for DEL/CHECK). */
export async function runIpam(command: IpamCommand, ctx: Context<BaseConf>): Promise<Result | undefined> {
  const type = ipamType(ctx.conf);
  if (!type) return undefined;
  return type === 'host-local' ? inProcess(command, ctx) : delegate(command, ctx, type);
}
