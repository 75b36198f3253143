// dns-hosts: Docker's embedded-DNS walkthrough (networks isolated_nw and local_alias, links,
// network-scoped aliases, round-robin), then forwarding to a dnsmasq of the test's own, the
// resolver's restart after SIGKILL, and 50 concurrent ADDs. Everything in namespaces of the
// test's own, through the libcni client, answers asked with dig from inside the containers.
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { ROOT, cni, haveBuild, makeNetns, netnsStateDirs, sh } from '../helpers/netns.ts';
import { DnsWorld, addresses, dig, pingName, upstream } from '../helpers/dns.ts';

const bridge = (name: string, subnet: string) => ({ type: 'bridge', bridge: name, isGateway: true, ipam: { type: 'host-local', ranges: [[{ subnet }]], routes: [{ dst: '0.0.0.0/0' }] } });
const resolverDir = (host: string): string => netnsStateDirs(host).find((d) => d.includes('/dns-hosts/'))!;
/** Ask 127.0.0.11 for an A record every 50 ms until it answers with one ("answered"), for at most argv[2] s. */
const PROBE = `
import socket, struct, sys, time
name = sys.argv[1].encode()
q = struct.pack('!HHHHHH', 7, 0x100, 1, 0, 0, 0) + bytes([len(name)]) + name + b'\\0' + struct.pack('!HH', 1, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(0.05)
end = time.time() + float(sys.argv[2])
while time.time() < end:
    try:
        s.sendto(q, ('127.0.0.11', 53))
        r = s.recv(512)
        if r[3] & 15 == 0 and struct.unpack('!H', r[6:8])[0] > 0:
            print('answered')
            break
    except OSError:
        time.sleep(0.01)
else:
    print('no answer')
`;
const resolverPid = (host: string): number => Number(readFileSync(join(resolverDir(host), 'resolver.pid'), 'utf8'));

t.test('the Docker embedded-DNS walkthrough', { skip: !haveBuild() && 'npm run build first' }, async (t) => {
  const host = makeNetns(t, 'cnits-dnsh');
  const w = new DnsWorld(t, host.name);
  // the host's resolver (what the host's resolv.conf would name): unknown names go there
  const up = await upstream(t, host.name, w.dir, 'example.test', '198.51.100.1 www.example.test\n');
  w.network('isolated_nw', bridge('cnits-iso', '172.25.0.0/16'), { upstreams: [up.address] });
  w.network('local_alias', bridge('cnits-loc', '172.26.0.0/24'), { upstreams: [up.address] });
  const [c2, c3, c4, c5, c6, c7] = ['container2', 'container3', 'container4', 'container5', 'container6', 'container7'].map((n) => w.container(n)) as [any, any, any, any, any, any];

  const r2 = w.add(c2, 'isolated_nw', 'eth0');
  t.same(r2.dns.nameservers, ['127.0.0.11'], 'the result points the container at its resolver');
  const r3 = w.add(c3, 'isolated_nw', 'eth0');
  const ip3 = r3.ips[0].address.split('/')[0];
  t.same(addresses(c2.ns, 'container3'), [ip3], 'container2 resolves container3');
  t.same(addresses(c2.ns, c3.id.slice(0, 12)), [ip3], 'and its short ID');
  t.same(addresses(c2.ns, 'container3.isolated_nw'), [ip3], 'and name.network');
  t.same(dig(c2.ns, ip3, 'PTR', ['-x']).answers, ['container3.isolated_nw.'], 'PTR gives the name');
  t.ok(pingName(c2.ns, 'container3'), 'container2 pings container3 by name');

  // links: container4 declares container5:c5 before container5 exists
  w.add(c4, 'isolated_nw', 'eth0', { links: ['container5:c5'] });
  t.same(addresses(c4.ns, 'c5'), [], 'c5 has no address while container5 does not exist');
  const ip5 = w.add(c5, 'isolated_nw', 'eth0', { links: ['container4:c4'] }).ips[0].address.split('/')[0];
  t.same(addresses(c4.ns, 'c5'), [ip5], 'the link follows its target once it appears');
  t.ok(pingName(c4.ns, 'container5') && pingName(c4.ns, 'c5'), 'container4 pings container5 by name and link alias');
  t.ok(pingName(c5.ns, 'container4') && pingName(c5.ns, 'c4'), 'container5 pings container4 by name and link alias');
  t.equal(dig(c2.ns, 'c5').status, 'NXDOMAIN', 'a link alias is seen only by the container that declared it');
  t.equal(dig(c3.ns, 'c4').status, 'NXDOMAIN', 'by nobody else');

  const onLocal = w.add(c4, 'local_alias', 'eth1', { links: ['container5:foo'] });
  t.same(onLocal.dns.nameservers, ['127.0.0.12'], "a container's second network gets its own resolver address (a runtime drops a network's nameservers on disconnect)");
  t.same(dig(c4.ns, 'container5', 'A', ['@127.0.0.12']).answers, [ip5], 'it answers the same');
  // network-scoped aliases
  w.add(c6, 'isolated_nw', 'eth0', { aliases: { isolated_nw: ['app'] } });
  const ip6 = w.add(c6, 'local_alias', 'eth1', { aliases: { local_alias: ['scoped-app'] } }).ips[0].address.split('/')[0];
  t.same(addresses(c4.ns, 'scoped-app'), [ip6], 'container4 (on local_alias) resolves scoped-app');
  t.equal(dig(c5.ns, 'scoped-app').status, 'NXDOMAIN', 'container5 (isolated_nw only) does not');
  t.equal(dig(c5.ns, 'container6.local_alias').status, 'NXDOMAIN', 'nor names of a network it is not on');

  const ip5b = w.add(c5, 'local_alias', 'eth1', { links: ['container4:bar'] }).ips[0].address.split('/')[0];
  t.ok(addresses(c4.ns, 'foo').includes(ip5b), 'foo resolves for container4 on local_alias');
  t.ok(pingName(c4.ns, 'foo') && pingName(c5.ns, 'bar'), 'container4 pings foo, container5 pings bar');

  // round-robin: container7 shares the alias app
  const ipApp6 = r2 && addresses(c2.ns, 'app');
  t.equal(ipApp6.length, 1);
  const ip7 = w.add(c7, 'isolated_nw', 'eth0', { aliases: { isolated_nw: ['app'] } }).ips[0].address.split('/')[0];
  const first = addresses(c2.ns, 'app'), second = addresses(c2.ns, 'app');
  t.same([...first].sort(), [ipApp6[0], ip7].sort(), 'both addresses answer');
  t.not(first[0], second[0], 'in rotating order');

  // container5 leaves isolated_nw: c5 stops resolving for container4, foo still reaches container5
  w.del(c5, 'isolated_nw', 'eth0');
  t.same(addresses(c4.ns, 'c5'), [], 'c5 no longer resolves (its target left isolated_nw)');
  t.same(addresses(c4.ns, 'foo'), [ip5b], 'foo still does');
  t.ok(pingName(c4.ns, 'foo'), 'and reaches container5');

  // container6 removed: app answers container7 only
  w.del(c6, 'local_alias', 'eth1');
  w.del(c6, 'isolated_nw', 'eth0');
  t.same(addresses(c2.ns, 'app'), [ip7], 'app answers container7 only, at once (TTL 0, DEL waits for the resolver)');
  t.equal(dig(c2.ns, 'container6').status, 'NXDOMAIN', 'a removed container is never answered');

  // TCP answers the same
  t.same(dig(c2.ns, 'container3', 'A', ['+tcp']).answers, [ip3], 'over TCP too');
  // CHECK asks the resolver from inside the container
  t.equal(w.call('check', c3, 'isolated_nw', 'eth0').status, 0, 'CHECK passes');

  for (const [c, net, ifn] of [[c2, 'isolated_nw', 'eth0'], [c3, 'isolated_nw', 'eth0'], [c4, 'isolated_nw', 'eth0'], [c4, 'local_alias', 'eth1'], [c5, 'local_alias', 'eth1'], [c7, 'isolated_nw', 'eth0']] as const) w.del(c, net, ifn);
  const dir = resolverDir(host.name);
  t.same(sh('ls', [join(dir, 'records')]).trim(), '', 'no record left');
  const log = readFileSync(join(dir, 'resolver.log'), 'utf8');
  t.notOk(/error/i.test(log), 'the resolver logged no error', { log });
  t.ok(spawnSync('sh', ['-c', `sleep 0.3; ! test -e ${join(dir, 'resolver.pid')}`]).status === 0, 'the resolver exits when no record remains');
  t.equal(w.call('del', c2, 'isolated_nw', 'eth0').status, 0, 'DEL again succeeds');
});

t.test('names are DNS names: anything else is refused before any change', { skip: !haveBuild() && 'npm run build first' }, async (t) => {
  const host = makeNetns(t, 'cnits-dnsh');
  const w = new DnsWorld(t, host.name);
  w.network('bad', bridge('cnits-bad', '172.27.0.0/24'));
  const c = w.container('ok-name');
  const r = w.call('add', c, 'bad', 'eth0', { aliases: { bad: ['fine', 'no way!'] } });
  t.equal(r.status, 1);
  t.match(r.stderr, /runtimeConfig\.aliases\.bad\[1\] "no way!" must be a DNS name/);
  const l = w.call('add', c, 'bad', 'eth0', { links: ['a:b:c'] });
  t.match(l.stderr, /runtimeConfig\.links\[0\]/);
  t.same(netnsStateDirs(host.name).filter((d) => d.includes('dns-hosts')).flatMap((d) => sh('ls', [d]).split('\n').filter(Boolean)).filter((n) => n === 'records' || n === 'resolver.pid'), [], 'nothing recorded, no resolver started');
});

t.test('upstream: forwarded over UDP and TCP to a dnsmasq of the test; forward:false gives NXDOMAIN; SIGKILL loses nothing', { skip: !haveBuild() && 'npm run build first' }, async (t) => {
  const host = makeNetns(t, 'cnits-dnsh');
  const w = new DnsWorld(t, host.name);
  // the upstream: dnsmasq inside the host namespace, on loopback, serving a test zone
  const dm = await upstream(t, host.name, w.dir, 'zone.test', '198.51.100.7 www.zone.test\n');
  w.network('fwd', bridge('cnits-fwd', '172.28.0.0/24'), { upstreams: ['127.0.0.53'] });
  w.network('internal', bridge('cnits-int', '172.29.0.0/24'), { upstreams: ['127.0.0.53'], forward: false });
  const a = w.container('a'), b = w.container('b');
  w.add(a, 'fwd', 'eth0');
  w.add(b, 'internal', 'eth0');
  t.same(addresses(a.ns, 'www.zone.test'), ['198.51.100.7'], 'forwarded over UDP');
  t.same(dig(a.ns, 'www.zone.test', 'A', ['+tcp']).answers, ['198.51.100.7'], 'and over TCP');
  t.equal(dig(a.ns, 'nothing.zone.test').status, 'NXDOMAIN', "the upstream's NXDOMAIN passed back");
  t.equal(dig(b.ns, 'www.zone.test').status, 'NXDOMAIN', 'forward: false answers NXDOMAIN');
  t.equal(addresses(b.ns, 'b').length, 1, 'own names still answer on an internal network');

  // the upstream gone: SERVFAIL within the bound, never a hang
  dm.stop();
  await new Promise((r) => setTimeout(r, 100));
  const t0 = Date.now();
  t.equal(dig(a.ns, 'www.zone.test', 'A', ['+time=8']).status, 'SERVFAIL', 'an upstream that does not answer gives SERVFAIL');
  t.ok(Date.now() - t0 < 6000, 'within the bound');

  // SIGKILL: its supervisor starts it again within a second, with every record, no call needed
  const pid = resolverPid(host.name);
  process.kill(pid, 'SIGKILL');
  const t1 = Date.now();
  // asked every 50 ms from inside the container (dig waits at least a second for a reply)
  const probe = spawnSync('ip', ['netns', 'exec', a.ns, 'python3', '-c', PROBE, 'a', '2'], { encoding: 'utf8' });
  const took = Date.now() - t1;
  t.ok(probe.stdout.includes('answered') && took < 1000, `a container resolves again ${took} ms after the resolver was killed, with no CNI call (${probe.stdout.trim()})`);
  t.not(resolverPid(host.name), pid, 'a new resolver');
  t.equal(addresses(b.ns, 'b').length, 1, 'with the records of every network');
  // the supervisor killed too: the next CHECK (or ADD) brings both back
  const dir = resolverDir(host.name);
  process.kill(Number(readFileSync(join(dir, 'supervisor.pid'), 'utf8')), 'SIGKILL');
  process.kill(resolverPid(host.name), 'SIGKILL');
  await new Promise((r) => setTimeout(r, 300));
  t.match(dig(a.ns, 'a').status, /no reply/, 'both gone: nothing answers');
  // (from a caller whose descriptor limit is low: the resolver's own is raised)
  t.equal(w.call('check', a, 'fwd', 'eth0', {}, ['prlimit', '--nofile=512']).status, 0, 'CHECK restarts it');
  t.equal(addresses(b.ns, 'b').length, 1, 'with the records of every network');
  const nofile = /^Max open files\s+(\d+)\s+(\d+|unlimited)/m.exec(readFileSync(`/proc/${resolverPid(host.name)}/limits`, 'utf8'))!;
  const hard = nofile[2] === 'unlimited' ? Infinity : Number(nofile[2]);
  t.equal(Number(nofile[1]), Math.min(hard, 16384), `the resolver may open ${nofile[1]} descriptors, though its caller had 512 (hard limit ${nofile[2]})`);
  process.kill(Number(readFileSync(join(dir, 'supervisor.pid'), 'utf8')), 'SIGKILL');
  process.kill(resolverPid(host.name), 'SIGKILL');
  await new Promise((r) => setTimeout(r, 300));
  const c = w.container('c');
  w.add(c, 'fwd', 'eth0');
  t.same(addresses(c.ns, 'a').length, 1, 'and ADD restarts it too');
  // a cgroup of its own: stopping whatever made the first ADD stops nothing of DNS
  const cgroupOf = (pid: number | 'self') => readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n').filter((l) => l && !/^\d+:(cpuset|name=)/.test(l)).sort().join('\n');
  t.not(cgroupOf(resolverPid(host.name)), cgroupOf('self'), "the resolver's cgroups are not the caller's");
  t.match(cgroupOf(resolverPid(host.name)), /cni-ts-dns-/, 'they are its own');
  for (const [x, n] of [[a, 'fwd'], [b, 'internal'], [c, 'fwd']] as const) w.del(x, n, 'eth0');
});

t.test('50 containers ADDed concurrently on one network: every name resolves, none twice', { skip: !haveBuild() && 'npm run build first' }, async (t) => {
  const host = makeNetns(t, 'cnits-dnsh');
  const w = new DnsWorld(t, host.name);
  w.network('many', bridge('cnits-many', '172.30.0.0/24'));
  const cs = Array.from({ length: 50 }, (_, i) => w.container(`m${i}`));
  const run = (c: typeof cs[number]) => new Promise<number>((resolve) => {
    const p = spawn('ip', ['netns', 'exec', host.name, join(process.cwd(), 'build/cnictl'), 'add', 'many', c.path], {
      env: { PATH: process.env.PATH!, NETCONFPATH: w.dir, CNI_PATH: join(process.cwd(), 'build/bin'), CNI_CACHE_DIR: join(w.dir, 'cache'), CNI_CONTAINERID: c.id, CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAME=${c.name}` },
      stdio: 'ignore',
    });
    p.on('close', (s) => resolve(s ?? 1));
  });
  const statuses = await Promise.all(cs.map(run));
  t.same(statuses.filter((s) => s !== 0), [], 'every ADD succeeded');
  const seen = new Set<string>();
  let ok = 0;
  for (const c of cs) {
    const a = addresses(cs[0]!.ns, c.name);
    if (a.length === 1 && !seen.has(a[0]!)) ok++;
    seen.add(a[0] ?? '');
  }
  t.equal(ok, 50, 'each name answers exactly one address of its own');
  for (const c of cs) w.del(c, 'many', 'eth0');
});

t.test('macvlan containers resolve each other the same way (the listener is in the container)', { skip: !haveBuild() && 'npm run build first' }, async (t) => {
  const host = makeNetns(t, 'cnits-dnsh');
  sh('ip', ['-n', host.name, 'link', 'add', 'parent0', 'type', 'veth', 'peer', 'name', 'wire0']);
  for (const l of ['parent0', 'wire0']) sh('ip', ['-n', host.name, 'link', 'set', l, 'up']);
  const w = new DnsWorld(t, host.name);
  w.network('mvnet', { type: 'macvlan', master: 'parent0', mode: 'bridge', ipam: { type: 'host-local', ranges: [[{ subnet: '10.81.0.0/24' }]] } }, { forward: false });
  const a = w.container('mv-a'), b = w.container('mv-b');
  w.add(a, 'mvnet', 'eth0', { aliases: ['svc'] });
  const ipb = w.add(b, 'mvnet', 'eth0').ips[0].address.split('/')[0];
  t.same(addresses(a.ns, 'mv-b'), [ipb], 'a resolves b');
  t.equal(addresses(b.ns, 'svc').length, 1, 'b resolves the alias a was given as a list (the spec form)');
  t.ok(pingName(a.ns, 'mv-b'), 'and reaches it by name');
  w.del(a, 'mvnet', 'eth0');
  w.del(b, 'mvnet', 'eth0');
});

t.test('DEL without netns or prevResult, and GC of attachments that are gone', { skip: !haveBuild() && 'npm run build first' }, async (t) => {
  const host = makeNetns(t, 'cnits-dnsh');
  const w = new DnsWorld(t, host.name);
  w.network('gcnet', bridge('cnits-gc', '172.31.0.0/24'), { forward: false });
  const [a, b, c] = ['gc-a', 'gc-b', 'gc-c'].map((n) => w.container(n)) as [any, any, any];
  for (const x of [a, b, c]) w.add(x, 'gcnet', 'eth0');
  const conf = (extra: Record<string, unknown>) => ({ cniVersion: '1.1.0', name: 'gcnet', type: 'dns-hosts', ...extra });
  // DEL with no netns and no prevResult (a runtime's second DEL after the sandbox is gone)
  const del = cni('dns-hosts', { host: host.name, command: 'DEL', config: conf({}), containerId: a.id, ifname: 'eth0', netns: '' });
  t.equal(del.status, 0, del.stdout);
  t.equal(dig(b.ns, 'gc-a').status, 'NXDOMAIN', 'its names are gone at once');
  const gc = cni('dns-hosts', { host: host.name, command: 'GC', config: conf({ 'cni.dev/valid-attachments': [{ containerID: b.id, ifname: 'eth0' }] }) });
  t.equal(gc.status, 0, gc.stdout);
  t.equal(dig(b.ns, 'gc-c').status, 'NXDOMAIN', 'GC dropped the attachment not listed');
  t.equal(addresses(b.ns, 'gc-b').length, 1, 'and kept the one listed');
  const status = cni('dns-hosts', { host: host.name, command: 'STATUS', config: conf({}) });
  t.equal(status.status, 0, 'STATUS');
  w.del(b, 'gcnet', 'eth0');
  w.del(c, 'gcnet', 'eth0');
});

/** utime + stime of a process, all its threads, in clock ticks. */
const cpuTicks = (pid: number): number => { const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' '); return Number(f[11]) + Number(f[12]); };

// A response (QR=1) is never answered: a container with CAP_NET_RAW (Docker's and containerd's
// default) could otherwise send one datagram from 127.0.0.11:53 to 127.0.0.11:53 and have the
// resolver answer its own answers forever.
const SEND = `
import socket, struct, sys
dns = bytes.fromhex(sys.argv[2])
if sys.argv[1] == 'raw':
    udp = struct.pack('!HHHH', 53, 53, 8 + len(dns), 0) + dns
    ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0, socket.inet_aton('127.0.0.11'), socket.inet_aton('127.0.0.11'))
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    for _ in range(int(sys.argv[3])): s.sendto(ip + udp, ('127.0.0.11', 0))
else:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(1.0)
    s.sendto(dns, ('127.0.0.11', 53))
    try: print('reply', s.recv(4096).hex())
    except socket.timeout: print('no reply')
`;

t.test('responses get no reply: a QR=1 datagram, and a spoofed one from the resolver to itself', { skip: !haveBuild() && 'npm run build first' }, async (t) => {
  const host = makeNetns(t, 'cnits-dnsq');
  const w = new DnsWorld(t, host.name);
  w.network('qr', bridge('cnits-qr', '172.30.7.0/24'), { forward: false });
  const a = w.container('a');
  w.add(a, 'qr', 'eth0');
  t.same(addresses(a.ns, 'a').length, 1, 'the resolver answers queries');
  // a response to "a", as the resolver itself would send it: header QR|AA|RD, RA; one question
  const response = '1234' + '8580' + '0001' + '0000' + '0000' + '0000' + '0161' + '00' + '0001' + '0001';
  const query = response.replace(/^12348580/, '12340100');
  const send = (how: string, hex: string, n = '1') => spawnSync('ip', ['netns', 'exec', a.ns, 'python3', '-c', SEND, how, hex, n], { encoding: 'utf8' });
  t.match(send('udp', query).stdout, /^reply 1234/, 'the same message as a query (QR=0) is answered');
  t.equal(send('udp', response).stdout.trim(), 'no reply', 'as a response (QR=1) it is not');
  const pid = resolverPid(host.name);
  const before = cpuTicks(pid);
  const raw = send('raw', response, '20');
  t.equal(raw.status, 0, `20 spoofed datagrams 127.0.0.11:53 -> 127.0.0.11:53 sent: ${raw.stderr}`);
  await new Promise((r) => setTimeout(r, 1500));
  const used = cpuTicks(pid) - before;
  t.ok(used < 30, `the resolver stays idle (${used} ticks of CPU in 1.5 s; a loop takes ~100 a core)`);
  t.same(addresses(a.ns, 'a').length, 1, 'and still answers');
  w.del(a, 'qr', 'eth0');
});

// Runtimes call plugins from mount namespaces of their own, and mount containers' namespaces
// where they like: the resolver, born in whichever mount namespace the first ADD had, gets each
// container's namespace from the calling process's descriptor (through /proc), or through PID
// 1's view of the file system, never only by a path it may not see.
t.test("the first ADD from a private mount namespace; later containers mounted where the resolver cannot see them: all resolve", { skip: !haveBuild() && 'npm run build first' }, async (t) => {
  const host = makeNetns(t, 'cnits-dnsm');
  const w = new DnsWorld(t, host.name);
  w.network('mnt', bridge('cnits-mnt', '172.30.11.0/24'), { forward: false });
  const p1 = `cnits-dnsp1-${process.pid}`, p3 = `cnits-dnsp3-${process.pid}`;
  const go = join(w.dir, 'go');
  const env = `PATH=${process.env.PATH} NETCONFPATH=${w.dir} CNI_PATH=${join(ROOT, 'build/bin')} CNI_CACHE_DIR=${join(w.dir, 'cache')}`;
  const cnictl = (op: string, ns: string, name: string) => `env ${env} CNI_CONTAINERID=${name}-${process.pid} CNI_IFNAME=eth0 CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAME=${name}" ip netns exec ${host.name} ${join(ROOT, 'build/cnictl')} ${op} mnt /run/netns/${ns} >/dev/null`;
  const ask = (ns: string, name: string) => `echo "${ns} ${name} $(ip netns exec ${ns} dig +short +tries=1 +time=2 @127.0.0.11 ${name} | head -1)"`;
  // in a mount namespace of its own, private: its netns mounts are seen nowhere else
  const script = [
    'set -e',
    `ip netns add ${p1}`, `ip -n ${p1} link set lo up`, cnictl('add', p1, 'private1'), 'echo added1',
    `while [ ! -e ${go}1 ]; do sleep 0.05; done`,
    `ip netns add ${p3}`, `ip -n ${p3} link set lo up`, cnictl('add', p3, 'private3'),
    ask(p3, 'hostside2'), ask(p3, 'private1'), ask(p1, 'private3'), ask(p1, 'hostside2'), 'echo asked',
    `while [ ! -e ${go}2 ]; do sleep 0.05; done`,
    cnictl('del', p1, 'private1'), cnictl('del', p3, 'private3'), `ip netns del ${p1}`, `ip netns del ${p3}`, 'echo removed',
  ].join('\n');
  const child = spawn('unshare', ['--mount', '--propagation', 'private', 'bash', '-c', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => { child.kill('SIGKILL'); spawnSync('rm', ['-f', `/run/netns/${p1}`, `/run/netns/${p3}`]); });
  let out = '', err = '';
  child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
  const until = async (word: string) => { for (let i = 0; i < 400 && !out.includes(word) && child.exitCode === null; i++) await new Promise((r) => setTimeout(r, 50)); };
  await until('added1');
  t.match(out, /added1/, `the first ADD, from the private mount namespace: ${err}`);
  // a container of the host's mount namespace, which the resolver's does not see
  const c2 = w.container('hostside2');
  w.add(c2, 'mnt', 'eth0');
  t.equal(addresses(c2.ns, 'hostside2').length, 1, 'a container mounted in the host mount namespace resolves itself');
  t.equal(addresses(c2.ns, 'private1').length, 1, 'and the first container');
  spawnSync('touch', [`${go}1`]);
  await until('asked');
  const answers = out.split('\n').filter((l) => l.startsWith('cnits-dnsp'));
  t.equal(answers.length, 4, `four questions asked: ${err}`);
  for (const l of answers) t.match(l, /^\S+ \S+ 172\.30\.11\.\d+$/, `answered: ${l}`);
  spawnSync('touch', [`${go}2`]);
  await until('removed');
  t.match(out, /removed/, 'the private containers leave');
  w.del(c2, 'mnt', 'eth0');
});
