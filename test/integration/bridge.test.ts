// bridge (+ firewall) through the built executables: connectivity, Docker's isolation between
// networks and --icc=false, internal networks, masquerade, DEL leaving nothing behind.
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { Chain, type Conflist } from '../helpers/chain.ts';
import { ipJson, ipIn, makeNetns, sh } from '../helpers/netns.ts';
import { ask, hostWithOutside, ping, serve } from '../helpers/topology.ts';

function dataDir(t: Test): string {
  const d = mkdtempSync(join(tmpdir(), 'cnits-br-'));
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

function network(name: string, br: string, subnet: string, dir: string, extra: Record<string, unknown> = {}, firewall?: string): Conflist {
  const plugins: Record<string, any>[] = [{
    type: 'bridge', bridge: br, isGateway: true, isDefaultGateway: true, ipMasq: true, hairpinMode: true,
    ipam: { type: 'host-local', dataDir: dir, ranges: [[{ subnet }]] }, ...extra,
  }];
  if (firewall) plugins.push({ type: 'firewall', ingressPolicy: firewall });
  return { cniVersion: '1.0.0', name, plugins };
}

function attach(t: Test, host: string, list: Conflist, id: string) {
  const ctr = makeNetns(t, 'cnits-ctr');
  const chain = new Chain(list, { host, containerId: id, netns: ctr.path });
  const r = chain.add();
  t.equal(r.status, 0, `ADD ${id}: ${r.stdout}`);
  const ip = (r.json?.ips?.[0]?.address ?? '').split('/')[0] as string;
  return { ctr, chain, ip, result: r.json };
}

const nftText = (host: string): string => sh('ip', ['netns', 'exec', host, 'nft', 'list', 'ruleset']);

t.test('two containers reach each other and the gateway; state is real', async (t) => {
  const { host } = hostWithOutside(t);
  const list = network('net1', 'cnits-br1', '10.60.0.0/24', dataDir(t), { mtu: 1400 });
  const a = attach(t, host.name, list, 'a');
  const b = attach(t, host.name, list, 'b');
  t.ok(ping(a.ctr.name, b.ip), 'a -> b');
  t.ok(ping(a.ctr.name, '10.60.0.1'), 'a -> gateway');
  // kernel state
  const eth0 = ipJson(a.ctr.name, '-d', 'addr', 'show', 'eth0')[0];
  t.equal(eth0.mtu, 1400);
  t.equal(eth0.linkinfo.info_kind, 'veth');
  t.ok(eth0.addr_info.some((x: any) => x.local === a.ip && x.prefixlen === 24));
  t.ok(ipJson(a.ctr.name, 'route', 'show').some((r: any) => r.dst === 'default' && r.gateway === '10.60.0.1'));
  const hostVeth = a.result.interfaces[1].name;
  const port = ipJson(host.name, '-d', 'link', 'show', hostVeth)[0];
  t.equal(port.master, 'cnits-br1');
  t.equal(port.linkinfo.info_slave_data.hairpin, true, 'hairpin on');
  // one TX and one RX queue on each end (not one per CPU, cut down under RTNL)
  const ctrVeth = ipJson(a.ctr.name, '-d', 'link', 'show', 'eth0')[0];
  t.same([port.num_tx_queues, port.num_rx_queues, ctrVeth.num_tx_queues, ctrVeth.num_rx_queues], [1, 1, 1, 1], 'one queue each way on both ends');
  // gratuitous ARP when the link comes up: set on the container's eth0 only
  const conf = (ns: string, k: string) => sh('ip', ['netns', 'exec', ns, 'cat', `/proc/sys/net/ipv4/conf/${k}/arp_notify`]).trim();
  t.same([conf(a.ctr.name, 'eth0'), conf(a.ctr.name, 'all'), conf(a.ctr.name, 'default'), conf(host.name, hostVeth)], ['1', '0', '0', '0'], 'arp_notify on eth0, not all/default, not the host end');
  t.ok(ipJson(host.name, 'addr', 'show', 'cnits-br1')[0].addr_info.some((x: any) => x.local === '10.60.0.1'));
  t.equal(sh('ip', ['netns', 'exec', host.name, 'cat', '/proc/sys/net/ipv4/ip_forward']).trim(), '1');
  t.match(nftText(host.name), new RegExp(`${a.ip.replace(/\./g, '\\.')} comment "net=net1 id=a"`));
  t.same(a.chain.check().map((c) => c.status), [0], 'CHECK passes');
  ipIn(a.ctr.name, 'addr', 'del', `${a.ip}/24`, 'dev', 'eth0');
  const bad = a.chain.check()[0]!;
  t.equal(bad.status, 1, 'CHECK fails once the address is gone');
  t.match(bad.json.msg, a.ip);
});

t.test('ipMasq: the outside sees the host address; DEL removes everything', async (t) => {
  const { host, outside } = hostWithOutside(t);
  const dir = dataDir(t);
  const list = network('net2', 'cnits-br2', '10.61.0.0/24', dir);
  const a = attach(t, host.name, list, 'a');
  await serve(t, outside.name, 'tcp', 7000);
  t.equal(ask(a.ctr.name, 'tcp', '192.0.2.2', 7000), '192.0.2.1', 'source is the host address');
  const hostVeth = a.result.interfaces[1].name;
  const dels = a.chain.del();
  t.same(dels.map((d) => d.status), [0]);
  t.notOk(ipJson(host.name, 'link', 'show').some((l: any) => l.ifname === hostVeth), 'host veth gone');
  t.notOk(ipJson(a.ctr.name, 'link', 'show').some((l: any) => l.ifname === 'eth0'), 'container veth gone');
  t.notMatch(nftText(host.name), /id=a"/, 'no tagged element left');
  t.same(readdirSync(join(dir, 'net2')).sort(), ['last_reserved_ip.0', 'lock'], 'no IPAM lease left');
  t.ok(existsSync(`/sys/class/net`) && ipJson(host.name, 'link', 'show', 'cnits-br2').length === 1, 'the bridge stays');
  t.same(a.chain.del().map((d) => d.status), [0], 'DEL again');
});

t.test('DEL with an empty netns still removes rules, veth and lease', async (t) => {
  const { host } = hostWithOutside(t);
  const dir = dataDir(t);
  const a = attach(t, host.name, network('net3', 'cnits-br3', '10.62.0.0/24', dir), 'a');
  const hostVeth = a.result.interfaces[1].name;
  t.same(a.chain.del('').map((d) => d.status), [0]);
  t.notMatch(nftText(host.name), /id=a"/);
  t.notOk(ipJson(host.name, 'link', 'show').some((l: any) => l.ifname === hostVeth));
  t.same(readdirSync(join(dir, 'net3')).sort(), ['last_reserved_ip.0', 'lock']);
});

t.test('isolation between networks: same-bridge blocks, open does not', async (t) => {
  for (const policy of ['same-bridge', 'open']) {
    const { host } = hostWithOutside(t);
    const dir = dataDir(t);
    const n1 = network('iso1', 'cnits-iso1', '10.63.0.0/24', dir, {}, policy);
    const n2 = network('iso2', 'cnits-iso2', '10.64.0.0/24', dir, {}, policy);
    const a = attach(t, host.name, n1, 'a');
    const b = attach(t, host.name, n1, 'b');
    const c = attach(t, host.name, n2, 'c');
    t.ok(ping(a.ctr.name, b.ip), `${policy}: same network reachable`);
    t.equal(ping(c.ctr.name, a.ip), policy === 'open', `${policy}: other network ${policy === 'open' ? 'reachable' : 'blocked'}`);
    t.ok(ping(c.ctr.name, '10.64.0.1'), `${policy}: own gateway reachable`);
    if (policy === 'same-bridge') {
      for (const x of [a, b]) t.same(x.chain.del().map((d) => d.status), [0, 0]);
      t.notMatch(nftText(host.name), /"cnits-iso1"/, 'isolation of a bridge goes with its last container');
      t.match(nftText(host.name), /"cnits-iso2"/, 'the other bridge keeps its isolation');
    }
  }
});

t.test('isolated (--icc=false): same-bridge traffic dropped, gateway reachable', async (t) => {
  const { host } = hostWithOutside(t);
  const list = network('icc', 'cnits-icc', '10.65.0.0/24', dataDir(t), {}, 'isolated');
  const a = attach(t, host.name, list, 'a');
  const b = attach(t, host.name, list, 'b');
  t.notOk(ping(a.ctr.name, b.ip), 'container to container dropped');
  t.ok(ping(a.ctr.name, '10.65.0.1'), 'gateway reachable');
  t.match(sh('ip', ['netns', 'exec', host.name, 'nft', 'list', 'set', 'bridge', 'cni-ts', 'icc_ports']), a.result.interfaces[1].name);
});

t.test('internal network: no gateway, no masquerade, no default route: nothing leaves the bridge', async (t) => {
  const { host, outside } = hostWithOutside(t);
  const list: Conflist = { cniVersion: '1.0.0', name: 'internal', plugins: [{ type: 'bridge', bridge: 'cnits-int', isGateway: false, ipMasq: false, ipam: { type: 'host-local', dataDir: dataDir(t), ranges: [[{ subnet: '10.66.0.0/24' }]] } }] };
  const a = attach(t, host.name, list, 'a');
  const b = attach(t, host.name, list, 'b');
  t.ok(ping(a.ctr.name, b.ip), 'containers on the internal network reach each other');
  t.notOk(ipJson(a.ctr.name, 'route', 'show').some((r: any) => r.dst === 'default'), 'no default route');
  t.same(ipJson(host.name, 'addr', 'show', 'cnits-int')[0].addr_info.filter((x: any) => x.family === 'inet'), [], 'bridge has no address');
  t.notOk(ping(a.ctr.name, '192.0.2.2'), 'outside unreachable');
  void outside;
});

t.test('dual stack with IPv6 usable at once', async (t) => {
  const { host } = hostWithOutside(t);
  const list: Conflist = { cniVersion: '1.1.0', name: 'ds', plugins: [{ type: 'bridge', bridge: 'cnits-ds', isGateway: true, isDefaultGateway: true, ipMasq: true, ipam: { type: 'host-local', dataDir: dataDir(t), ranges: [[{ subnet: '10.67.0.0/24' }], [{ subnet: 'fd67::/64' }]] } }] };
  const a = attach(t, host.name, list, 'a');
  const b = attach(t, host.name, list, 'b');
  const b6 = b.result.ips[1].address.split('/')[0];
  t.ok(ping(a.ctr.name, b6), 'IPv6 between containers right after ADD');
  t.ok(ping(a.ctr.name, 'fd67::1'), 'IPv6 gateway');
  t.ok(ipJson(a.ctr.name, '-6', 'route', 'show').some((r: any) => r.dst === 'default' && r.gateway === 'fd67::1'));
  t.equal(sh('ip', ['netns', 'exec', host.name, 'cat', '/proc/sys/net/ipv6/conf/all/forwarding']).trim(), '1');
});

t.test('20 ADDs racing on a new bridge', async (t) => {
  const { host } = hostWithOutside(t);
  const dir = dataDir(t);
  const list = network('race', 'cnits-race', '10.68.0.0/24', dir);
  const ctrs = Array.from({ length: 20 }, () => makeNetns(t, 'cnits-ctr'));
  const { spawn } = await import('node:child_process');
  const { pluginConf } = await import('../helpers/chain.ts');
  const { BIN } = await import('../helpers/netns.ts');
  const runs = ctrs.map((c, i) => new Promise<number>((res) => {
    const p = spawn('ip', ['netns', 'exec', host.name, join(BIN, 'bridge')], { env: { PATH: process.env.PATH!, CNI_COMMAND: 'ADD', CNI_CONTAINERID: `r${i}`, CNI_NETNS: c.path, CNI_IFNAME: 'eth0', CNI_PATH: BIN }, stdio: ['pipe', 'ignore', 'ignore'] });
    p.stdin.end(JSON.stringify(pluginConf(list, list.plugins[0]!)));
    p.on('close', (code) => res(code ?? -1));
  }));
  t.same(await Promise.all(runs), new Array(20).fill(0), 'every ADD succeeded');
  const br = ipJson(host.name, 'addr', 'show', 'cnits-race')[0];
  t.same(br.addr_info.filter((x: any) => x.family === 'inet').map((x: any) => x.local), ['10.68.0.1'], 'one gateway address');
  t.equal(ipJson(host.name, 'link', 'show', 'master', 'cnits-race').length, 20, '20 ports');
  t.ok(ping(ctrs[0]!.name, '10.68.0.1'));
});

t.test('bad input: hairpin with promisc, vlan on this kernel, missing netns; nothing left behind', async (t) => {
  const { host } = hostWithOutside(t);
  const dir = dataDir(t);
  const ctr = makeNetns(t, 'cnits-ctr');
  const both = new Chain(network('bad', 'cnits-bad', '10.69.0.0/24', dir, { promiscMode: true }), { host: host.name, containerId: 'x', netns: ctr.path }).add();
  t.equal(both.json.code, 7);
  t.match(both.json.msg, /hairpinMode and promiscMode/);
  const vlan = new Chain(network('bad', 'cnits-bad', '10.69.0.0/24', dir, { vlan: 10 }), { host: host.name, containerId: 'x', netns: ctr.path }).add();
  t.equal(vlan.json.code, 2);
  t.match(vlan.json.msg, /VLAN filtering/);
  const nons = new Chain(network('bad', 'cnits-bad', '10.69.0.0/24', dir), { host: host.name, containerId: 'x', netns: '/run/netns/cnits-missing' }).add();
  t.equal(nons.json.code, 3);
  t.same(existsSync(join(dir, 'bad')) ? readdirSync(join(dir, 'bad')).filter((f) => f !== 'lock' && !f.startsWith('last_')) : [], [], 'no lease left');
  t.same(ipJson(host.name, 'link', 'show').filter((l: any) => l.ifname.startsWith('veth')), [], 'no veth left');
  t.same(ipJson(ctr.name, 'link', 'show').filter((l: any) => l.ifname !== 'lo'), [], 'container untouched');
});

t.test('macspoofchk: frames from another MAC are dropped at the bridge port', async (t) => {
  const { host } = hostWithOutside(t);
  const list = network('spoof', 'cnits-spoof', '10.74.0.0/24', dataDir(t), { macspoofchk: true });
  const a = attach(t, host.name, list, 'a');
  const b = attach(t, host.name, list, 'b');
  t.ok(ping(a.ctr.name, b.ip), 'with its own MAC a reaches b');
  t.match(sh('ip', ['netns', 'exec', host.name, 'nft', 'list', 'set', 'bridge', 'cni-ts', 'spoof_ok']), a.result.interfaces[1].name);
  ipIn(a.ctr.name, 'link', 'set', 'eth0', 'address', '02:66:66:66:66:66');
  ipIn(a.ctr.name, 'neigh', 'flush', 'all');
  t.notOk(ping(a.ctr.name, b.ip), 'with a forged MAC it does not');
  t.same(a.chain.del().map((d) => d.status), [0]);
  t.notMatch(sh('ip', ['netns', 'exec', host.name, 'nft', 'list', 'table', 'bridge', 'cni-ts']), /id=a"/, 'its elements are gone');
});

t.test('the bridge keeps its MAC as ports come (containers keep their cached gateway entry)', async (t) => {
  const { host } = hostWithOutside(t);
  const list = network('netmac', 'cnits-brm', '10.60.9.0/24', dataDir(t));
  const a = attach(t, host.name, list, 'm1');
  const mac = () => ipJson(host.name, 'link', 'show', 'cnits-brm')[0].address;
  const before = mac();
  t.match(before, /^02:/, 'a locally administered MAC of its own');
  // a port whose MAC is lower than any: a bridge with a MAC the kernel chose would take it
  ipIn(host.name, 'link', 'add', 'cnitslow0', 'address', '00:00:00:00:00:01', 'type', 'veth', 'peer', 'name', 'cnitslow1');
  ipIn(host.name, 'link', 'set', 'cnitslow0', 'master', 'cnits-brm');
  const b = attach(t, host.name, list, 'm2');
  t.equal(mac(), before, 'unchanged');
  t.ok(ping(a.ctr.name, b.ip) && ping(b.ctr.name, a.ip), 'the containers still reach each other');
});
