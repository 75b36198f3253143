// A real libcni client (test/libcni-client, built against Debian's libcni 1.1.2) drives a full
// chain, exactly as containerd and podman invoke plugins: bridge + portmap + firewall + tuning.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { BIN, ROOT, ipJson, makeNetns, runtimeEnv, sh } from '../helpers/netns.ts';
import { ask, hostWithOutside, serve } from '../helpers/topology.ts';

const CNICTL = join(ROOT, 'build/cnictl');

t.test('libcni ADD/CHECK/DEL of bridge + portmap + firewall + tuning', async (t) => {
  const { host, outside } = hostWithOutside(t);
  const dir = mkdtempSync(join(tmpdir(), 'cnits-libcni-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const conflist = {
    cniVersion: '1.0.0', name: 'libcni-net',
    plugins: [
      { type: 'bridge', bridge: 'cnits-lc', isGateway: true, ipMasq: true, hairpinMode: true, ipam: { type: 'host-local', dataDir: join(dir, 'ipam'), ranges: [[{ subnet: '10.85.0.0/24' }]], routes: [{ dst: '0.0.0.0/0' }] } },
      { type: 'portmap', capabilities: { portMappings: true } },
      { type: 'firewall', ingressPolicy: 'same-bridge' },
      { type: 'tuning', mtu: 1400, dataDir: join(dir, 'tuning') },
    ],
  };
  writeFileSync(join(dir, '10-libcni.conflist'), JSON.stringify(conflist));
  const ctr = makeNetns(t, 'cnits-ctr');
  const run = (op: string) => spawnSync('ip', ['netns', 'exec', host.name, CNICTL, op, 'libcni-net', ctr.path], {
    encoding: 'utf8',
    env: {
      PATH: process.env.PATH!, NETCONFPATH: dir, CNI_PATH: BIN, CNI_CACHE_DIR: join(dir, 'cache'), CNI_CONTAINERID: 'libcni1',
      CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web',
      CAP_ARGS: JSON.stringify({ portMappings: [{ hostPort: 8082, containerPort: 80, protocol: 'tcp' }] }),
      ...runtimeEnv(host.name),
    },
  });
  const add = run('add');
  t.equal(add.status, 0, add.stderr);
  const result = JSON.parse(add.stdout);
  t.equal(result.cniVersion, '1.0.0');
  t.equal(result.ips[0].address, '10.85.0.2/24');
  t.same(result.interfaces.map((i: any) => i.name), ['cnits-lc', result.interfaces[1].name, 'eth0']);
  t.equal(result.interfaces[2].sandbox, ctr.path);
  t.equal(ipJson(ctr.name, 'link', 'show', 'eth0')[0].mtu, 1400, 'tuning applied (libcni 1.1.2 results carry no interface mtu)');
  await serve(t, ctr.name, 'tcp', 80);
  t.equal(ask(outside.name, 'tcp', '192.0.2.1', 8082), '192.0.2.2', 'published through portmap');
  const check = run('check');
  t.equal(check.status, 0, check.stderr);
  const del = run('del');
  t.equal(del.status, 0, del.stderr);
  t.notMatch(sh('ip', ['netns', 'exec', host.name, 'nft', 'list', 'ruleset']), /id=libcni1"/, 'no rule left');
  t.same(readdirSync(join(dir, 'ipam/libcni-net')).sort(), ['last_reserved_ip.0', 'lock'], 'no lease left');
  t.notOk(ipJson(ctr.name, 'link', 'show').some((l: any) => l.ifname === 'eth0'), 'no interface left');
  t.equal(run('del').status, 0, 'DEL again');
});
