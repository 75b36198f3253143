// The conformance runner: scenario files (a conflist, a sequence of operations and what each
// must produce, in results and in the namespace) run against any plugin directory. Every
// scenario gets its own host namespace (with an uplink and a default route), a container
// namespace and a data directory, and is torn down afterwards, pass or fail.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resultProblem } from './result-schema.ts';
import { netnsStateDirs, stopDaemons } from './host-state.ts';
import { agentEnv, startAgent, type AgentHandle } from './agent.ts';

export interface Step {
  op: 'ADD' | 'CHECK' | 'DEL' | 'VERSION' | 'GC' | 'STATUS' | 'tamper' | 'removeNetns';
  /** "empty": CNI_NETNS=""; "missing": unset */
  netns?: 'empty' | 'missing';
  stdin?: string;
  env?: Record<string, string | null>;
  /** tamper: `ip -n <container> <args>` */
  ip?: string[];
  validAttachments?: { containerID: string; ifname: string }[];
  expect?: {
    exit?: number;
    code?: number;
    validResult?: boolean;
    empty?: boolean;
    supports?: string;
    has?: Record<string, unknown>;
    /** every result address is on the container interface */
    addressesInContainer?: boolean;
  };
}

export interface Scenario {
  name: string;
  group: string;
  /** run only where these link kinds exist (ipvlan runs in the guest) */
  needsKernel?: string[];
  conflist: { cniVersion: string; name: string; plugins: Record<string, unknown>[]; [k: string]: unknown };
  runtime?: Record<string, unknown>;
  args?: string;
  ifname?: string;
  steps: Step[];
}

export interface Outcome {
  scenario: string; group: string; impl: string; pass: boolean; why?: string; skipped?: string;
  /** every call's exit status and stdout, in order */
  transcript?: string[];
  /** calls the agent ran (with `agent`), and whether it stopped cleanly */
  agentServed?: number; agentStopped?: boolean;
}

export interface RunOptions {
  /** run the calls with a node agent in the scenario's host namespace (agent/) */
  agent?: boolean;
}

const sh = (args: string[]) => spawnSync('ip', args, { encoding: 'utf8' });

export function loadScenarios(dir = join(import.meta.dirname, 'scenarios')): Scenario[] {
  return readdirSync(dir).filter((f) => f.endsWith('.json')).sort()
    .flatMap((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as Scenario[]);
}

function substitute<T>(v: T, vars: Record<string, string>): T {
  return JSON.parse(JSON.stringify(v).replace(/\$([A-Z]+)/g, (m, k: string) => vars[k] ?? m)) as T;
}

function get(o: unknown, path: string): unknown {
  return path.split('.').reduce<unknown>((x, k) => (x && typeof x === 'object' ? (x as Record<string, unknown>)[k] : undefined), o);
}

function kernelHas(kind: string): boolean {
  const ns = `cnits-probe-${process.pid}`;
  sh(['netns', 'add', ns]);
  try {
    const parent = sh(['-n', ns, 'link', 'add', 'p0', 'type', 'veth', 'peer', 'name', 'p1']);
    void parent;
    return sh(['-n', ns, 'link', 'add', 'k0', 'link', 'p0', 'type', kind]).status === 0;
  } finally {
    sh(['netns', 'del', ns]);
  }
}

interface Call { status: number; stdout: string; json: any }

export function runScenario(s: Scenario, impl: string, dir: string, id: number, o: RunOptions = {}): Outcome {
  const transcript: string[] = [];
  const base: Pick<Outcome, 'scenario' | 'group' | 'impl' | 'transcript'> = { scenario: s.name, group: s.group, impl, transcript };
  for (const k of s.needsKernel ?? []) if (!kernelHas(k)) return { ...base, pass: false, skipped: `kernel lacks ${k}` };
  const absent = s.conflist.plugins.map((p) => String(p.type)).filter((t) => !existsSync(join(dir, t)));
  if (absent.length) return { ...base, pass: false, skipped: `no ${absent.join(', ')} plugin in ${dir}` };
  const tag = `${process.pid.toString(36)}${id.toString(36)}`;
  const host = `cnits-cf-h${tag}`, out = `cnits-cf-o${tag}`, ctr = `cnits-cf-c${tag}`;
  const data = mkdtempSync(join(tmpdir(), 'cnits-cf-'));
  let ctrExists = true;
  let agent: AgentHandle | undefined;
  const result = (r: Outcome): Outcome => {
    if (!agent) return r;
    r.agentServed = agent.served();
    r.agentStopped = agent.stop();
    agent = undefined;
    return r;
  };
  try {
    for (const n of [host, out, ctr]) sh(['netns', 'add', n]);
    for (const n of [host, ctr]) sh(['-n', n, 'link', 'set', 'lo', 'up']);
    sh(['-n', host, 'link', 'add', 'uplink', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', out]);
    sh(['-n', host, 'addr', 'add', '192.0.2.1/24', 'dev', 'uplink']);
    sh(['-n', host, 'link', 'set', 'uplink', 'up']);
    sh(['-n', out, 'link', 'set', 'eth0', 'up']);
    sh(['-n', host, 'route', 'add', 'default', 'via', '192.0.2.2']);
    if (o.agent) agent = startAgent(host, dir);
    const list = substitute(s.conflist, { DATA: data, MASTER: 'uplink' });
    const ifname = s.ifname ?? 'eth0';
    let cached: unknown;
    const exec = (plugin: Record<string, unknown>, step: Step, command: string, prevResult: unknown, stdin?: string): Call => {
      const conf: Record<string, unknown> = { ...plugin, cniVersion: list.cniVersion, name: list.name };
      const caps = Object.entries((plugin.capabilities ?? {}) as Record<string, boolean>).filter(([, on]) => on).map(([k]) => k);
      const rc = Object.fromEntries(caps.filter((k) => s.runtime && k in s.runtime).map((k) => [k, s.runtime![k]]));
      if (Object.keys(rc).length) conf.runtimeConfig = rc;
      if (prevResult !== undefined) conf.prevResult = prevResult;
      if (step.validAttachments) conf['cni.dev/valid-attachments'] = step.validAttachments;
      const env: Record<string, string> = {
        PATH: process.env.PATH!, CNI_COMMAND: command, CNI_CONTAINERID: 'conformance1', CNI_NETNS: `/run/netns/${ctr}`,
        CNI_IFNAME: ifname, CNI_PATH: dir, ...(s.args !== undefined ? { CNI_ARGS: s.args } : {}),
        ...agentEnv(agent),
      };
      if (step.netns === 'empty') env.CNI_NETNS = '';
      if (step.netns === 'missing') delete env.CNI_NETNS;
      for (const [k, v] of Object.entries(step.env ?? {})) { if (v === null) delete env[k]; else env[k] = v; }
      const r = spawnSync('ip', ['netns', 'exec', host, join(dir, String(plugin.type))], { input: stdin ?? JSON.stringify(conf), encoding: 'utf8', env, timeout: 60_000 });
      let json: unknown;
      try { json = r.stdout.trim() ? JSON.parse(r.stdout) : undefined; } catch { json = undefined; }
      transcript.push(`${env.CNI_COMMAND ?? ''} -> ${r.status} ${r.stdout}`);
      return { status: r.status ?? -1, stdout: r.stdout, json };
    };
    for (const [i, step] of s.steps.entries()) {
      const where = `step ${i + 1} (${step.op})`;
      if (step.op === 'tamper') { sh(['-n', ctr, ...step.ip!]); continue; }
      if (step.op === 'removeNetns') { sh(['netns', 'del', ctr]); ctrExists = false; continue; }
      let call: Call;
      if (step.stdin !== undefined || step.op === 'VERSION') {
        call = exec(list.plugins[0]!, step, step.op, undefined, step.stdin ?? JSON.stringify({ cniVersion: list.cniVersion }));
      } else if (step.op === 'ADD') {
        let prev: unknown;
        call = { status: 0, stdout: '', json: undefined };
        for (const p of list.plugins) {
          call = exec(p, step, 'ADD', prev);
          if (call.status !== 0) break;
          prev = call.json;
        }
        if (call.status === 0) cached = call.json;
      } else {
        const plugins = step.op === 'DEL' ? [...list.plugins].reverse() : list.plugins;
        call = { status: 0, stdout: '', json: undefined };
        for (const p of plugins) {
          const c = exec(p, step, step.op, step.op === 'GC' || step.op === 'STATUS' ? undefined : cached);
          if (c.status !== 0) { call = c; break; }
          call.stdout += c.stdout;
        }
      }
      const e = step.expect ?? { exit: 0 };
      const fail = (why: string): Outcome => result({ ...base, pass: false, why: `${where}: ${why}` });
      if (e.exit !== undefined && (e.exit === 0 ? call.status !== 0 : call.status === 0)) return fail(`exit ${call.status}, wanted ${e.exit === 0 ? 0 : 'non-zero'}: ${call.stdout.replace(/\s+/g, ' ').slice(0, 200)}`);
      if (e.code !== undefined && call.json?.code !== e.code) return fail(`error code ${call.json?.code}, wanted ${e.code}`);
      if (e.empty && call.stdout.trim() !== '') return fail(`printed ${call.stdout.trim().slice(0, 100)}`);
      if (e.validResult) { const p = resultProblem(call.json, list.cniVersion); if (p) return fail(`result not valid for ${list.cniVersion}: ${p}`); }
      if (e.supports && !(call.json?.supportedVersions ?? []).includes(e.supports)) return fail(`supportedVersions lacks ${e.supports}`);
      // null in `has` means absent
      for (const [k, v] of Object.entries(e.has ?? {})) { const got = get(call.json, k) ?? null; if (JSON.stringify(got) !== JSON.stringify(v)) return fail(`${k} is ${JSON.stringify(got)}, wanted ${JSON.stringify(v)}`); }
      if (e.addressesInContainer) {
        const addrs = (JSON.parse(sh(['-n', ctr, '-j', 'addr', 'show', 'dev', ifname]).stdout || '[]')[0]?.addr_info ?? []).map((a: any) => `${a.local}/${a.prefixlen}`);
        for (const ipc of (call.json?.ips ?? []) as { address: string }[]) if (!addrs.includes(ipc.address)) return fail(`${ipc.address} is not on ${ifname} in the container`);
        for (const k of ['ip4', 'ip6']) { const a = call.json?.[k]?.ip; if (a && !addrs.includes(a)) return fail(`${a} is not on ${ifname}`); }
      }
    }
    return result({ ...base, pass: true });
  } finally {
    if (agent) agent.stop();
    // what plugins keep per host namespace (cni-ts's /run/cni-ts, a resolver it runs) goes with it
    try { for (const d of netnsStateDirs(host)) { stopDaemons(d); rmSync(d, { recursive: true, force: true }); } } catch { /* none */ }
    for (const n of [host, out, ...(ctrExists ? [ctr] : [])]) sh(['netns', 'del', n]);
    rmSync(data, { recursive: true, force: true });
  }
}

export function table(outcomes: Outcome[], impls: string[]): string {
  const names = [...new Set(outcomes.map((o) => o.scenario))];
  const cell = (o: Outcome | undefined) => (!o ? '' : o.skipped ? 'skip' : o.pass ? 'pass' : 'FAIL');
  const lines = [`| scenario | ${impls.join(' | ')} |`, `|---|${impls.map(() => '---').join('|')}|`];
  for (const n of names) lines.push(`| ${n} | ${impls.map((i) => cell(outcomes.find((o) => o.scenario === n && o.impl === i))).join(' | ')} |`);
  const notes = outcomes.filter((o) => !o.pass).map((o) => `- ${o.impl} / ${o.scenario}: ${o.skipped ?? o.why}`);
  return [...lines, '', ...notes].join('\n');
}
