// npm run bench: every benchmark, ours vs the reference plugins, in one run. The whole run
// happens inside a host namespace of its own, so nothing reaches this machine's namespace.
// A full run (no filter) writes its figures into docs/benchmarks.md and docs/bench.svg.
//   npm run bench [-- name-filter]   (alternatives split by |: "500 containers|podman")
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { arrSome } from '../../shared/util/arrays.ts';
import { join } from 'node:path';
import { ROOT, REFERENCE_BIN } from '../helpers/netns.ts';
import { chart } from './chart.ts';
import { figures, writePage } from './page.ts';
import { inOwnHost, overheads, runBench, startBenchAgent, stopBenchAgent, table, type Bench, type Row } from './lib.ts';
import { podmanReady, podmanRun } from './podman.ts';
import { containerdReady, criPod } from './cri.ts';
import { bridgeBenches } from './bridge.ts';
import { concurrentBridgeAdd } from './concurrent.ts';
import { hostLocalAdd } from './host-local.ts';
import { loopbackAdd, noAgentLook } from './loopback.ts';
import { macvlanBenches } from './macvlan.ts';
import { dnsBench, dnsBenchReady, dnsHostsAdd, dnsTable } from './dns.ts';
import { namesAcrossHosts, overlayBenches, overlayConvergence, overlayReady } from './overlay.ts';
import { agentMemory, chainAddAtScale, chainAddBaseline, concurrentChainAdd, goCniPod, versionBench } from './runtime.ts';

const VM = join(ROOT, '../shared/vm/run-in-vm.sh');

const BENCHES: (() => Bench)[] = [
  versionBench, loopbackAdd, noAgentLook, hostLocalAdd(0), hostLocalAdd(10_000), ...bridgeBenches, concurrentBridgeAdd, () => concurrentChainAdd(50),
  chainAddBaseline, () => chainAddAtScale(500), goCniPod, ...macvlanBenches, dnsHostsAdd,
];

const inside = process.argv.indexOf('--inside');
if (inside < 0) {
  if (!existsSync(join(REFERENCE_BIN, 'loopback'))) {
    console.error(`bench: the reference plugins are missing from ${REFERENCE_BIN} (apt-get install containernetworking-plugins)`);
    process.exit(1);
  }
  process.exitCode = inOwnHost('cnits-bench');
} else {
  const filter = process.argv.slice(inside + 2).join(' ');
  // one of the filter's alternatives is in the name (rows that run after others in one namespace can be run together)
  const picked = (name: string): boolean => !filter || arrSome(filter.split('|'), (f) => name.includes(f));
  const rows: Row[] = [];
  const host = process.argv[inside + 1]!;
  const benches = [...BENCHES, ...(overlayReady() ? overlayBenches : []), ...(podmanReady() ? [() => podmanRun(host), () => podmanRun(host, true)] : []), ...(containerdReady() ? [() => criPod(host)] : [])];
  // the agent column: one node agent in this host namespace for the run (ours exec'd beside it)
  const agent = startBenchAgent(host);
  process.on('exit', () => stopBenchAgent());
  if (!overlayReady()) process.stderr.write('bench: vxlan-overlay rows skipped (etcd-server not installed)\n');
  if (!podmanReady()) process.stderr.write('bench: podman rows skipped (../shared/podman/setup.sh and netavark not set up)\n');
  if (!containerdReady()) process.stderr.write('bench: the containerd CRI row skipped (containerd, ctr or runc missing)\n');
  for (const make of benches) {
    const b = make();
    if (!picked(b.name)) continue;
    process.stderr.write(`bench: ${b.name}...\n`);
    rows.push(...runBench(b));
  }
  // the agent's memory with 1,000 attachments made through it
  const agentLines: string[] = [];
  const memName = 'agent memory, 1000 attachments';
  if (picked(memName)) {
    process.stderr.write(`bench: ${memName}...\n`);
    const m = agentMemory(agent, 1000);
    const f = (x: typeof m.burst) => `${x.processes} processes (the supervisor and its workers): resident set ${x.residentMiB.toFixed(1)} MiB (${(x.residentMiB * 1.048576).toFixed(1)} MB; each page once), proportional sets summed ${x.pssMiB.toFixed(1)} MiB, resident sets summed ${x.rssMiB.toFixed(1)} MiB (each process counts the executable's shared code again)`;
    agentLines.push(`${memName} (bridge+host-local through the agent, 8 at a time, ${(m.ms / 1000).toFixed(1)} s for the ADDs; target <= 100 MB): right after the burst, ${f(m.burst)}; once the burst's workers left, ${f(m.steady)}`);
  }
  const served = agent.served();
  stopBenchAgent();
  agentLines.push(`the agent ran ${served} calls in this run`);
  const out = table(rows);
  console.log(out);
  const extra = overheads(rows);
  if (extra) console.log(`\n${extra}`);
  const overlayLines: string[] = [];
  // the resolver's throughput and latency beside dnsmasq and aardvark-dns (not a per-exec row)
  let dns: ReturnType<typeof dnsBench> | undefined;
  const dnsName = 'dns resolver: dnsperf vs dnsmasq and aardvark-dns';
  if (picked(dnsName) && dnsBenchReady()) {
    process.stderr.write(`bench: ${dnsName}...\n`);
    dns = dnsBench(host);
    console.log(`\n${dnsTable(dns)}`);
  }
  mkdirSync(join(ROOT, 'test/bench/results'), { recursive: true });
  // the overlay: what an ADD/DEL costs over bridge's, and how fast 20 watching hosts converge
  const convergence: Awaited<ReturnType<typeof overlayConvergence>>[] = [];
  const ovName = 'vxlan-overlay convergence, 20 hosts with a sync process each';
  if ((picked(ovName) || (!!filter && 'vxlan-overlay'.includes(filter))) && overlayReady()) {
    for (const mode of ['l2', 'routed'] as const) for (const op of ['ADD', 'DEL']) {
      const at = (impl: string) => rows.find((r) => r.bench.startsWith(`vxlan-overlay ${mode} ${op}`) && r.impl === impl);
      const o = at('vxlan-overlay'), b = at('bridge');
      if (o && b) overlayLines.push(`vxlan-overlay ${mode} ${op} p50 ${o.p50.toFixed(1)} ms, bridge+host-local ${op} p50 ${b.p50.toFixed(1)} ms: +${(o.p50 - b.p50).toFixed(1)} ms (target <= +5 ms)`);
    }
    for (const mode of ['l2', 'routed'] as const) {
      process.stderr.write(`bench: ${ovName} (${mode})...\n`);
      const c = await overlayConvergence(mode);
      convergence.push(c);
      overlayLines.push(`${ovName}, mode ${mode}: a new host's container known to every other host after p50 ${c.p50.toFixed(0)} ms, p99 ${c.p99.toFixed(0)} ms, max ${c.max.toFixed(0)} ms (${c.rounds} joins x ${c.hosts} hosts; target p99 < 500 ms); etcd writes per ADD: ${c.writesPerAdd.toFixed(1)}`);
    }
  }
  // names across hosts: ADD on one host to the name answered on every other; a remote name's qps against a local one's
  let names: Awaited<ReturnType<typeof namesAcrossHosts>> | undefined;
  const nmName = 'dns-hosts names across hosts, 20 hosts';
  if (picked(nmName) && overlayReady() && dnsBenchReady()) {
    process.stderr.write(`bench: ${nmName}...\n`);
    names = await namesAcrossHosts();
    const f = (x: { qps: number; p99: number }) => `${Math.round(x.qps)} q/s, p99 ${x.p99.toFixed(3)} ms`;
    overlayLines.push(`${nmName}: a new container's name answered by every other host's resolver after p50 ${names.p50.toFixed(0)} ms, p99 ${names.p99.toFixed(0)} ms, max ${names.max.toFixed(0)} ms (${names.rounds} ADDs x ${names.hosts - 1} hosts)`);
    overlayLines.push(`${nmName}: from one container, a local name ${f(names.local)}; a remote name ${f(names.remote)} (${(names.remote.qps / names.local.qps).toFixed(2)}x the qps)`);
  }
  // encryption's cost: one TCP stream, clear vs encrypted, in the guest (this kernel has no ESP or GCM)
  let throughput: Record<string, number[]> | undefined;
  const tpName = 'vxlan-overlay throughput, one TCP stream, clear vs encrypted (guest)';
  if (picked(tpName) && overlayReady() && existsSync(VM)) {
    process.stderr.write(`bench: ${tpName}...\n`);
    const r = spawnSync(VM, ['-m', '768M', '-t', '600', '--', 'node', 'test/vm/overlay-throughput.mjs', '4', '3'], { cwd: ROOT, encoding: 'utf8' });
    try {
      throughput = JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '');
      const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
      const [u, c, e] = [med(throughput!.underlay!), med(throughput!.clear!), med(throughput!.encrypted!)];
      overlayLines.push(`${tpName}: encrypted ${e.toFixed(0)} Mbit/s, clear ${c.toFixed(0)} Mbit/s (${(e / c).toFixed(2)}x), the underlay host to host ${u.toFixed(0)} Mbit/s; medians of 3 interleaved 4 s rounds in the User-Mode Linux guest, whose AES-GCM is the kernel's generic C code`);
    } catch {
      overlayLines.push(`${tpName}: the guest run failed (${r.status}): ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' / ')}`);
    }
  }
  for (const l of [...agentLines, ...overlayLines]) console.log(l);
  const date = new Date().toISOString();
  const svg = chart(rows, `cni-ts vs the reference plugins, ${date.slice(0, 10)}`);
  writeFileSync(join(ROOT, 'test/bench/results/latest.json'), `${JSON.stringify({ date, rows, dns, convergence, names, throughput }, null, 2)}\n`);
  writeFileSync(join(ROOT, 'test/bench/results/latest.svg'), svg);
  if (filter) console.log('results: test/bench/results/latest.{json,svg} (a run with a filter leaves docs/benchmarks.md as it is)');
  else {
    writePage(ROOT, figures(date, [
      '### Per call, ours against the reference plugins (ms)', table(rows), extra.split('\n').map((l) => (l ? `- ${l}` : '')).join('\n'),
      ...(dns ? ["### dns-hosts' resolver beside dnsmasq and aardvark-dns", dnsTable(dns)] : []),
      ...(agentLines.length ? ['### The node agent', agentLines.map((l) => `- ${l}`).join('\n')] : []),
      ...(overlayLines.length ? ['### vxlan-overlay', overlayLines.map((l) => `- ${l}`).join('\n')] : []),
    ]), svg);
    console.log('results: docs/benchmarks.md and docs/bench.svg (and test/bench/results/latest.{json,svg})');
  }
}
