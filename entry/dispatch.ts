// What a start of the multicall executable is for, decided from the name it was invoked as and
// its flags, before any plugin's code loads: a plugin call, the operator CLI, or one of the
// long-running modes. What needs no code of its own is answered here: an unknown name, a
// resolver flag without an absolute directory, and VERSION (where the launcher did not answer
// it already). Both entries use it: main.ts (the Node bundles) and exec-main.ts (the executable).
import { basename } from '../shared/util/path.ts';
import { versionReply } from '../shared/cni/version.ts';
import { writeFd } from '../shared/os/fs.ts';
import { exitCall } from '../shared/os/native.ts';
import { RESOLVER_FLAG, SERVER_FLAG, UDP_THREAD_FLAG } from '../plugins/dns-hosts/modes.ts';
import { isPluginName, PLUGIN_NAMES } from '../plugins/registry.ts';

declare const __CNI_TS_PLUGIN__: string | undefined;

export type Mode =
  | { kind: 'plugin'; name: string }
  | { kind: 'cli' }
  | { kind: 'agent'; args: string[] }
  | { kind: 'udp-thread' }
  | { kind: 'resolver'; dir: string; role: 'supervisor' | 'server' }
  | { kind: 'watch' };

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
  if (isPluginName(first)) return first;
  const candidates = [first, programName(process.argv[1] ?? ''), programName(process.argv[2] ?? '')];
  for (const n of candidates) if (isPluginName(n)) return n;
  return candidates.includes('cni-ts') ? 'cni-ts' : first;
}

export function dispatch(): Mode {
  const name = invokedAs();
  if (!isPluginName(name)) {
    // under its own name (not through a plugin's link): the operator CLI
    if (name === 'cni-ts') {
      // the node agent is a mode of its own (every plugin's code, loaded once); the CLI's other commands are the CLI's
      // (`cni-ts agent`, or started busybox-style as `cni-ts.bun cni-ts agent`)
      const i = process.argv.indexOf('agent');
      return i >= 2 && i <= 3 ? { kind: 'agent', args: process.argv.slice(i + 1) } : { kind: 'cli' };
    }
    process.stderr.write(`cni-ts: unknown plugin "${name}"; invoke this executable through a link named one of: ${PLUGIN_NAMES.join(', ')}\n`);
    process.exit(2);
  }
  // the long-running modes take a flag; a plugin call has none (and skips looking for them)
  const flags = process.argv.slice(2);
  const flag = (prefix: string): string | undefined => {
    for (const a of flags) if (a.startsWith(prefix)) return a.slice(prefix.length);
    return undefined;
  };
  const dns = name === 'dns-hosts' || name === 'dnsname';
  // dns-hosts' long-running resolver: the same executable in another mode (and its UDP thread)
  if (dns && flags.includes(UDP_THREAD_FLAG)) return { kind: 'udp-thread' };
  const supervisor = flag(RESOLVER_FLAG), server = flag(SERVER_FLAG);
  const resolver = supervisor ?? server;
  if (dns && resolver) {
    if (!resolver.startsWith('/')) { process.stderr.write('dns-hosts: --resolver= needs an absolute state directory\n'); process.exit(2); }
    return { kind: 'resolver', dir: resolver, role: supervisor ? 'supervisor' : 'server' };
  }
  // vxlan-overlay's sync process (one per host for every overlay network)
  if (name === 'vxlan-overlay' && flags.includes('--sync')) return { kind: 'watch' };
  // VERSION (podman asks every plugin before every ADD and DEL): the launcher answers it where
  // there is one (x86-64); here, before the skeleton and the plugin are even evaluated; the same
  // answer the skeleton gives (which answers it when the addon does not load, below)
  if (process.env.CNI_COMMAND === 'VERSION') {
    let written = false;
    try { writeFd(1, versionReply()); written = true; } catch { /* no addon: the skeleton says why */ }
    if (written) exitCall(0);
  }
  return { kind: 'plugin', name };
}
