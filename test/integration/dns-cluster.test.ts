// Names across hosts: dns-hosts chained after vxlan-overlay (l2) with the overlay's etcd, on
// "hosts" that are namespaces on an underlay bridge of the test's own; etcd started by the test
// in that underlay namespace; each host's resolver started by its first ADD. DNS queries only
// from the test's containers to their own resolver.
import { spawnSync } from 'node:child_process';
import t from 'tap';
import { join } from 'node:path';
import { BIN, haveBuild } from '../helpers/netns.ts';
import { Cluster, haveEtcd, within, type Ctr, type Host } from '../helpers/overlay.ts';
import { dig } from '../helpers/dns.ts';

const skip = !haveBuild() ? 'npm run build first' : !haveEtcd() ? 'etcd-server is not installed (build/setup.sh installs it)' : spawnSync('dig', ['-v']).status !== 0 ? 'no dig' : false;
const nsOf = (c: Ctr) => c.path.split('/').at(-1)!;
const A = (c: Ctr, name: string) => dig(nsOf(c), name).answers.sort();

function net(cl: Cluster, extra: Record<string, unknown> = {}) {
  return cl.l2network('ov1', 42, { subnet: '10.90.0.0/24' }, [{ type: 'dns-hosts', forward: false, etcd: { endpoints: cl.endpoints }, capabilities: { aliases: true, links: true }, ...extra }]);
}

t.test('three hosts: every container resolves every other by name, alias and name.network; PTR of a remote address; a shared alias held on two hosts answers both; DEL on one host: gone everywhere within 1 s', { skip }, async (t) => {
  const cl = new Cluster(t);
  await cl.startEtcd(['e1']);
  const ov = net(cl);
  const hosts = [cl.host(), cl.host(), cl.host()];
  const ctrs = hosts.map((_, i) => cl.container(`c${i}`));
  const ips: string[] = [];
  for (const [i, h] of hosts.entries()) {
    const r = cl.call('add', h, ctrs[i]!, ov, `K8S_POD_NAME=web${i}`, { aliases: { ov1: [`svc${i}`, ...(i > 0 ? ['shared'] : [])] } });
    t.equal(r.status, 0, `ADD on host ${i + 1} ${r.stderr}`);
    ips.push(r.json.ips[0].address.split('/')[0]);
  }
  const all = await within(3000, () => ctrs.every((c) => [0, 1, 2].every((j) => A(c, `web${j}`).join() === ips[j])));
  t.ok(all !== undefined, `every container resolves every name within 3 s of the last ADD (${all} ms)`);
  t.same(A(ctrs[0]!, 'web2'), [ips[2]], 'web0 on host 1 resolves web2 on host 3');
  t.same(A(ctrs[2]!, 'svc1'), [ips[1]], 'an alias of a container on another host');
  t.same(A(ctrs[0]!, 'web1.ov1'), [ips[1]], 'name.network');
  t.same(A(ctrs[0]!, 'shared'), [ips[1], ips[2]].sort(), 'a shared alias held on two hosts answers both');
  const firsts = new Set(Array.from({ length: 4 }, () => dig(nsOf(ctrs[0]!), 'shared').answers[0]));
  t.equal(firsts.size, 2, 'rotated: consecutive answers lead with each in turn');
  // a link alias: declared by one container on host 1, to a container on host 3
  const linker = cl.container('linker');
  t.equal(cl.call('add', hosts[0]!, linker, ov, 'K8S_POD_NAME=linker', { links: ['web2:db'] }).status, 0);
  t.same(A(linker, 'db'), [ips[2]], 'a link alias resolves, to a container on another host, for the container that declared it');
  t.equal(dig(nsOf(ctrs[0]!), 'db').status, 'NXDOMAIN', 'and for no other container on its host');
  t.equal(dig(nsOf(ctrs[2]!), 'db').status, 'NXDOMAIN', 'nor on the target\'s host');
  t.equal(cl.call('del', hosts[0]!, linker, ov).status, 0);
  const ptr = dig(nsOf(ctrs[0]!), ips[2]!, 'PTR', ['-x']).answers;
  t.ok(ptr.some((n) => n.startsWith('web2')), `PTR of a remote address names it (${ptr.join(' ')})`);
  t.same(A(ctrs[0]!, 'web0'), [ips[0]], 'its own name still answers');
  const ins = spawnSync('ip', ['netns', 'exec', hosts[0]!.name, join(BIN, 'cni-ts'), 'inspect', 'ov1', '--conf-dir', join(ov, '..'), '--cache-dir', join(cl.dir, 'cache'), '--json'], { encoding: 'utf8' });
  const mine = JSON.parse(ins.stdout).attachments.find((x: any) => x.containerId === ctrs[0]!.id);
  t.same(mine?.dnsNames.slice(0, 2), ['web0', 'svc0'], `cni-ts inspect shows its DNS names (${ins.stderr})`);

  // DEL on host 2: within 1 s no host answers its names
  t.equal(cl.call('del', hosts[1]!, ctrs[1]!, ov).status, 0);
  const gone = await within(1000, () => [0, 2].every((i) => dig(nsOf(ctrs[i]!), 'web1').status === 'NXDOMAIN'));
  t.ok(gone !== undefined, `web1 gone from hosts 1 and 3 within 1 s of the DEL (${gone} ms)`);
  t.same(A(ctrs[0]!, 'shared'), [ips[2]], 'the shared alias answers the one left');
  for (const i of [0, 2]) t.equal(cl.call('del', hosts[i]!, ctrs[i]!, ov).status, 0);
  const left = cl.etcdctl('get', '--prefix', '/cni-ts/dns/', '--keys-only').trim();
  t.equal(left, '', 'no name left in etcd');
});

t.test('etcd away: known names keep resolving, a restarted resolver too; a container added meanwhile resolves on the others within 1 s of etcd\'s return; a hostile record is not served', { skip }, async (t) => {
  const cl = new Cluster(t);
  await cl.startEtcd(['e1']);
  // routed: a host that holds its subnet adds containers without etcd; the names' subnet is the overlay's
  const ov = cl.network('ov1', 42, '10.90.0.0/16', {}, {}, [{ type: 'dns-hosts', forward: false, etcd: { endpoints: cl.endpoints }, subnets: ['10.90.0.0/16'] }]);
  const [h1, h2] = [cl.host(), cl.host()];
  const [a, b, c] = [cl.container('a'), cl.container('b'), cl.container('c')];
  const add = (h: Host, x: Ctr, name: string) => { const r = cl.call('add', h, x, ov, `K8S_POD_NAME=${name}`); t.equal(r.status, 0, `${name} ${r.stderr}`); return r.json.ips[0].address.split('/')[0]; };
  const ipa = add(h1, a, 'alpha'), ipb = add(h2, b, 'bravo');
  t.ok(await within(3000, () => A(a, 'bravo').join() === ipb) !== undefined, 'bravo resolves on host 1');
  cl.stopAllEtcd();
  await new Promise((r) => setTimeout(r, 500));
  t.same(A(a, 'bravo'), [ipb], 'etcd away: bravo still resolves on host 1');
  t.same(A(b, 'alpha'), [ipa], 'and alpha on host 2');
  // host 1's resolver dies while etcd is away; its supervisor starts it again, from the names it saved
  const served = spawnSync('pgrep', ['-f', 'dns-hosts --resolver-serve'], { encoding: 'utf8' }).stdout.trim().split('\n').filter(Boolean);
  const mine = served.filter((pid) => spawnSync('ip', ['netns', 'identify', pid], { encoding: 'utf8' }).stdout.trim() === h1.name);
  t.equal(mine.length, 1, 'one resolver on host 1');
  process.kill(Number(mine[0]), 'SIGKILL');
  const back = await within(8000, () => A(a, 'bravo').join() === ipb);
  t.ok(back !== undefined, `restarted with etcd away, host 1's resolver answers bravo from the names it saved (${back} ms)`);
  const ipc = add(h2, c, 'charlie');
  t.equal(dig(nsOf(c), 'bravo').answers.join(), ipb, 'charlie, added on host 2 while etcd is away, resolves bravo');
  await new Promise((r) => setTimeout(r, 3000));   // long enough for every retry to back off
  t.equal(dig(nsOf(a), 'charlie').status, 'NXDOMAIN', 'host 1 cannot know charlie yet');
  cl.restartEtcd('e1');
  const t0 = Date.now();
  await cl.waitHealthy();
  const took = await within(1000, () => A(a, 'charlie').join() === ipc);
  t.ok(took !== undefined, `charlie resolves on host 1 within 1 s of etcd's return (${took} ms after it answered, ${Date.now() - t0} ms after its start)`);

  // hostile records: a name with an address outside the subnet, a bad name, no JSON
  const K = '/cni-ts/dns/ov1/names/';
  const rec = (id: string, over: Record<string, unknown>) => JSON.stringify({ network: 'ov1', containerId: id, ifname: 'eth0', host: 'evil', shortId: 'evil', aliases: [], ips: ['10.90.9.99'], ...over });
  cl.etcdctl('put', `${K}x1:eth0`, rec('x1', { name: 'outside', ips: ['192.168.77.250'] }));
  cl.etcdctl('put', `${K}x2:eth0`, rec('x2', { name: 'Bad_Name!' }));
  cl.etcdctl('put', `${K}x3:eth0`, '{"network":');
  cl.etcdctl('put', `${K}x4:eth0`, rec('x5', { name: 'wrongkey' }));
  cl.etcdctl('put', `${K}x6:eth0`, rec('x6', { name: 'fine' }));
  t.ok(await within(2000, () => A(a, 'fine').join() === '10.90.9.99') !== undefined, 'a fit record of another host is answered');
  t.equal(dig(nsOf(a), 'outside').status, 'NXDOMAIN', 'an address outside the subnet is not served');
  t.equal(dig(nsOf(a), 'wrongkey').status, 'NXDOMAIN', 'nor a record its key does not name');
  t.same(A(a, 'bravo'), [ipb], 'and the others still answer');
  for (const [h, x] of [[h1, a], [h2, b], [h2, c]] as const) t.equal(cl.call('del', h, x, ov).status, 0);
});

t.test('ttl: a host killed without DELs: its names stop answering after the TTL', { skip }, async (t) => {
  const cl = new Cluster(t);
  await cl.startEtcd(['e1']);
  const ov = net(cl, { ttl: 3 });
  const [h1, h2] = [cl.host(), cl.host()];
  const [a, b] = [cl.container('a'), cl.container('b')];
  t.equal(cl.call('add', h1, a, ov, 'K8S_POD_NAME=alpha').status, 0);
  const rb = cl.call('add', h2, b, ov, 'K8S_POD_NAME=bravo');
  const ipb = rb.json.ips[0].address.split('/')[0];
  t.ok(await within(3000, () => A(a, 'bravo').join() === ipb) !== undefined, 'bravo resolves on host 1');
  await new Promise((r) => setTimeout(r, 4000));
  t.same(A(a, 'bravo'), [ipb], 'renewed by host 2\'s resolver: still there after the TTL');
  // host 2 dies: its resolver (and supervisor) killed, no DEL
  for (const pid of spawnSync('pgrep', ['-f', 'dns-hosts --resolver'], { encoding: 'utf8' }).stdout.trim().split('\n').filter(Boolean)) {
    const ns = spawnSync('ip', ['netns', 'identify', pid], { encoding: 'utf8' }).stdout.trim();
    if (ns === h2.name) process.kill(Number(pid), 'SIGKILL');
  }
  const gone = await within(8000, () => dig(nsOf(a), 'bravo').status === 'NXDOMAIN');
  t.ok(gone !== undefined, `bravo stops answering on host 1 after the TTL (${gone} ms)`);
  t.equal(cl.call('del', h1, a, ov).status, 0);
});
