// The CNI skeleton: environment, stdin, version checks, dispatch, and the output contract
// (result or error JSON on stdout, exit status, nothing but JSON on stdout).
import { parseCniArgs } from './args.ts';
import { readEnv, validateIdentity, validateNetworkName, type CniEnv } from './env.ts';
import { CniError, ErrCode, asCniError } from './errors.ts';
import type { Context, Plugin } from './plugin.ts';
import { resultFromVersion, resultToVersion } from './result.ts';
import { parseConfig, parseConfigLenient, type BaseConf } from './schema.ts';
import { mark } from '../os/trace.ts';
import { readFd, writeFd } from '../os/fs.ts';
import { nodeFs } from '../util/lazy.ts';
import { addonLoads } from '../os/native.ts';
import { CURRENT_VERSION, SUPPORTED_VERSIONS, checkVersion, versionAtLeast, versionReply } from './version.ts';

export const CNI_TS_VERSION = '0.1.0';

export interface Io {
  env: NodeJS.ProcessEnv;
  readStdin(): string;
  stdout(s: string): void;
  stderr(s: string): void;
}

// stdio through the addon (no node:fs at start-up), or through node:fs when the addon cannot
// load: the error JSON that says so must still be printed
export const processIo: Io = {
  env: process.env,
  readStdin: () => { try { return addonLoads() ? readFd(0) : nodeFs().readFileSync(0, 'utf8'); } catch { return ''; } },
  stdout: (s) => { if (addonLoads()) writeFd(1, s); else nodeFs().writeSync(1, s); },
  stderr: (s) => { if (addonLoads()) writeFd(2, s); else nodeFs().writeSync(2, s); },
};

const pretty = (v: unknown): string => `${JSON.stringify(v, null, 4)}\n`;

function decodeStdin(stdin: string): Record<string, unknown> {
  let raw: unknown;
  try {
    raw = JSON.parse(stdin);
  } catch (e) {
    throw new CniError(ErrCode.DecodingFailure, `error unmarshalling network config: ${(e as Error).message}`);
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new CniError(ErrCode.DecodingFailure, 'error unmarshalling network config: expected a JSON object');
  return raw as Record<string, unknown>;
}

function configVersion(raw: Record<string, unknown>): string {
  const v = raw.cniVersion;
  if (v === undefined || v === '') return '0.1.0';
  if (typeof v !== 'string') throw new CniError(ErrCode.DecodingFailure, 'cniVersion: expected a string');
  return v;
}

function requireVersion(cmd: string, version: string, min: string): void {
  if (!versionAtLeast(version, min)) throw new CniError(ErrCode.IncompatibleVersion, `config version does not allow ${cmd}`, `${cmd} needs cniVersion ${min} or later, config is "${version}"`);
}

async function dispatch<C extends BaseConf>(plugin: Plugin<C>, env: CniEnv, io: Io, versionRef: { v: string }): Promise<string> {
  if (env.command === 'VERSION') {
    return versionReply();
  }
  mark('start');
  const stdin = io.readStdin();
  const raw = decodeStdin(stdin);
  const version = configVersion(raw);
  // an error from here on is told in the config's version when we speak it
  if ((SUPPORTED_VERSIONS as readonly string[]).includes(version)) versionRef.v = version;
  if (typeof raw.name !== 'string' || raw.name === '') throw new CniError(ErrCode.InvalidConfig, 'missing network name (name)');
  validateNetworkName(raw.name);
  if (env.command === 'ADD' || env.command === 'CHECK' || env.command === 'DEL') validateIdentity(env);
  checkVersion(version);   // (a version it passes is already versionRef's, above)
  if (env.command === 'CHECK') requireVersion('CHECK', version, '0.4.0');
  if (env.command === 'GC' || env.command === 'STATUS') requireVersion(env.command, version, '1.1.0');

  // DEL cleans up whatever it can: an invalid field it does not need does not stop it
  const conf = env.command === 'DEL' ? parseConfigLenient(plugin.config, raw) : parseConfig(plugin.config, raw);
  mark('config parsed');
  const ctx: Context<C> = { env, conf, version, args: parseCniArgs(env.args, plugin.knownArgs), stdin };
  if (raw.prevResult !== undefined && raw.prevResult !== null) ctx.prevResult = resultFromVersion(raw.prevResult, version);

  switch (env.command) {
    case 'ADD': return pretty(await addInVersion(plugin, ctx));
    case 'DEL': await plugin.del(ctx); return '';
    case 'CHECK': await plugin.check(ctx); return '';
    case 'GC': await plugin.gc?.(ctx); return '';
    case 'STATUS': await plugin.status?.(ctx); return '';
  }
}

/**
 * ADD, its result in the config's version. A chained plugin returns (a changed) prevResult, so
 * whether that converts is known before it changes anything; any other result that cannot be
 * converted is undone with the plugin's own DEL, so a failed ADD leaves nothing.
 */
async function addInVersion<C extends BaseConf>(plugin: Plugin<C>, ctx: Context<C>): Promise<Record<string, unknown>> {
  if (plugin.chained && ctx.prevResult) resultToVersion(ctx.prevResult, ctx.version);
  const result = await plugin.add(ctx);
  try {
    return resultToVersion(result, ctx.version);
  } catch (e) {
    try { await plugin.del({ ...ctx, prevResult: result }); } catch { /* the conversion error is the one to report */ }
    throw e;
  }
}

/** An error as a call prints it: the spec's error JSON, told in `version`. */
export function errorReply(version: string, code: number, msg: string, details?: string): string {
  const body: Record<string, unknown> = { cniVersion: version, code, msg };
  if (details) body.details = details;
  return pretty(body);
}

/**
 * The version a call's error is told in, from its stdin alone: the config's when we speak it (a
 * config without one is 0.1.0's), else ours; as runPlugin tells it for an error after decoding.
 */
export function replyVersion(stdin: string): string {
  try {
    const v = configVersion(decodeStdin(stdin));
    return (SUPPORTED_VERSIONS as readonly string[]).includes(v) ? v : CURRENT_VERSION;
  } catch { return CURRENT_VERSION; }
}

/** Run one CNI invocation; returns the exit status. */
export async function runPlugin<C extends BaseConf>(plugin: Plugin<C>, io: Io = processIo): Promise<number> {
  if (!io.env.CNI_COMMAND) {
    io.stderr(`CNI ${plugin.type} plugin v${CNI_TS_VERSION}\nCNI protocol versions supported: ${SUPPORTED_VERSIONS.join(', ')}\n`);
    return 0;
  }
  const versionRef = { v: CURRENT_VERSION };
  try {
    const env = readEnv(io.env);
    const out = await dispatch(plugin, env, io, versionRef);
    if (out) io.stdout(out);
    mark('done');
    return 0;
  } catch (e) {
    const err = asCniError(e);
    if (io.env.CNI_TS_DEBUG && e instanceof Error) io.stderr(`${e.stack ?? e.message}\n`);
    io.stdout(errorReply(versionRef.v, err.code, err.message, err.details));
    return 1;
  }
}
