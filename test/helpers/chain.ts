// A conflist runner that behaves like libcni: per plugin a config with the list's name and
// cniVersion, runtimeConfig holding only the capabilities the plugin declares, prevResult
// passed along on ADD; DEL in reverse order and CHECK with the cached ADD result.
import { cni, type PluginOutcome } from './netns.ts';

export interface Conflist { cniVersion: string; name: string; plugins: Record<string, any>[]; [k: string]: unknown }

export interface ChainCall {
  host: string;
  containerId: string;
  netns: string;
  ifname?: string;
  args?: string;
  runtimeConfig?: Record<string, unknown>;
  bin?: string;
}

export function pluginConf(list: Conflist, p: Record<string, any>, runtime: Record<string, unknown> = {}, prevResult?: unknown): Record<string, unknown> {
  const conf: Record<string, unknown> = { ...p, cniVersion: list.cniVersion, name: list.name };
  const caps = Object.entries(p.capabilities ?? {}).filter(([, on]) => on).map(([k]) => k);
  const rc = Object.fromEntries(caps.filter((k) => k in runtime).map((k) => [k, runtime[k]]));
  if (Object.keys(rc).length) conf.runtimeConfig = rc;
  if (prevResult !== undefined) conf.prevResult = prevResult;
  return conf;
}

export class Chain {
  cached: unknown;
  constructor(readonly list: Conflist, readonly call: ChainCall) {}

  private exec(command: string, p: Record<string, any>, prev: unknown): PluginOutcome {
    return cni(p.type, {
      host: this.call.host, command, config: pluginConf(this.list, p, this.call.runtimeConfig, prev),
      containerId: this.call.containerId, netns: this.call.netns, ifname: this.call.ifname ?? 'eth0',
      ...(this.call.args !== undefined ? { args: this.call.args } : {}), ...(this.call.bin ? { bin: this.call.bin } : {}),
    });
  }

  /** ADD through every plugin; on failure, DEL what was added (as libcni does) and report. */
  add(): PluginOutcome {
    let prev: unknown;
    let last: PluginOutcome | undefined;
    for (const p of this.list.plugins) {
      last = this.exec('ADD', p, prev);
      if (last.status !== 0) { this.cached = prev; this.del(); return last; }
      prev = last.json;
    }
    this.cached = prev;
    return last!;
  }

  check(): PluginOutcome[] {
    return this.list.plugins.map((p) => this.exec('CHECK', p, this.cached));
  }

  del(netns?: string): PluginOutcome[] {
    const saved = this.call.netns;
    if (netns !== undefined) this.call.netns = netns;
    try {
      return [...this.list.plugins].reverse().map((p) => this.exec('DEL', p, this.cached));
    } finally {
      this.call.netns = saved;
    }
  }
}
