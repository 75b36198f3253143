// podman 4.3 on its CNI backend (../shared/podman) running real containers over our plugins:
// podman itself runs in a host namespace of the test's own (nsenter --net: podman needs the
// machine's mounts, only its network namespace is the test's), so bridges, veths and nft
// elements live there. Skipped when podman is not set up (build/setup.sh sets it up).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { BIN, ROOT, ipJson, makeNetns, netnsStateDirs, nftElements, runtimeEnv, tempDir } from '../helpers/netns.ts';

const LIB = join(ROOT, '../shared/podman/lib.sh');
const ready = existsSync('/etc/containers/containers.conf') && existsSync(LIB) && spawnSync('podman', ['--version']).status === 0;

const conflist = (name: string, bridge: string, subnet: string, dataDir: string) => ({
  cniVersion: '1.0.0', name,
  plugins: [
    { type: 'bridge', bridge, isGateway: true, ipMasq: true, hairpinMode: true, ipam: { type: 'host-local', dataDir, ranges: [[{ subnet }]], routes: [{ dst: '0.0.0.0/0' }] } },
    { type: 'portmap', capabilities: { portMappings: true } },
    { type: 'firewall' },
    { type: 'tuning' },
  ],
});

/** A host namespace of the test's own, conflists in a directory of its own, and podman pointed at both. */
function podmanWorld(t: Test, lists: Record<string, unknown>) {
  const host = makeNetns(t, 'cnits-podhost');
  const d = tempDir(t, 'cnits-podman-');
  mkdirSync(join(d, 'nets'));
  for (const [name, list] of Object.entries(lists)) writeFileSync(join(d, 'nets', `${name}.conflist`), JSON.stringify(list));
  const conf = join(d, 'containers.conf');
  const made = spawnSync('bash', ['-c', `. ${LIB} && harness_conf ${conf} ${BIN} ${join(d, 'nets')}`], { encoding: 'utf8' });
  t.equal(made.status, 0, made.stderr);
  const podman = (...args: string[]) => spawnSync('nsenter', [`--net=${host.path}`, 'podman', ...args], { encoding: 'utf8', env: { ...process.env, CONTAINERS_CONF: conf, ...runtimeEnv(host.name) }, timeout: 60_000 });
  return { host, d, podman };
}

t.test('podman run on our conflist: addresses, ping, HTTP across, a published port, network connect/disconnect, rm -f leaves nothing', { skip: !ready && 'podman is not set up (../shared/podman/setup.sh)' }, async (t) => {
  const ipamDir = tempDir(t, 'cnits-podman-ipam-');
  const { host, podman } = podmanWorld(t, { podnet: conflist('podnet', 'cnits-pod0', '10.104.0.0/24', ipamDir), podnet2: conflist('podnet2', 'cnits-pod1', '10.105.0.0/24', ipamDir) });
  const names = [`cnits-pa-${process.pid}`, `cnits-pb-${process.pid}`];
  t.teardown(() => { podman('rm', '-f', '-t', '0', ...names); });
  const [a, b] = names as [string, string];

  const ra = podman('run', '-d', '--name', a, '--network', 'podnet', '-p', '18110:80', 'localhost/bb', 'sh', '-c', 'mkdir -p /www && echo hello-from-a > /www/index.html && exec httpd -f -p 80 -h /www');
  t.equal(ra.status, 0, ra.stderr);
  t.equal(podman('run', '-d', '--name', b, '--network', 'podnet', 'localhost/bb', 'sleep', '600').status, 0);
  const ip = (c: string, net = 'podnet') => podman('inspect', '-f', `{{.NetworkSettings.Networks.${net}.IPAddress}}`, c).stdout.trim();
  const [ipa, ipb] = [ip(a), ip(b)];
  t.match(ipa, /^10\.104\.0\.\d+$/);
  t.match(ipb, /^10\.104\.0\.\d+$/);
  t.not(ipa, ipb);
  t.equal(podman('exec', b, 'ping', '-c', '1', '-W', '2', ipa).status, 0, 'b pings a');
  t.equal(podman('exec', b, 'sh', '-c', `timeout 5 wget -qO- http://${ipa}/`).stdout.trim(), 'hello-from-a', 'HTTP from b to a');
  const fromHost = spawnSync('nsenter', [`--net=${host.path}`, 'timeout', '5', 'busybox', 'wget', '-qO-', 'http://127.0.0.1:18110/'], { encoding: 'utf8' });
  t.equal(fromHost.stdout.trim(), 'hello-from-a', 'the published port, from the host (127.0.0.1)');

  // a second network joins and leaves a running container
  const conn = podman('network', 'connect', 'podnet2', b);
  t.equal(conn.status, 0, conn.stderr);
  t.match(ip(b, 'podnet2'), /^10\.105\.0\.\d+$/, 'b on podnet2 too');
  t.ok(nftElements(host.name).some((e) => e.comment?.startsWith('net=podnet2 ')), 'its elements on podnet2');
  const disc = podman('network', 'disconnect', 'podnet2', b);
  t.equal(disc.status, 0, disc.stderr);
  t.same(nftElements(host.name).filter((e) => e.comment?.startsWith('net=podnet2 ')), [], 'gone with the disconnect');
  t.same(readdirSync(join(ipamDir, 'podnet2')).filter((f) => /^10\./.test(f)), [], 'its lease released');

  const rm = podman('rm', '-f', '-t', '0', a, b);
  t.equal(rm.status, 0, rm.stderr);
  t.same(ipJson(host.name, 'link', 'show').filter((l: any) => l.ifname.startsWith('veth')).map((l: any) => l.ifname), [], 'no veth left');
  t.same(nftElements(host.name).filter((e) => e.comment?.startsWith('net=podnet')), [], 'no element left');
  t.same(readdirSync(join(ipamDir, 'podnet')).filter((f) => /^10\./.test(f)), [], 'no lease left');
});

const dnsConflist = (name: string, bridge: string, subnet: string, dataDir: string) => {
  const c = conflist(name, bridge, subnet, dataDir);
  // what podman writes when dnsname is installed: our executable answers to that name
  c.plugins.push({ type: 'dnsname', domainName: 'dns.podman', capabilities: { aliases: true } } as any);
  return c;
};

t.test('podman with a dnsname conflist: names and --network-alias resolve through podman\'s own resolv.conf; network connect/disconnect add and remove names', { skip: !ready && 'podman is not set up (../shared/podman/setup.sh)' }, async (t) => {
  const ipamDir = tempDir(t, 'cnits-podman-ipam-');
  const { host, podman } = podmanWorld(t, { dnsnet: dnsConflist('dnsnet', 'cnits-pod2', '10.106.0.0/24', ipamDir), dnsnet2: dnsConflist('dnsnet2', 'cnits-pod3', '10.107.0.0/24', ipamDir) });
  const [a, b, c] = ['pa', 'pb', 'pc'].map((n) => `cnits-${n}-${process.pid}`) as [string, string, string];
  t.teardown(() => { podman('rm', '-f', '-t', '0', a, b, c); });
  const lookup = (from: string, name: string) => {
    const r = podman('exec', from, 'nslookup', name);
    // busybox nslookup: the answer's addresses follow the "Name:" line
    const after = r.stdout.split(/^Name:/m).slice(1).join('\n');
    return [...after.matchAll(/Address(?: \d+)?:\s*([0-9.]+)/g)].map((m) => m[1]);
  };
  const ip = (x: string, net = 'dnsnet') => podman('inspect', '-f', `{{.NetworkSettings.Networks.${net}.IPAddress}}`, x).stdout.trim();

  t.equal(podman('run', '-d', '--name', a, '--network', 'dnsnet', '--network-alias', 'web', 'localhost/bb', 'sleep', '600').status, 0);
  t.equal(podman('run', '-d', '--name', b, '--network', 'dnsnet', 'localhost/bb', 'sleep', '600').status, 0);
  const resolv = podman('exec', b, 'cat', '/etc/resolv.conf').stdout;
  t.match(resolv, /^nameserver 127\.0\.0\.11$/m, "podman's resolv.conf names our resolver");
  t.match(resolv, /^search .*dns\.podman/m, 'and the search domain');
  t.same(lookup(b, a), [ip(a)], 'b resolves a by name');
  t.same(lookup(b, 'web'), [ip(a)], 'and by its network alias');
  t.same(lookup(b, `${a}.dns.podman`), [ip(a)], 'and name.domainName');
  t.equal(podman('exec', b, 'ping', '-c', '1', '-W', '2', 'web').status, 0, 'b pings a by alias');

  t.equal(podman('run', '-d', '--name', c, '--network', 'dnsnet2', 'localhost/bb', 'sleep', '600').status, 0);
  t.same(lookup(c, b), [], 'c (dnsnet2 only) does not see b');
  t.equal(podman('network', 'connect', 'dnsnet2', b).status, 0);
  t.same(lookup(c, b), [ip(b, 'dnsnet2')], 'connect: b answers on dnsnet2 with its dnsnet2 address');
  t.equal(podman('network', 'disconnect', 'dnsnet2', b).status, 0);
  t.same(lookup(c, b), [], 'disconnect: gone');
  t.same(lookup(b, a), [ip(a)], 'b still resolves a on dnsnet', { resolv: podman('exec', b, 'cat', '/etc/resolv.conf').stdout });

  t.equal(podman('rm', '-f', '-t', '0', a, b, c).status, 0);
  const dir = netnsStateDirs(host.name).find((x) => x.includes('/dns-hosts/'));
  t.same(dir ? readdirSync(join(dir, 'records')) : [], [], 'no record left');
});
