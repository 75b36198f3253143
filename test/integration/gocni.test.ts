// go-cni (containerd's CRI and nerdctl call plugins through it): a pod set up on two networks
// (eth0, eth1, and lo first, as the CRI loads them) with the CRI's labels, a port mapping, IP
// ranges, DNS and bandwidth options (all Go structs without JSON tags), checked, its Status,
// then removed with nothing left.
import { spawnSync } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { BIN, ROOT, ipJson, makeNetns, nftElements, runtimeEnv, tempDir } from '../helpers/netns.ts';
import { ask, hostWithOutside, serve } from '../helpers/topology.ts';

const GOCNICTL = join(ROOT, 'build/gocnictl');

t.test('go-cni: Setup on two networks with every namespace option, Check, Status, Remove', async (t) => {
  const { host, outside } = hostWithOutside(t);
  const d = tempDir(t, 'cnits-gocni-');
  const conf = join(d, 'net.d');
  spawnSync('mkdir', ['-p', conf]);
  writeFileSync(join(conf, '10-pods.conflist'), JSON.stringify({
    cniVersion: '1.0.0', name: 'pods',
    plugins: [
      { type: 'bridge', bridge: 'cnits-g1', isGateway: true, ipMasq: true, capabilities: { ipRanges: true }, ipam: { type: 'host-local', dataDir: join(d, 'ipam'), routes: [{ dst: '0.0.0.0/0' }] } },   // the ranges come from the runtime
      { type: 'portmap', capabilities: { portMappings: true } },
      { type: 'firewall' },
      { type: 'tuning' },
    ],
  }));
  writeFileSync(join(conf, '20-side.conflist'), JSON.stringify({
    cniVersion: '1.0.0', name: 'side',
    plugins: [{ type: 'bridge', bridge: 'cnits-g2', ipam: { type: 'host-local', dataDir: join(d, 'ipam'), ranges: [[{ subnet: '10.102.0.0/24' }]] } }, { type: 'firewall' }],
  }));
  const pod = makeNetns(t, 'cnits-pod');
  const id = 'f'.repeat(12) + '0123456789abcdef'.repeat(3) + '0123';   // a 64-hex sandbox ID
  const env = {
    PATH: process.env.PATH!, CONF_DIR: conf, CNI_PATH: BIN, NETWORKS: '2', CONTAINER_ID: id,
    LABELS: JSON.stringify({ IgnoreUnknown: '1', K8S_POD_NAMESPACE: 'default', K8S_POD_NAME: 'web', K8S_POD_INFRA_CONTAINER_ID: id, K8S_POD_UID: '4e630f6e-7931-40df-87b5-c3e0671fd47c' }),
    PORTS: JSON.stringify([{ HostPort: 18090, ContainerPort: 80, Protocol: 'tcp', HostIP: '' }]),
    IPRANGES: JSON.stringify([[{ Subnet: '10.101.0.0/24', RangeStart: '10.101.0.100', RangeEnd: '10.101.0.110', Gateway: '10.101.0.1' }]]),
    DNS: JSON.stringify({ Servers: ['10.96.0.10'], Searches: ['default.svc.cluster.local'], Options: ['ndots:5'] }),
    BANDWIDTH: JSON.stringify({ IngressRate: 1000000, IngressBurst: 100000, EgressRate: 1000000, EgressBurst: 100000 }),
    ...runtimeEnv(host.name),
  };
  const run = (op: string, extra: Record<string, string> = {}) => spawnSync('ip', ['netns', 'exec', host.name, GOCNICTL, op, pod.path], { encoding: 'utf8', env: { ...env, ...extra } });
  t.equal(run('status').status, 0, 'Status: the networks are loaded');
  const setup = run('setup');
  t.equal(setup.status, 0, setup.stderr);
  const r = JSON.parse(setup.stdout);
  t.same(Object.keys(r.Interfaces).filter((k) => r.Interfaces[k].Sandbox).sort(), ['eth0', 'eth1', 'lo']);
  t.equal(r.Interfaces.eth0.IPConfigs[0].IP, '10.101.0.100', 'eth0 from the runtime\'s IP range (RangeStart)');
  t.match(r.Interfaces.eth1.IPConfigs[0].IP, /^10\.102\.0\.\d+$/, 'eth1 on the second network');
  const addrs = (ifname: string) => ipJson(pod.name, 'addr', 'show', ifname)[0].addr_info.map((a: any) => a.local);
  t.ok(addrs('eth0').includes('10.101.0.100') && addrs('eth1').includes(r.Interfaces.eth1.IPConfigs[0].IP), 'both on the pod\'s interfaces');
  await serve(t, pod.name, 'tcp', 80);
  t.equal(ask(outside.name, 'tcp', '192.0.2.1', 18090), '192.0.2.2', 'the HostPort is published');
  // libcni refuses CHECK for go-cni's 0.3.1 loopback network: the pod's own networks only
  const check = run('check', { LOOPBACK: '0' });
  t.equal(check.status, 0, check.stderr);
  const remove = run('remove');
  t.equal(remove.status, 0, remove.stderr);
  t.equal(run('remove').status, 0, 'Remove again (the CRI stops a sandbox twice)');
  t.same(ipJson(pod.name, 'link', 'show').map((l: any) => l.ifname), ['lo']);
  t.same(nftElements(host.name).filter((e) => e.comment?.includes(id.slice(0, 32))), [], 'no element left');
  for (const net of ['pods', 'side']) t.same(readdirSync(join(d, 'ipam', net)).filter((f) => /^10\./.test(f)), [], `no lease left on ${net}`);
});
