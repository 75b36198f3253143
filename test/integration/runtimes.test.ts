// The conflists nerdctl and podman (CNI backend) write, unchanged but for the data dir, with
// the CNI_ARGS and capability args those runtimes send.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { Chain, type Conflist } from '../helpers/chain.ts';
import { ipJson, makeNetns, sh, tempDir } from '../helpers/netns.ts';
import { ask, hostWithOutside, ping, serve } from '../helpers/topology.ts';

const dir = (t: Test): string => tempDir(t, 'cnits-rt-');

// nerdctl network create --subnet 10.4.0.0/24 --ip-range 10.4.0.128/25 (nerdctl 1.x / 2.x)
const nerdctl = (d: string, internal = false): Conflist => ({
  cniVersion: '1.0.0',
  name: internal ? 'nerdctl-internal' : 'nerdctl-net',
  nerdctlID: '17f29b073143d8cd97b5bbe492bdeffec1c5fee55cc1fe2112c8b9335f8b6121',
  nerdctlLabels: { 'com.example.team': 'net' },
  plugins: [
    {
      type: 'bridge', bridge: internal ? 'nerdctl1' : 'nerdctl0', isGateway: !internal, ipMasq: !internal, hairpinMode: true,
      ipam: {
        ranges: [[{ gateway: internal ? '10.5.0.1' : '10.4.0.1', ipRange: internal ? undefined : '10.4.0.128/25', subnet: internal ? '10.5.0.0/24' : '10.4.0.0/24' }]],
        ...(internal ? {} : { routes: [{ dst: '0.0.0.0/0' }] }),
        type: 'host-local', dataDir: d,
      },
    },
    ...(internal ? [] : [{ type: 'portmap', capabilities: { portMappings: true } }]),
    { type: 'firewall', ingressPolicy: 'same-bridge' },
    { type: 'tuning' },
  ],
});

// podman 4 with the CNI backend: `podman network create` output
const podman = (d: string): Conflist => ({
  cniVersion: '0.4.0',
  name: 'podman-net',
  plugins: [
    {
      type: 'bridge', bridge: 'cni-podman1', isGateway: true, ipMasq: true, hairpinMode: true,
      ipam: { type: 'host-local', routes: [{ dst: '0.0.0.0/0' }], ranges: [[{ subnet: '10.89.0.0/24', gateway: '10.89.0.1' }]], dataDir: d },
      capabilities: { ips: true },
    },
    { type: 'portmap', capabilities: { portMappings: true } },
    { type: 'firewall', backend: '' },
    { type: 'tuning' },
  ],
  args: { podman_labels: { 'io.podman.net': 'x' }, podman_options: {} },
});

const runtimeArgs = { portMappings: [{ hostPort: 8081, containerPort: 80, protocol: 'tcp', hostIP: '' }], aliases: { 'podman-net': ['web', 'www'] } };

t.test('nerdctl conflist: ADD/CHECK/DEL with ipRange, ports and isolation', async (t) => {
  const { host, outside } = hostWithOutside(t);
  const d = dir(t);
  const ctr = makeNetns(t, 'cnits-ctr');
  // nerdctl sends a DEL with an empty netns before every ADD
  const pre = new Chain(nerdctl(d), { host: host.name, containerId: 'nc1', netns: '', args: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=nc1' });
  t.same(pre.del().map((x) => x.status), [0, 0, 0, 0], 'DEL before ADD');
  const c = new Chain(nerdctl(d), { host: host.name, containerId: 'nc1', netns: ctr.path, args: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=nc1', runtimeConfig: runtimeArgs });
  const r = c.add();
  t.equal(r.status, 0, r.stdout);
  t.equal(r.json.cniVersion, '1.0.0');
  t.equal(r.json.ips[0].address, '10.4.0.128/24', 'first address of --ip-range');
  await serve(t, ctr.name, 'tcp', 80);
  t.equal(ask(outside.name, 'tcp', '192.0.2.1', 8081), '192.0.2.2', 'published port');
  t.same(c.check().map((x) => x.status), [0, 0, 0, 0], 'CHECK');
  t.same(c.del().map((x) => x.status), [0, 0, 0, 0], 'DEL');
  t.notMatch(sh('ip', ['netns', 'exec', host.name, 'nft', 'list', 'ruleset']), /id=nc1"/);
  t.same(readdirSync(join(d, 'nerdctl-net')).filter((f) => f.startsWith('10.')), []);
});

t.test('nerdctl internal network: no default route, no way out', async (t) => {
  const { host } = hostWithOutside(t);
  const d = dir(t);
  const ctr = makeNetns(t, 'cnits-ctr');
  const c = new Chain(nerdctl(d, true), { host: host.name, containerId: 'int1', netns: ctr.path, args: 'IgnoreUnknown=1' });
  const r = c.add();
  t.equal(r.status, 0, r.stdout);
  t.notOk(ipJson(ctr.name, 'route', 'show').some((x: any) => x.dst === 'default'));
  t.notOk(ping(ctr.name, '192.0.2.2'));
  t.same(c.del().map((x) => x.status), [0, 0, 0]);
});

t.test('podman 4 conflist (0.4.0): static IP via the ips capability, aliases map, podman_labels', async (t) => {
  const { host, outside } = hostWithOutside(t);
  const d = dir(t);
  const ctr = makeNetns(t, 'cnits-ctr');
  const c = new Chain(podman(d), {
    host: host.name, containerId: 'pod1', netns: ctr.path,
    args: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=pod1;K8S_POD_NAME=pod1;K8S_POD_INFRA_CONTAINER_ID=pod1',
    runtimeConfig: { ...runtimeArgs, ips: ['10.89.0.42'] },
  });
  const r = c.add();
  t.equal(r.status, 0, r.stdout);
  t.equal(r.json.cniVersion, '0.4.0');
  t.same(r.json.ips, [{ version: '4', interface: 2, address: '10.89.0.42/24', gateway: '10.89.0.1' }]);
  t.ok(ipJson(ctr.name, 'addr', 'show', 'eth0')[0].addr_info.some((a: any) => a.local === '10.89.0.42'));
  await serve(t, ctr.name, 'tcp', 80);
  t.equal(ask(outside.name, 'tcp', '192.0.2.1', 8081), '192.0.2.2');
  t.same(c.check().map((x) => x.status), [0, 0, 0, 0]);
  t.same(c.del().map((x) => x.status), [0, 0, 0, 0]);
  t.same(c.del().map((x) => x.status), [0, 0, 0, 0], 'DEL twice');
});
