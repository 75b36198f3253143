// Test hosts: every integration test makes its own "host" network namespace (and container
// namespaces), runs the built plugin executables inside it with `ip netns exec`, and removes
// everything in teardown, pass or fail. Nothing touches this machine's own namespace.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { elementsOf, type NftElement } from '../../plugins/nft-state/elements.ts';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
/** the executables under test (CNI_TS_BIN: another build, e.g. to compare two in the bench) */
export const BIN = process.env.CNI_TS_BIN ?? join(ROOT, 'build/bin');
/** the reference plugins (CNI_TS_REFERENCE_BIN: any other plugin directory) */
export const REFERENCE_BIN = process.env.CNI_TS_REFERENCE_BIN ?? '/usr/lib/cni';

interface Teardown { teardown(fn: () => void | Promise<void>): void }

export const sh = (cmd: string, args: string[], input?: string): string =>
  execFileSync(cmd, args, { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] });

/** Run `ip` (optionally inside a namespace); JSON output when asked. */
export const ipIn = (ns: string | undefined, ...args: string[]): string => sh('ip', ns ? ['-n', ns, ...args] : args);
export const ipJson = <T = any>(ns: string | undefined, ...args: string[]): T => JSON.parse(ipIn(ns, '-j', ...args) || '[]') as T;

export const uniqueName = (prefix: string): string => `${prefix}-${process.pid.toString(36)}-${randomBytes(3).toString('hex')}`;

/** A fresh temporary directory, removed in teardown. */
export function tempDir(t: Teardown, prefix = 'cnits-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

export { netnsKey, netnsStateDirs, stopDaemons } from '../../conformance/host-state.ts';
import { netnsStateDirs, stopDaemons } from '../../conformance/host-state.ts';

// CNI_TS_TEST_AGENT=1 (the agent-*.test.ts files): every call a test makes from a host
// namespace goes through a node agent started in that namespace on its first call, and stopped
// with the namespace; what the agents ran is counted for the test to check.
import { agentEnv, startAgent, type AgentHandle } from '../../conformance/agent.ts';
const agents = new Map<string, AgentHandle>();
export const agentTally = { started: 0, served: 0, unclean: 0 };
export const testingAgent = (): boolean => process.env.CNI_TS_TEST_AGENT === '1';

/** The environment a runtime in host namespace `host` gives the plugins: its agent's, or the exec path for certain. */
export function runtimeEnv(host: string): Record<string, string> {
  let a = agents.get(host);
  if (!a && testingAgent()) { a = startAgent(host, BIN); agents.set(host, a); agentTally.started++; }
  return agentEnv(a);
}

function stopAgent(host: string): void {
  const a = agents.get(host);
  if (!a) return;
  agents.delete(host);
  agentTally.served += a.served();
  if (!a.stop()) agentTally.unclean++;
}

/** A fresh named netns, deleted in teardown (with the state plugins kept for it, and their daemons). */
export function makeNetns(t: Teardown, prefix = 'cnits'): { name: string; path: string } {
  const name = uniqueName(prefix);
  sh('ip', ['netns', 'add', name]);
  t.teardown(() => {
    stopAgent(name);
    try { for (const d of netnsStateDirs(name)) { stopDaemons(d); rmSync(d, { recursive: true, force: true }); } } catch { /* best effort */ }
    spawnSync('ip', ['netns', 'del', name]);
  });
  sh('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
  return { name, path: `/run/netns/${name}` };
}

export interface PluginCall {
  host: string;                    // host netns name the plugin runs in
  command: string;
  config: unknown;
  containerId?: string;
  netns?: string;                  // CNI_NETNS (path)
  ifname?: string;
  args?: string;
  path?: string;                   // CNI_PATH
  env?: Record<string, string>;
  bin?: string;                    // plugin directory (ours by default)
  stdin?: string;                  // raw stdin instead of JSON.stringify(config)
}

export interface PluginOutcome { status: number; stdout: string; stderr: string; json: any }

function callEnv(c: PluginCall): Record<string, string> {
  // (the exec path unless the test hands its own agent's environment: never an agent of this machine's)
  const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', CNI_COMMAND: c.command, ...runtimeEnv(c.host), ...c.env };
  if (c.containerId !== undefined) env.CNI_CONTAINERID = c.containerId;
  if (c.netns !== undefined) env.CNI_NETNS = c.netns;
  if (c.ifname !== undefined) env.CNI_IFNAME = c.ifname;
  if (c.args !== undefined) env.CNI_ARGS = c.args;
  env.CNI_PATH = c.path ?? c.bin ?? BIN;
  return env;
}

function outcome(status: number | null, stdout: string, stderr: string): PluginOutcome {
  let json: unknown;
  try { json = stdout.trim() ? JSON.parse(stdout) : undefined; } catch { json = undefined; }
  return { status: status ?? -1, stdout, stderr, json };
}

/** Exec a plugin executable inside the host netns, as a runtime would. */
export function cni(plugin: string, c: PluginCall): PluginOutcome {
  const r = spawnSync('ip', ['netns', 'exec', c.host, join(c.bin ?? BIN, plugin)], {
    input: c.stdin ?? JSON.stringify(c.config), encoding: 'utf8', env: callEnv(c), timeout: 60_000,
  });
  return outcome(r.status, r.stdout, r.stderr);
}

/** The same call without waiting for it: many at once, as a busy runtime makes them (killed after 60 s). */
export function cniStart(plugin: string, c: PluginCall): Promise<PluginOutcome> {
  const p = spawn('ip', ['netns', 'exec', c.host, join(c.bin ?? BIN, plugin)], { env: callEnv(c), timeout: 60_000 });
  let out = '', err = '';
  p.stdout.on('data', (d) => { out += d; });
  p.stderr.on('data', (d) => { err += d; });
  p.stdin.end(c.stdin ?? JSON.stringify(c.config));
  return new Promise((res) => p.on('close', (code) => res(outcome(code, out, err))));
}

export const haveBuild = (): boolean => existsSync(join(BIN, 'cni-ts'));

/** Every element of our nft tables in a test host namespace (set, key, value, comment). */
export function nftElements(host: string): NftElement[] {
  const r = spawnSync('ip', ['netns', 'exec', host, 'nft', '-j', 'list', 'ruleset'], { encoding: 'utf8', maxBuffer: 64 << 20 });
  return r.status === 0 ? elementsOf(r.stdout) : [];
}
