// The operator CLI (`cni-ts ls`, `inspect`, `install`, `version`) against real state the plugins
// made through libcni in a host namespace of the test's own.
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { launcherBuilt } from '../../build/launcher/supported.ts';
import { BIN, ROOT, ipJson, makeNetns, tempDir } from '../helpers/netns.ts';
import { ask, hostWithOutside, serve } from '../helpers/topology.ts';

const CNICTL = join(ROOT, 'build/cnictl');

t.test('ls and inspect show networks and attachments as the plugins left them; install serves a runtime', async (t) => {
  const { host, outside } = hostWithOutside(t);
  const d = tempDir(t, 'cnits-cli-');
  const conf = join(d, 'net.d'), cache = join(d, 'cache');
  spawnSync('mkdir', ['-p', conf]);
  writeFileSync(join(conf, '10-web.conflist'), JSON.stringify({
    cniVersion: '1.0.0', name: 'web',
    plugins: [
      { type: 'bridge', bridge: 'cnits-cli', isGateway: true, ipMasq: true, ipam: { type: 'host-local', dataDir: join(d, 'ipam'), ranges: [[{ subnet: '10.98.0.0/24' }]], routes: [{ dst: '0.0.0.0/0' }] } },
      { type: 'portmap', capabilities: { portMappings: true } },
      { type: 'firewall', ingressPolicy: 'same-bridge' },
      { type: 'tuning' },
    ],
  }));
  writeFileSync(join(conf, '20-lo.conf'), JSON.stringify({ cniVersion: '1.0.0', name: 'lo-only', type: 'loopback' }));
  writeFileSync(join(conf, '30-broken.conflist'), '{ not json');
  const cnictl = (op: string, ns: string, id: string, port: number, bin = BIN) => spawnSync('ip', ['netns', 'exec', host.name, CNICTL, op, 'web', `/run/netns/${ns}`], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH!, NETCONFPATH: conf, CNI_PATH: bin, CNI_CACHE_DIR: cache, CNI_CONTAINERID: id, CAP_ARGS: JSON.stringify({ portMappings: [{ hostPort: port, containerPort: 80, protocol: 'tcp' }] }) },
  });
  const cli = (...args: string[]) => spawnSync('ip', ['netns', 'exec', host.name, join(BIN, 'cni-ts'), ...args], { encoding: 'utf8', env: { PATH: process.env.PATH!, NETCONFPATH: conf } });
  const a = makeNetns(t, 'cnits-ctr'), b = makeNetns(t, 'cnits-ctr');
  t.equal(cnictl('add', a.name, 'cli-a', 18081).status, 0);
  t.equal(cnictl('add', b.name, 'cli-b', 18082).status, 0);

  const ls = JSON.parse(cli('ls', '--cache-dir', cache, '--json').stdout);
  t.equal(ls.confDir, conf, 'NETCONFPATH, as cnitool reads it');
  t.same(ls.networks.map((n: any) => [n.name, n.plugins.join(','), n.subnets.join(','), n.bridge, n.attachments]), [
    ['web', 'bridge,portmap,firewall,tuning', '10.98.0.0/24', 'cnits-cli', 2],
    ['lo-only', 'loopback', '', null, 0],
  ]);
  t.match(ls.problems.join(' '), /30-broken\.conflist/, 'a broken file is reported, not fatal');
  const lsTable = cli('ls', '--cache-dir', cache).stdout;
  t.match(lsTable, /^NETWORK\s+PLUGINS\s+SUBNETS\s+BRIDGE\s+ATTACHMENTS$/m);
  t.match(lsTable, /^web\s+bridge,portmap,firewall,tuning\s+10\.98\.0\.0\/24\s+cnits-cli\s+2$/m);

  const ins = JSON.parse(cli('inspect', 'web', '--conf-dir', conf, '--cache-dir', cache, '--json').stdout);
  t.same(ins.attachments.map((x: any) => [x.containerId, x.ifname]), [['cli-a', 'eth0'], ['cli-b', 'eth0']]);
  for (const [x, ns, port] of [[ins.attachments[0], a, 18081], [ins.attachments[1], b, 18082]] as const) {
    const eth0 = ipJson(ns.name, 'addr', 'show', 'eth0')[0];
    t.same(x.addresses, [eth0.addr_info.find((i: any) => i.family === 'inet').local], 'the address on its eth0');
    t.equal(x.mac, eth0.address, "its MAC (from the runtime's result cache)");
    t.ok(x.hostVeth && ipJson(host.name, 'link', 'show', x.hostVeth)[0].master === 'cnits-cli', 'its host veth, on the bridge');
    t.same(x.ports, [`${port}/tcp -> ${x.addresses[0]}:80`]);
    t.same(x.firewall, [`fw_accept4 ${x.addresses[0]}`]);
  }
  const text = cli('inspect', 'web', '--cache-dir', cache).stdout;
  t.match(text, /^CONTAINER\s+IFNAME\s+ADDRESSES\s+MAC\s+HOST VETH\s+PORTS\s+DNS NAMES\s+FIREWALL$/m);
  t.match(text, /^cli-a\s+eth0\s+10\.98\.0\.\d+\s+[0-9a-f:]{17}\s+veth[0-9a-f]{8}\s+18081\/tcp -> 10\.98\.0\.\d+:80/m);
  t.equal(cli('inspect', 'nope').status, 1);

  // install into a directory of the test's, then a runtime runs the chain from there
  const bin = join(d, 'opt-cni-bin');
  const inst = cli('install', bin);
  t.equal(inst.status, 0, inst.stderr);
  t.ok(statSync(join(bin, 'cni-ts')).mode & 0o111, 'executable');
  if (launcherBuilt) t.ok(statSync(join(bin, 'cni-ts.bun')).mode & 0o111, 'the executable behind the launcher');
  t.ok(existsSync(join(bin, 'netns_native.node')));
  for (const p of ['bridge', 'portmap', 'firewall', 'tuning', 'host-local', 'loopback', 'macvlan', 'ipvlan']) {
    t.ok(lstatSync(join(bin, p)).isSymbolicLink() && readlinkSync(join(bin, p)) === 'cni-ts', `${p} -> cni-ts`);
  }
  t.equal(cli('install', bin).status, 0, 'again, over itself');
  const c = makeNetns(t, 'cnits-ctr');
  const add = cnictl('add', c.name, 'cli-c', 18083, bin);
  t.equal(add.status, 0, add.stderr);
  await serve(t, c.name, 'tcp', 80);
  t.equal(ask(outside.name, 'tcp', '192.0.2.1', 18083), '192.0.2.2', 'the installed plugins published the port');
  t.match(spawnSync(join(bin, 'cni-ts'), ['version'], { encoding: 'utf8' }).stdout, /^cni-ts \d+\.\d+\.\d+\nCNI protocol versions supported: 0\.1\.0, .*1\.1\.0\n/);

  for (const [ns, id, port] of [[a, 'cli-a', 18081], [b, 'cli-b', 18082], [c, 'cli-c', 18083]] as const) t.equal(cnictl('del', ns.name, id, port).status, 0);
  t.same(JSON.parse(cli('inspect', 'web', '--cache-dir', cache, '--json').stdout).attachments, [], 'nothing attached after the DELs');
});

t.test('ls passes over what is not a regular file; install refuses a directory others may write to', async (t) => {
  const d = tempDir(t, 'cnits-cli-');
  const run = (...args: string[]) => spawnSync(join(BIN, 'cni-ts'), args, { encoding: 'utf8', timeout: 20_000 });
  // a FIFO named like a conflist: opened without blocking, reported, never waited on
  writeFileSync(join(d, '20-ok.conflist'), JSON.stringify({ cniVersion: '1.0.0', name: 'ok', plugins: [{ type: 'loopback' }] }));
  spawnSync('mkfifo', [join(d, '10-fifo.conflist')]);
  const ls = run('ls', '--conf-dir', d, '--json');
  t.equal(ls.status, 0, `ls returned (not stuck on the FIFO): ${ls.stderr}`);
  const out = JSON.parse(ls.stdout);
  t.same(out.networks.map((n: { name: string }) => n.name), ['ok'], 'the real conflist is listed');
  t.match(out.problems.join('\n'), /10-fifo\.conflist: not a regular file/, 'the FIFO is reported');
  // a world-writable (even sticky) or group-writable target: refused, nothing written, named
  for (const mode of ['1777', '0775']) {
    const target = join(d, `bin-${mode}`);
    spawnSync('install', ['-d', '-m', mode, target]);
    const r = run('install', target);
    t.equal(r.status, 1, `mode ${mode}: refused`);
    t.match(r.stderr, new RegExp(`refusing to install into ${target}: it is writable by`), 'the error names the target');
    t.notOk(existsSync(join(target, 'cni-ts')), 'nothing written');
  }
  // a failure names the file being installed, not its temporary
  const blocked = join(d, 'bin-blocked');
  spawnSync('install', ['-d', '-m', '0755', blocked]);
  spawnSync('mkdir', [join(blocked, 'loopback')]);
  spawnSync('touch', [join(blocked, 'loopback', 'x')]);
  const r = run('install', blocked);
  t.equal(r.status, 1, 'a plugin name taken by a directory fails');
  t.match(r.stderr, new RegExp(`cannot install ${blocked}/loopback`), `the error names the target: ${r.stderr.trim()}`);
  t.notMatch(r.stderr, /\.cni-ts-install-/, 'not the temporary');
});
