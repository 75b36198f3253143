// Multicall entry: the plugin is chosen by the name this executable was invoked as.
import { basename } from '../shared/path.ts';
import { versionReply } from '../shared/cni/version.ts';
import { mark } from '../shared/trace.ts';
import { writeFd } from '../shared/fs.ts';
import { exitCall } from '../shared/native.ts';
import { PLUGINS } from './plugins.ts';
import { RESOLVER_FLAG, UDP_THREAD_FLAG } from '../plugins/dns-hosts/modes.ts';
import { arrFind } from '../shared/arrays.ts';

declare const __CNI_TS_PLUGIN__: string | undefined;

const SCRIPT_SUFFIXES = ['.cjs', '.mjs', '.js', '.ts'];
function programName(p: string): string {
  const b = basename(p);
  for (const s of SCRIPT_SUFFIXES) if (b.endsWith(s)) return b.slice(0, -s.length);
  return b;
}

function invokedAs(): string {
  // a per-plugin bundle has its name built in; the multicall binary looks at argv0
  if (typeof __CNI_TS_PLUGIN__ !== 'undefined' && __CNI_TS_PLUGIN__) return __CNI_TS_PLUGIN__;
  // (or, busybox-style, its first argument: `cni-ts loopback`)
  // (argv0 first, alone: the common case, a plugin's link, decided without building a list)
  const first = programName(process.argv0);
  if (first in PLUGINS) return first;
  const candidates = [first, programName(process.argv[1] ?? ''), programName(process.argv[2] ?? '')];
  return arrFind(candidates, (n) => n in PLUGINS) ?? (candidates.slice(0, 2).includes('cni-ts') ? 'cni-ts' : first);
}

async function main(): Promise<void> {
  mark('main');
  const name = invokedAs();
  const load = PLUGINS[name];
  // under its own name (not through a plugin's link): the operator CLI
  if (!load && name === 'cni-ts') process.exit((await import('../cli/main.ts')).runCli(process.argv.slice(2)));
  if (!load) {
    process.stderr.write(`cni-ts: unknown plugin "${name}"; invoke this executable through a link named one of: ${Object.keys(PLUGINS).join(', ')}\n`);
    process.exit(2);
  }
  // the long-running modes take a flag; a plugin call has none (and skips looking for them)
  const flags = process.argv.slice(2);
  const flag = (prefix: string): string | undefined => {
    for (const a of flags) if (a.startsWith(prefix)) return a.slice(prefix.length);
    return undefined;
  };
  // dns-hosts' long-running resolver: the same executable in another mode (and its UDP thread)
  if (flags.includes(UDP_THREAD_FLAG) && (name === 'dns-hosts' || name === 'dnsname')) {
    const { workerData, isMainThread } = process.getBuiltinModule('node:worker_threads') as typeof import('node:worker_threads');
    if (!isMainThread) (await import('../plugins/dns-hosts/resolver/udp-worker.ts')).runUdpWorker(workerData);
    process.exit(2);
  }
  const resolver = flag(RESOLVER_FLAG);
  if (resolver && (name === 'dns-hosts' || name === 'dnsname')) {
    if (!resolver.startsWith('/')) { process.stderr.write('dns-hosts: --resolver= needs an absolute state directory\n'); process.exit(2); }
    return (await import('../plugins/dns-hosts/resolver/main.ts')).runResolver(resolver);
  }
  // vxlan-overlay's watcher
  const watch = flag('--watch=');
  if (watch && name === 'vxlan-overlay') return (await import('../plugins/vxlan-overlay/watch.ts')).runWatcher(watch);
  // VERSION (podman asks every plugin before every ADD and DEL): the launcher answers it where
  // there is one (x86-64); here, before the skeleton and the plugin are even evaluated; the same
  // answer the skeleton gives
  if (process.env.CNI_COMMAND === 'VERSION') {
    let written = false;
    try { writeFd(1, versionReply()); written = true; } catch { /* no addon: the skeleton says why */ }
    if (written) exitCall(0);
  }
  const { runPlugin } = await import('../shared/cni/skel.ts');
  const pl = await load();
  mark('plugin loaded');
  exitCall(await runPlugin(pl));
}

void main();
