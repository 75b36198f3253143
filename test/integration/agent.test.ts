// The node agent's behaviour where it differs from an exec, or could: who may talk to it, which
// launchers it serves, what it does past a call's deadline, per-container order, environment
// hygiene between calls, a clean stop, and the exec fallback whenever it cannot serve.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { copyFileSync, linkSync, lstatSync, mkdirSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startAgent } from '../../conformance/agent.ts';
import { gone, pause } from '../../conformance/processes.ts';
import { BIN, ROOT, cni, cniStart, haveBuild, ipJson, makeNetns, tempDir, type PluginCall } from '../helpers/netns.ts';
import { AGENT_DIR } from '../../agent/defaults.ts';

const loopback = { cniVersion: '1.0.0', name: 'agent-lo', type: 'loopback' };
const ipam = (dir: string, net = 'agent-n', version = '1.0.0') => ({ cniVersion: version, name: net, type: 'host-local', ipam: { type: 'host-local', dataDir: dir, ranges: [[{ subnet: '10.77.0.0/24' }]] } });
const skip = !haveBuild() && 'no build';

/** A copy of the executables whose launcher names another build (same length, other digits). */
function otherBuild(t: Parameters<typeof tempDir>[0], build: string): string {
  const dir = tempDir(t, 'cnits-otherbuild-');
  for (const f of readdirSync(BIN)) {
    const from = join(BIN, f);
    if (lstatSync(from).isSymbolicLink()) symlinkSync('cni-ts', join(dir, f));
    else copyFileSync(from, join(dir, f));
  }
  const other = build.replace(/./g, (c) => (c === '0' ? '1' : '0'));
  const launcher = readFileSync(join(dir, 'cni-ts'));
  const at = launcher.indexOf(Buffer.from(`${build}\0`));
  if (at < 0) throw new Error('the launcher does not hold its build id');
  launcher.write(other, at, 'latin1');
  writeFileSync(join(dir, 'cni-ts'), launcher, { mode: 0o755 });
  return dir;
}

t.test('the agent serves its build in its namespace; anything else is exec\'d', { skip }, async (t) => {
  const host = makeNetns(t, 'cnits-agh'), ctr = makeNetns(t, 'cnits-agc'), other = makeNetns(t, 'cnits-ago');
  const agent = startAgent(host.name, BIN);
  t.teardown(() => { agent.stop(); });
  const call = (o: Partial<PluginCall> = {}) => cni('loopback', { host: host.name, command: 'ADD', config: loopback, containerId: 'a1', netns: ctr.path, ifname: 'lo', env: agent.env, ...o });

  // the directory and socket: root's only
  const st = statSync(agent.dir);
  t.equal(st.mode & 0o777, 0o700, 'the agent directory is 0700');
  t.equal(st.uid, 0, "and root's");
  const sock = readdirSync(agent.dir).find((f) => f.endsWith('.sock'))!;
  t.equal(statSync(join(agent.dir, sock)).mode & 0o777, 0o600, 'the socket is 0600');
  const build = sock.slice(0, -5);

  const served = agent.served();
  const viaAgent = call();
  t.equal(viaAgent.status, 0, `served: ${viaAgent.stdout}`);
  t.equal(agent.served(), served + 1, 'by the agent');
  const execd = call({ env: { ...agent.env, CNI_TS_AGENT: 'off' } });
  t.equal(execd.status, 0);
  t.equal(execd.stdout, viaAgent.stdout, 'CNI_TS_AGENT=off: exec\'d, the same bytes');
  t.equal(agent.served(), served + 1, 'not by the agent');

  // a caller in another network namespace: the agent sends it back, the launcher execs
  const elsewhere = cni('loopback', { host: other.name, command: 'ADD', config: loopback, containerId: 'a2', netns: ctr.path, ifname: 'lo', env: agent.env });
  t.equal(elsewhere.status, 0, 'a caller in another namespace is served by exec');
  t.equal(agent.served(), served + 1, 'not by the agent');

  // a launcher of another build: no socket of its build (exec), and at this build's socket
  // (hard-linked under the other build's name) the agent sends it back (exec)
  const otherBin = otherBuild(t, build);
  const foreign = call({ bin: otherBin, path: otherBin });
  t.equal(foreign.status, 0, `another build's launcher: exec'd: ${foreign.stdout}`);
  t.equal(foreign.stdout, viaAgent.stdout, 'the same bytes');
  const otherSock = join(agent.dir, `${build.replace(/./g, (c) => (c === '0' ? '1' : '0'))}.sock`);
  linkSync(join(agent.dir, sock), otherSock);
  const refused = call({ bin: otherBin, path: otherBin });
  t.equal(refused.status, 0, 'another build at this agent\'s socket: exec\'d');
  t.equal(agent.served(), served + 1, 'the agent ran neither');

  // no agent at all: exec
  const none = call({ env: { CNI_TS_AGENT_DIR: join(agent.dir, 'nowhere') } });
  t.equal(none.status, 0, 'no agent: exec\'d');

  // only root may connect: the directory and the socket keep anyone else out
  const py = `import socket,sys\ns=socket.socket(socket.AF_UNIX)\ntry:\n  s.connect(sys.argv[1]); print("connected")\nexcept OSError as e: print(e.errno)`;
  const nobody = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '/usr/bin/python3', '-c', py, join(agent.dir, sock)], { encoding: 'utf8' });
  t.equal(nobody.stdout.trim(), '13', `uid 65534 cannot connect (EACCES): ${nobody.stdout}${nobody.stderr}`);
});

t.test('a call past its deadline ends its worker and answers code 11 in its version; the container is free after', { skip }, async (t) => {
  const host = makeNetns(t, 'cnits-agh'), ctr = makeNetns(t, 'cnits-agc');
  const data = tempDir(t);
  const agent = startAgent(host.name, BIN, { deadlineS: 2 });
  t.teardown(() => { agent.stop(); });
  const workers = agent.workers();
  // host-local's store lock held by someone else: the call waits (its own bound is far away)
  mkdirSync(join(data, 'agent-n'), { recursive: true });
  const holder = spawnSync('bash', ['-c', `flock ${join(data, 'agent-n', 'lock')} sleep 4 >/dev/null 2>&1 & echo $!`], { encoding: 'utf8' });
  t.teardown(() => { try { process.kill(Number(holder.stdout.trim()), 'SIGKILL'); } catch { /* gone */ } });
  spawnSync('sleep', ['0.3']);
  const c: PluginCall = { host: host.name, command: 'ADD', config: ipam(data, 'agent-n', '0.4.0'), containerId: 'late1', netns: ctr.path, ifname: 'eth0', env: { ...agent.env, CNI_TS_LOCK_TIMEOUT_MS: '60000' } };
  const t0 = Date.now();
  const late = cni('host-local', c);
  t.equal(late.status, 1, 'failed');
  t.same({ v: late.json?.cniVersion, code: late.json?.code }, { v: '0.4.0', code: 11 }, `code 11 in the config's version: ${late.stdout}`);
  t.ok(Date.now() - t0 < 10_000, 'at its deadline, not the lock\'s bound');
  // the worker that held it is gone and replaced
  const end = Date.now() + 5000;
  while (agent.workers().filter((p) => !workers.includes(p)).length < 1 && Date.now() < end) spawnSync('sleep', ['0.05']);
  t.ok(agent.workers().some((p) => !workers.includes(p)), 'a new worker replaced the one that ran over');
  t.ok(agent.status()!.workerExits >= 1, 'its exit counted');
  // once the holder is gone, the same container is served again (nothing holds it)
  spawnSync('bash', ['-c', `while kill -0 ${holder.stdout.trim()} 2>/dev/null; do sleep 0.1; done`]);
  const again = cni('host-local', c);
  t.equal(again.status, 0, `the same container's next call is served: ${again.stdout}`);
});

t.test('calls of one container run one at a time; other containers go on meanwhile', { skip }, async (t) => {
  const host = makeNetns(t, 'cnits-agh'), ctr = makeNetns(t, 'cnits-agc');
  const data = tempDir(t);
  const agent = startAgent(host.name, BIN, { workers: 2, burstIdleS: 1 });
  t.teardown(() => { agent.stop(); });
  mkdirSync(join(data, 'held'), { recursive: true });
  const holder = spawnSync('bash', ['-c', `flock ${join(data, 'held', 'lock')} sleep 2 >/dev/null 2>&1 & echo $!`], { encoding: 'utf8' });
  t.teardown(() => { try { process.kill(Number(holder.stdout.trim()), 'SIGKILL'); } catch { /* gone */ } });
  spawnSync('sleep', ['0.3']);
  const at = (p: Promise<unknown>) => p.then(() => Date.now());
  const base = { host: host.name, command: 'ADD', netns: ctr.path, ifname: 'eth0', env: agent.env };
  // x's first call waits on the held store; x's second (another network) must wait for it; y's need not
  const f0 = Date.now();
  const first = at(cniStart('host-local', { ...base, config: ipam(data, 'held'), containerId: 'x' }));
  await new Promise((r) => setTimeout(r, 300));   // (the event loop must run: it writes the first call's stdin)
  const second = at(cniStart('host-local', { ...base, config: ipam(data, 'free'), containerId: 'x', ifname: 'eth1' }));
  const other = at(cniStart('host-local', { ...base, config: ipam(data, 'free'), containerId: 'y' }));
  // both workers wait (x's two calls): a third is added for y's
  const o = await other;
  const grown = agent.status()!.workers.running;
  const [f, s] = await Promise.all([first, second]);
  t.ok(grown > 2, `every worker busy: the pool grew (${grown} workers)`);
  // the burst's workers leave once idle (accept gives up every 5 s; burstIdleS: 1)
  for (const end = Date.now() + 15_000; agent.status()!.workers.running > 2 && Date.now() < end;) await new Promise((r) => setTimeout(r, 200));
  t.equal(agent.status()!.workers.running, 2, 'and shrank back once idle');
  t.comment(`first ${f - f0}, second ${s - f0}, other ${o - f0} ms`);
  t.ok(o < f, 'another container\'s call finished while the first waited');
  t.ok(s >= f, 'the same container\'s second call finished only after its first');
});

t.test('nothing of one call\'s environment is left for the next', { skip }, async (t) => {
  const host = makeNetns(t, 'cnits-agh');
  const agent = startAgent(host.name, BIN, { workers: 1 });
  t.teardown(() => { agent.stop(); });
  const bad = { host: host.name, command: 'ADD', config: { cniVersion: '1.0.0', name: 'n', type: 'loopback' }, containerId: 'e1', netns: '/run/netns/cnits-none-here', ifname: 'lo' };
  const debug = cni('loopback', { ...bad, env: { ...agent.env, CNI_TS_DEBUG: '1' } });
  t.equal(debug.status, 1);
  t.match(debug.stderr, /\n\s+at /, 'CNI_TS_DEBUG=1: the stack on stderr');
  const plain = cni('loopback', { ...bad, env: agent.env });
  t.equal(plain.status, 1);
  t.equal(plain.stderr, '', 'the next call, without it, prints none: the variable went with its call');
  t.equal(plain.stdout, debug.stdout, 'and the same error');
  t.equal(agent.served(), 2, 'both by the one worker');
});

t.test('SIGTERM: the call in flight finishes, new calls are exec\'d, the agent leaves', { skip }, async (t) => {
  const host = makeNetns(t, 'cnits-agh'), ctr = makeNetns(t, 'cnits-agc');
  const data = tempDir(t);
  const agent = startAgent(host.name, BIN);
  t.teardown(() => { agent.stop(); });
  mkdirSync(join(data, 'agent-n'), { recursive: true });
  const holder = spawnSync('bash', ['-c', `flock ${join(data, 'agent-n', 'lock')} sleep 1.5 >/dev/null 2>&1 & echo $!`], { encoding: 'utf8' });
  t.teardown(() => { try { process.kill(Number(holder.stdout.trim()), 'SIGKILL'); } catch { /* gone */ } });
  spawnSync('sleep', ['0.3']);
  const inFlight = cniStart('host-local', { host: host.name, command: 'ADD', config: ipam(data), containerId: 's1', netns: ctr.path, ifname: 'eth0', env: agent.env });
  await new Promise((r) => setTimeout(r, 300));
  process.kill(agent.pid, 'SIGTERM');
  spawnSync('sleep', ['0.2']);
  const during = cni('loopback', { host: host.name, command: 'ADD', config: loopback, containerId: 's2', netns: ctr.path, ifname: 'lo', env: agent.env });
  t.equal(during.status, 0, 'a call while it stops is exec\'d');
  const r = await inFlight;
  t.equal(r.status, 0, `the call in flight finished: ${r.stdout}`);
  t.equal(r.json?.ips?.[0]?.address, '10.77.0.2/24', 'with its address');
  const end = Date.now() + 5000;
  while (agent.workers().length && Date.now() < end) spawnSync('sleep', ['0.05']);
  t.equal(agent.workers().length, 0, 'every worker left');
  t.ok(agent.stop(), 'and the agent');
});

t.test('cni-ts agent status', { skip }, async (t) => {
  const host = makeNetns(t, 'cnits-agh');
  const agent = startAgent(host.name, BIN);
  t.teardown(() => { agent.stop(); });
  const s = spawnSync(join(BIN, 'cni-ts'), ['agent', 'status', `--dir=${agent.dir}`], { encoding: 'utf8' });
  t.equal(s.status, 0, s.stderr);
  t.match(s.stdout, /serves this build's launchers/);
  t.match(s.stdout, /workers: 2 running/);
  const j = JSON.parse(spawnSync(join(BIN, 'cni-ts'), ['agent', 'status', '--json', `--dir=${agent.dir}`], { encoding: 'utf8' }).stdout);
  t.same({ running: j.running, thisBuild: j.thisBuild, pid: j.agent.pid }, { running: true, thisBuild: true, pid: agent.pid });
  agent.stop();
  const gone = spawnSync(join(BIN, 'cni-ts'), ['agent', 'status', `--dir=${agent.dir}`], { encoding: 'utf8' });
  t.equal(gone.status, 3, 'no agent: status 3');
  t.match(gone.stdout, /no agent serves/);
});

t.test('what a call starts runs under the agent: dns-hosts\' resolver; and the overlay\'s sync process', { skip }, async (t) => {
  const host = makeNetns(t, 'cnits-agh'), ctr = makeNetns(t, 'cnits-agc');
  const agent = startAgent(host.name, BIN, { sync: true });
  t.teardown(() => { agent.stop(); });
  const ppid = (pid: number): number => Number(/^PPid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
  const cmdline = (pid: number): string => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  // the sync process: the agent's child; killed, started again
  let sync = agent.status()?.children.sync;
  for (let end = Date.now() + 5000; !sync && Date.now() < end; sync = agent.status()?.children.sync) spawnSync('sleep', ['0.05']);
  t.ok(sync, 'a sync process runs');
  t.equal(ppid(sync!), agent.pid, 'as the agent\'s child');
  t.match(cmdline(sync!), /vxlan-overlay --sync/);
  process.kill(sync!, 'SIGKILL');
  let again = agent.status()?.children.sync;
  for (let end = Date.now() + 5000; (!again || again === sync) && Date.now() < end; again = agent.status()?.children.sync) spawnSync('sleep', ['0.05']);
  t.ok(again && again !== sync, 'killed, it is started again');
  // dns-hosts' resolver, started by an ADD in a worker: the agent's child, in its cgroup
  const conf = { cniVersion: '1.0.0', name: 'agentdns', type: 'dns-hosts', prevResult: { cniVersion: '1.0.0', interfaces: [{ name: 'eth0', sandbox: ctr.path }], ips: [{ address: '10.79.0.5/24', interface: 0 }] } };
  const add = cni('dns-hosts', { host: host.name, command: 'ADD', config: conf, containerId: 'dns1', netns: ctr.path, ifname: 'eth0', args: 'K8S_POD_NAME=web', env: agent.env });
  t.equal(add.status, 0, `dns-hosts ADD through the agent: ${add.stdout}`);
  const resolvers = agent.status()?.children.resolvers ?? [];
  t.equal(resolvers.length, 1, 'the agent started one resolver');
  t.equal(ppid(resolvers[0]!), agent.pid, 'as its child');
  t.match(cmdline(resolvers[0]!), /dns-hosts --resolver=\/run\/cni-ts\/dns-hosts\//);
  t.equal(readFileSync(`/proc/${resolvers[0]}/cgroup`, 'utf8'), readFileSync(`/proc/${agent.pid}/cgroup`, 'utf8'), 'in the agent\'s cgroups');
  const answer = spawnSync('ip', ['netns', 'exec', ctr.name, 'dig', '+short', '+time=2', '+tries=1', '@127.0.0.11', 'web'], { encoding: 'utf8' });
  t.equal(answer.stdout.trim(), '10.79.0.5', 'it answers the container\'s name');
  const del = cni('dns-hosts', { host: host.name, command: 'DEL', config: conf, containerId: 'dns1', netns: ctr.path, ifname: 'eth0', args: 'K8S_POD_NAME=web', env: agent.env });
  t.equal(del.status, 0);
  // stopping the agent stops its sync process
  const last = agent.status()?.children.sync;
  t.ok(agent.stop(), 'the agent stopped');
  for (const end = Date.now() + 5000; !gone(last!) && Date.now() < end;) pause(50);
  t.ok(gone(last!), 'and its sync process');
});

t.test('install: a systemd unit for the agent, a DaemonSet manifest; the launcher looks where the agent listens', { skip }, async (t) => {
  const d = tempDir(t);
  const bin = join(d, 'opt-cni-bin'), unit = join(d, 'cni-ts-agent.service');
  const inst = spawnSync(join(BIN, 'cni-ts'), ['install', bin, '--agent-unit', unit], { encoding: 'utf8' });
  t.equal(inst.status, 0, inst.stderr);
  const text = readFileSync(unit, 'utf8');
  t.match(text, new RegExp(`^ExecStart=${bin}/cni-ts agent --dir=/run/cni-ts/agent$`, 'm'), 'the unit runs the installed agent');
  t.match(text, /^Restart=always$/m);
  const verify = spawnSync('systemd-analyze', ['verify', unit], { encoding: 'utf8' });
  t.notMatch(verify.stderr, new RegExp(`${unit.replace(/[.]/g, '\\.')}:\\d+:`), `systemd-analyze finds nothing wrong in it: ${verify.stderr}`);
  const ds = spawnSync(join(BIN, 'cni-ts'), ['install', '--daemonset', 'example.org/cni-ts:0.1.0'], { encoding: 'utf8' });
  t.equal(ds.status, 0, ds.stderr);
  for (const line of [/^kind: DaemonSet$/m, /^ {6}hostNetwork: true$/m, /image: example\.org\/cni-ts:0\.1\.0$/m, /"agent", "--dir=\/run\/cni-ts\/agent"/, /mountPropagation: HostToContainer/]) t.match(ds.stdout, line);
  // launcher.c's own copy of the default directory is the agent's
  t.ok(readFileSync(join(ROOT, 'build/launcher/launcher.c'), 'utf8').includes(`#define DEFAULT_AGENT_DIR "${AGENT_DIR}"\n`), `launcher.c looks in ${AGENT_DIR}`);
});

t.test('workers whose supervisor was killed leave; a new agent serves', { skip }, async (t) => {
  const host = makeNetns(t, 'cnits-agh'), ctr = makeNetns(t, 'cnits-agc');
  const agent = startAgent(host.name, BIN);
  t.teardown(() => { agent.stop(); });
  const workers = agent.workers();
  t.equal(workers.length, 2);
  process.kill(agent.pid, 'SIGKILL');
  // (accept gives up every 5 s: then a worker sees its parent gone)
  for (const end = Date.now() + 12_000; !workers.every(gone) && Date.now() < end;) await new Promise((r) => setTimeout(r, 200));
  t.ok(workers.every(gone), 'the orphaned workers left');
  const next = startAgent(host.name, BIN, { dir: agent.dir });
  t.teardown(() => { next.stop(); });
  const r = cni('loopback', { host: host.name, command: 'ADD', config: loopback, containerId: 'o1', netns: ctr.path, ifname: 'lo', env: next.env });
  t.equal(r.status, 0, r.stdout);
  t.equal(next.served(), 1, 'a new agent on the same directory serves');
  t.ok(ipJson<{ flags: string[] }[]>(ctr.name, 'link', 'show', 'lo')[0]?.flags.includes('UP'), 'and its ADD set the container\'s lo up');
});
