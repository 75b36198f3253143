// portmap and tuning chained after bridge: published ports reached from outside, from the host
// (127.0.0.1 included) and from the container itself; tuning applied and restored.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { Chain, type Conflist } from '../helpers/chain.ts';
import { ipJson, makeNetns, sh, tempDir } from '../helpers/netns.ts';
import { ask, hostWithOutside, serve } from '../helpers/topology.ts';

const dir = (t: Test): string => tempDir(t, 'cnits-pm-');

const bridgeConf = (br: string, subnet: string, d: string) => ({
  type: 'bridge', bridge: br, isGateway: true, isDefaultGateway: true, ipMasq: true, hairpinMode: true,
  ipam: { type: 'host-local', dataDir: d, ranges: [[{ subnet }]] },
});

t.test('portmap: TCP and UDP from outside, from the host (and 127.0.0.1), from the container itself', async (t) => {
  const { host, outside } = hostWithOutside(t);
  const d = dir(t);
  const list: Conflist = { cniVersion: '1.0.0', name: 'pm', plugins: [bridgeConf('cnits-pm', '10.70.0.0/24', d), { type: 'portmap', capabilities: { portMappings: true } }] };
  const ctr = makeNetns(t, 'cnits-ctr');
  const chain = new Chain(list, { host: host.name, containerId: 'web', netns: ctr.path, runtimeConfig: { portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }, { hostPort: 5353, containerPort: 53, protocol: 'udp' }] } });
  const add = chain.add();
  t.equal(add.status, 0, add.stdout);
  await serve(t, ctr.name, 'tcp', 80);
  await serve(t, ctr.name, 'udp', 53);
  t.equal(ask(outside.name, 'tcp', '192.0.2.1', 8080), '192.0.2.2', 'TCP from outside keeps the client address');
  t.equal(ask(outside.name, 'udp', '192.0.2.1', 5353), '192.0.2.2', 'UDP from outside');
  t.ok(ask(host.name, 'tcp', '192.0.2.1', 8080), 'from the host to its own address');
  t.ok(ask(host.name, 'tcp', '127.0.0.1', 8080), 'from the host via 127.0.0.1');
  t.ok(ask(ctr.name, 'tcp', '192.0.2.1', 8080), 'hairpin: the container reaches itself through the host port');
  t.same(chain.check().map((c) => c.status), [0, 0], 'CHECK');
  const listed = sh('ip', ['netns', 'exec', host.name, 'nft', 'list', 'map', 'inet', 'cni-ts', 'pm4']);
  t.match(listed, /tcp \. 8080 comment "net=pm id=web" : 10\.70\.0\.2 \. 80/);
  // a UDP conntrack entry exists now; DEL must flush it
  const ctBefore = sh('ip', ['netns', 'exec', host.name, 'cat', '/proc/net/nf_conntrack']).split('\n').filter((l) => l.includes('udp') && l.includes('dport=5353'));
  t.ok(ctBefore.length > 0, 'UDP conntrack entry present');
  t.same(chain.del().map((x) => x.status), [0, 0]);
  t.notMatch(sh('ip', ['netns', 'exec', host.name, 'nft', 'list', 'ruleset']), /id=web"/, 'mappings removed');
  const ctAfter = sh('ip', ['netns', 'exec', host.name, 'cat', '/proc/net/nf_conntrack']).split('\n').filter((l) => l.includes('udp') && l.includes('dport=5353'));
  t.same(ctAfter, [], 'UDP conntrack entries flushed');
  t.equal(ask(outside.name, 'tcp', '192.0.2.1', 8080), undefined, 'port closed after DEL');
});

t.test('portmap: a host port taken by another container is refused, and the ADD rolls back', async (t) => {
  const { host } = hostWithOutside(t);
  const d = dir(t);
  const list: Conflist = { cniVersion: '1.0.0', name: 'pm2', plugins: [bridgeConf('cnits-pm2', '10.71.0.0/24', d), { type: 'portmap', capabilities: { portMappings: true } }] };
  const rc = { portMappings: [{ hostPort: 9090, containerPort: 80, protocol: 'tcp' }] };
  const a = new Chain(list, { host: host.name, containerId: 'a', netns: makeNetns(t, 'cnits-ctr').path, runtimeConfig: rc });
  t.equal(a.add().status, 0);
  const b = new Chain(list, { host: host.name, containerId: 'b', netns: makeNetns(t, 'cnits-ctr').path, runtimeConfig: rc });
  const r = b.add();
  t.equal(r.status, 1);
  t.match(r.json.msg, /already published by net=pm2 id=a/);
  t.same(readdirSync(join(d, 'pm2')).filter((f) => f.startsWith('10.')), ['10.71.0.2'], 'b\'s lease rolled back by the chain\'s DEL');
});

t.test("portmap: a network's hostIP is the host address of every mapping that names none", async (t) => {
  const { host, outside } = hostWithOutside(t);
  // a second address of the host: a mapping bound to the first is not reached there
  sh('ip', ['-n', host.name, 'addr', 'add', '192.0.2.3/24', 'dev', 'uplink']);
  const d = dir(t);
  const list: Conflist = { cniVersion: '1.0.0', name: 'pmh', plugins: [bridgeConf('cnits-pmh', '10.72.0.0/24', d), { type: 'portmap', hostIP: '192.0.2.1', capabilities: { portMappings: true } }] };
  const ctr = makeNetns(t, 'cnits-ctr');
  // containerd sends "HostIP": "" for none; one mapping names its own address
  const rc = { portMappings: [{ HostPort: 8085, ContainerPort: 80, Protocol: 'tcp', HostIP: '' }, { hostPort: 8086, containerPort: 80, protocol: 'tcp', hostIP: '0.0.0.0' }] };
  const chain = new Chain(list, { host: host.name, containerId: 'hip', netns: ctr.path, runtimeConfig: rc });
  const add = chain.add();
  t.equal(add.status, 0, add.stdout);
  await serve(t, ctr.name, 'tcp', 80);
  t.equal(ask(outside.name, 'tcp', '192.0.2.1', 8085), '192.0.2.2', 'a mapping without a host address is reached at the network\'s hostIP');
  t.equal(ask(outside.name, 'tcp', '192.0.2.3', 8085), undefined, 'and at no other address of the host');
  t.equal(ask(outside.name, 'tcp', '192.0.2.3', 8086), '192.0.2.2', 'a mapping that names its own (every address) keeps it');
  t.match(sh('ip', ['netns', 'exec', host.name, 'nft', 'list', 'map', 'inet', 'cni-ts', 'pm4ip']), /192\.0\.2\.1 \. tcp \. 8085 comment "net=pmh id=hip" : 10\.72\.0\.2 \. 80/, 'the element names the address');
  t.same(chain.check().map((c) => c.status), [0, 0], 'CHECK');
  t.same(chain.del().map((x) => x.status), [0, 0]);
  t.notMatch(sh('ip', ['netns', 'exec', host.name, 'nft', 'list', 'ruleset']), /id=hip"/, 'mappings removed');
  const bad = new Chain({ ...list, plugins: [list.plugins[0]!, { type: 'portmap', hostIP: 'not-an-ip', capabilities: { portMappings: true } }] }, { host: host.name, containerId: 'hip2', netns: makeNetns(t, 'cnits-ctr').path, runtimeConfig: rc }).add();
  t.equal(bad.status, 1, 'an invalid hostIP is refused');
  t.match(bad.json.msg, /hostIP/, 'naming the field');
});

t.test('tuning: sysctl, MTU, MAC and promisc applied, then restored on DEL', async (t) => {
  const { host } = hostWithOutside(t);
  const d = dir(t);
  const list: Conflist = { cniVersion: '1.0.0', name: 'tn', plugins: [bridgeConf('cnits-tn', '10.72.0.0/24', d), {
    type: 'tuning', dataDir: join(d, 'tuning'), mtu: 1280, promisc: true, mac: '02:42:ac:11:00:09', txQLen: 333,
    sysctl: { 'net.ipv4.conf.IFNAME.forwarding': '1', 'net.ipv4.tcp_syncookies': '0' },
  }] };
  const ctr = makeNetns(t, 'cnits-ctr');
  const before = ipJson(ctr.name, 'link', 'show');
  void before;
  const chain = new Chain(list, { host: host.name, containerId: 'tn', netns: ctr.path });
  const add = chain.add();
  t.equal(add.status, 0, add.stdout);
  const sysctl = (k: string) => sh('ip', ['netns', 'exec', ctr.name, 'cat', `/proc/sys/${k}`]).trim();
  const eth0 = () => ipJson(ctr.name, '-d', 'link', 'show', 'eth0')[0];
  t.equal(sysctl('net/ipv4/conf/eth0/forwarding'), '1');
  t.equal(sysctl('net/ipv4/tcp_syncookies'), '0');
  t.equal(eth0().mtu, 1280);
  t.equal(eth0().address, '02:42:ac:11:00:09');
  t.equal(eth0().txqlen, 333);
  t.ok(eth0().flags.includes('PROMISC'));
  t.equal(add.json.interfaces[2].mac, '02:42:ac:11:00:09', 'the result reports the new MAC');
  t.same(chain.check().map((c) => c.status), [0, 0]);
  // DEL of tuning alone (the chain's last plugin first) restores the originals
  const del = new Chain({ ...list, plugins: [list.plugins[1]!] }, { host: host.name, containerId: 'tn', netns: ctr.path });
  del.cached = chain.cached;
  t.same(del.del().map((x) => x.status), [0]);
  t.equal(sysctl('net/ipv4/conf/eth0/forwarding'), '0', 'sysctl restored');
  t.equal(sysctl('net/ipv4/tcp_syncookies'), '1', 'sysctl restored');
  t.not(eth0().mtu, 1280, 'MTU restored');
  t.not(eth0().address, '02:42:ac:11:00:09', 'MAC restored');
  t.notOk(eth0().flags.includes('PROMISC'), 'promisc restored');
  t.same(readdirSync(join(d, 'tuning')).filter((f) => f !== '.tmp'), [], 'backup removed');
});

t.test('tuning with nothing to set (nerdctl ends its chain so): the result passes through, nothing saved', async (t) => {
  const { host } = hostWithOutside(t);
  const d = dir(t);
  const list: Conflist = { cniVersion: '1.0.0', name: 'tb', plugins: [bridgeConf('cnits-tb', '10.73.0.0/24', d), { type: 'tuning', dataDir: join(d, 'tuning') }] };
  const ctr = makeNetns(t, 'cnits-ctr');
  const chain = new Chain(list, { host: host.name, containerId: 'tb', netns: ctr.path });
  const add = chain.add();
  t.equal(add.status, 0, add.stdout);
  t.equal(add.json.interfaces[2].mac, ipJson(ctr.name, 'link', 'show', 'eth0')[0].address, "bridge's result passed through (the container's MAC)");
  t.match(add.json.ips[0].address, /^10\.73\.0\.\d+\/24$/);
  t.notOk(existsSync(join(d, 'tuning')), 'no saved state: nothing was changed');
  t.same(chain.check().map((c) => c.status), [0, 0]);
  t.same(chain.del().map((x) => x.status), [0, 0]);
});

t.test('tuning refuses sysctls outside net.', async (t) => {
  const { host } = hostWithOutside(t);
  const d = dir(t);
  const list: Conflist = { cniVersion: '1.0.0', name: 'tn2', plugins: [bridgeConf('cnits-tn2', '10.73.0.0/24', d), { type: 'tuning', sysctl: { 'kernel.panic': '1' } }] };
  const ctr = makeNetns(t, 'cnits-ctr');
  const r = new Chain(list, { host: host.name, containerId: 'x', netns: ctr.path }).add();
  t.equal(r.json.code, 7);
  t.match(r.json.msg, /kernel\.panic/);
  t.same(ipJson(ctr.name, 'link', 'show').filter((l: any) => l.ifname !== 'lo'), [], 'bridge\'s veth rolled back by the chain');
});
