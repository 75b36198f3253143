// ipvlan (l2, l3) and 802.1q parents: kernel features this machine lacks, so these run inside
// the User-Mode Linux guest (../shared/vm/run-in-vm.sh), through the built executables.
// Each test makes its own "host" namespace with dummy parents and removes it afterwards.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const BIN = join(dirname(fileURLToPath(import.meta.url)), '../../build/bin');
const ip = (...a) => execFileSync('ip', a, { encoding: 'utf8' });
const ipj = (...a) => JSON.parse(ip('-j', ...a) || '[]');
let seq = 0;

function netns(t, prefix) {
  const name = `${prefix}${process.pid}x${seq++}`;
  ip('netns', 'add', name);
  t.after(() => spawnSync('ip', ['netns', 'del', name]));
  ip('-n', name, 'link', 'set', 'lo', 'up');
  return { name, path: `/run/netns/${name}` };
}

function cni(plugin, host, command, config, id, netns, extra = {}) {
  const r = spawnSync('ip', ['netns', 'exec', host, join(BIN, plugin)], {
    input: JSON.stringify(config), encoding: 'utf8',
    env: { PATH: process.env.PATH, CNI_COMMAND: command, CNI_CONTAINERID: id, CNI_NETNS: netns, CNI_IFNAME: 'eth0', CNI_PATH: BIN, ...extra },
  });
  return { status: r.status, json: r.stdout.trim() ? JSON.parse(r.stdout) : undefined, out: r.stdout + r.stderr };
}

const ping = (ns, target) => spawnSync('ip', ['netns', 'exec', ns, 'ping', '-c', '1', '-W', '2', target]).status === 0;

function hostWith(t, ...dummies) {
  const host = netns(t, 'vh');
  for (const d of dummies) { ip('-n', host.name, 'link', 'add', d, 'type', 'dummy'); ip('-n', host.name, 'link', 'set', d, 'up'); }
  const dataDir = mkdtempSync(join(tmpdir(), 'vmipam-'));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  return { host, dataDir };
}

const ipvlanConf = (name, master, mode, subnet, dataDir) => ({
  cniVersion: '1.0.0', name, type: 'ipvlan', master, mode,
  ipam: { type: 'host-local', dataDir, ranges: [[{ subnet }]], routes: [{ dst: '0.0.0.0/0' }] },
});

test('ipvlan l2: two containers on one parent reach each other; DEL cleans up', (t) => {
  const { host, dataDir } = hostWith(t, 'dum0');
  const conf = ipvlanConf('l2net', 'dum0', 'l2', '10.90.0.0/24', dataDir);
  const ctrs = ['a', 'b'].map((id) => {
    const ns = netns(t, 'vc');
    const r = cni('ipvlan', host.name, 'ADD', conf, id, ns.path);
    assert.equal(r.status, 0, r.out);
    return { ns, ip: r.json.ips[0].address.split('/')[0], result: r.json };
  });
  const link = ipj('-n', ctrs[0].ns.name, '-d', 'link', 'show', 'eth0')[0];
  assert.equal(link.linkinfo.info_kind, 'ipvlan');
  assert.equal(link.linkinfo.info_data.mode, 'l2');
  assert.ok(ping(ctrs[0].ns.name, ctrs[1].ip), 'a reaches b');
  const check = cni('ipvlan', host.name, 'CHECK', { ...conf, prevResult: ctrs[0].result }, 'a', ctrs[0].ns.path);
  assert.equal(check.status, 0, check.out);
  for (const [i, c] of ctrs.entries()) assert.equal(cni('ipvlan', host.name, 'DEL', conf, i ? 'b' : 'a', c.ns.path).status, 0);
  assert.equal(ipj('-n', ctrs[0].ns.name, 'link', 'show').filter((l) => l.ifname === 'eth0').length, 0);
});

test('ipvlan l3: containers on two subnets of one parent reach each other; routes point at the device', (t) => {
  const { host, dataDir } = hostWith(t, 'dum1');
  const a = netns(t, 'vc'), b = netns(t, 'vc');
  const ra = cni('ipvlan', host.name, 'ADD', ipvlanConf('l3a', 'dum1', 'l3', '10.91.0.0/24', dataDir), 'a', a.path);
  const rb = cni('ipvlan', host.name, 'ADD', ipvlanConf('l3b', 'dum1', 'l3', '10.92.0.0/24', dataDir), 'b', b.path);
  assert.equal(ra.status, 0, ra.out);
  assert.equal(rb.status, 0, rb.out);
  assert.equal(ra.json.ips[0].gateway, undefined, 'no gateway in l3');
  const def = ipj('-n', a.name, 'route', 'show').find((r) => r.dst === 'default');
  assert.ok(def && def.dev === 'eth0' && !def.gateway, 'default route via the device');
  assert.ok(ping(a.name, rb.json.ips[0].address.split('/')[0]), 'l3 across subnets');
  assert.equal(ipj('-n', a.name, '-d', 'link', 'show', 'eth0')[0].linkinfo.info_data.mode, 'l3');
});

test('802.1q parent: created on demand, shared, removed with its last attachment; a pre-existing one is kept', (t) => {
  const { host, dataDir } = hostWith(t, 'dum2');
  const conf = { cniVersion: '1.0.0', name: 'vlan50', type: 'macvlan', master: 'dum2.50', mode: 'bridge', ipam: { type: 'host-local', dataDir, ranges: [[{ subnet: '10.93.0.0/24' }]] } };
  const a = netns(t, 'vc'), b = netns(t, 'vc');
  assert.equal(cni('macvlan', host.name, 'ADD', conf, 'a', a.path).status, 0);
  assert.equal(cni('macvlan', host.name, 'ADD', conf, 'b', b.path).status, 0);
  const vl = ipj('-n', host.name, '-d', 'link', 'show', 'dum2.50')[0];
  assert.equal(vl.linkinfo.info_kind, 'vlan');
  assert.equal(vl.linkinfo.info_data.id, 50);
  assert.equal(cni('macvlan', host.name, 'DEL', conf, 'a', a.path).status, 0);
  assert.equal(ipj('-n', host.name, 'link', 'show').filter((l) => l.ifname === 'dum2.50').length, 1, 'kept while b uses it');
  assert.equal(cni('macvlan', host.name, 'DEL', conf, 'b', b.path).status, 0);
  assert.equal(ipj('-n', host.name, 'link', 'show').filter((l) => l.ifname === 'dum2.50').length, 0, 'removed with the last DEL');
  // the vlan option, on a sub-interface that existed before
  ip('-n', host.name, 'link', 'add', 'link', 'dum2', 'name', 'dum2.60', 'type', 'vlan', 'id', '60');
  ip('-n', host.name, 'link', 'set', 'dum2.60', 'up');
  const conf60 = { ...conf, name: 'vlan60', master: 'dum2', vlan: 60 };
  assert.equal(cni('macvlan', host.name, 'ADD', conf60, 'c', a.path).status, 0);
  assert.equal(cni('macvlan', host.name, 'DEL', conf60, 'c', a.path).status, 0);
  assert.equal(ipj('-n', host.name, 'link', 'show').filter((l) => l.ifname === 'dum2.60').length, 1, 'a pre-existing sub-interface is never removed');
});

test('a parent with ipvlan links cannot take a macvlan: clear error, nothing left', (t) => {
  const { host, dataDir } = hostWith(t, 'dum3');
  const a = netns(t, 'vc'), b = netns(t, 'vc');
  assert.equal(cni('ipvlan', host.name, 'ADD', ipvlanConf('ip3', 'dum3', 'l2', '10.94.0.0/24', dataDir), 'a', a.path).status, 0);
  const r = cni('macvlan', host.name, 'ADD', { cniVersion: '1.0.0', name: 'mv3', type: 'macvlan', master: 'dum3', ipam: { type: 'host-local', dataDir, ranges: [[{ subnet: '10.95.0.0/24' }]] } }, 'b', b.path);
  assert.equal(r.status, 1);
  assert.match(r.json.msg, /busy|macvlan/);
  assert.equal(ipj('-n', b.name, 'link', 'show').filter((l) => l.ifname !== 'lo').length, 0);
  assert.equal(existsSync(join(dataDir, 'mv3')) ? execFileSync('ls', [join(dataDir, 'mv3')], { encoding: 'utf8' }).split('\n').filter((f) => f.startsWith('10.')).length : 0, 0, 'lease rolled back');
});

test('ipvlan chained after bridge without a master: its parent is the container interface of prevResult', (t) => {
  const { host, dataDir } = hostWith(t);
  const ctr = netns(t, 'vc');
  const br = { cniVersion: '1.0.0', name: 'chainbr', type: 'bridge', bridge: 'vmbr0', isGateway: true, ipam: { type: 'host-local', dataDir, ranges: [[{ subnet: '10.96.0.0/24' }]] } };
  const first = cni('bridge', host.name, 'ADD', br, 'ch', ctr.path);
  assert.equal(first.status, 0, first.out);
  const conf = { cniVersion: '1.0.0', name: 'chainbr', type: 'ipvlan', mode: 'l2', prevResult: first.json, ipam: { type: 'host-local', dataDir, ranges: [[{ subnet: '10.97.0.0/24' }]] } };
  const r = cni('ipvlan', host.name, 'ADD', conf, 'ch', ctr.path, { CNI_IFNAME: 'eth1' });
  assert.equal(r.status, 0, r.out);
  const l = ipj('-n', ctr.name, '-d', 'link', 'show', 'eth1')[0];
  assert.equal(l.linkinfo.info_kind, 'ipvlan');
  assert.equal(l.link, 'eth0', 'the parent is the container\'s eth0');
  assert.equal(cni('ipvlan', host.name, 'DEL', conf, 'ch', ctr.path, { CNI_IFNAME: 'eth1' }).status, 0);
  assert.equal(ipj('-n', ctr.name, 'link', 'show').filter((x) => x.ifname === 'eth1').length, 0);
});

// Docker's internal (or parentless) macvlan and ipvlan networks: a dummy parent per network.
// the guest's IPv6 is a module: loaded, so the dummy would get a link-local address were it not suppressed
spawnSync('modprobe', ['ipv6']);
const dummies = (host) => ipj('-n', host, '-d', 'link', 'show').filter((l) => l.linkinfo?.info_kind === 'dummy' && l.ifname.startsWith('dm-'));

/** A host with a way out: veth vx0 (host, 10.98.0.254) to an "outside" namespace holding the gateway 10.98.0.1. */
function hostWithOutside(t) {
  const { host, dataDir } = hostWith(t);
  const out = netns(t, 'vo');
  ip('-n', host.name, 'link', 'add', 'vx0', 'type', 'veth', 'peer', 'name', 'vx1', 'netns', out.name);
  ip('-n', host.name, 'addr', 'add', '10.98.0.254/24', 'dev', 'vx0');
  ip('-n', host.name, 'link', 'set', 'vx0', 'up');
  ip('-n', out.name, 'addr', 'add', '10.98.0.1/24', 'dev', 'vx1');
  ip('-n', out.name, 'link', 'set', 'vx1', 'up');
  return { host, dataDir };
}

for (const type of ['macvlan', 'ipvlan']) {
  test(`internal ${type}: containers reach each other and nothing else; the dummy parent goes with the last DEL`, (t) => {
    const { host, dataDir } = hostWithOutside(t);
    const ipam = (range) => ({ type: 'host-local', dataDir, ranges: [[{ subnet: '10.98.0.0/24', rangeStart: range, rangeEnd: range.replace(/\d+$/, (n) => String(Number(n) + 9)) }]] });
    // the control: the same subnet on the veth reaches the gateway, so the pings below can succeed
    const open = { cniVersion: '1.0.0', name: `open${type}`, type, master: 'vx0', ipam: ipam('10.98.0.10') };
    const c = netns(t, 'vc');
    const rc = cni(type, host.name, 'ADD', open, 'ctl', c.path);
    assert.equal(rc.status, 0, rc.out);
    assert.ok(ping(c.name, '10.98.0.1'), 'the control reaches the outside');
    assert.equal(cni(type, host.name, 'DEL', open, 'ctl', c.path).status, 0);

    const conf = { cniVersion: '1.0.0', name: `int${type}`, type, internal: true, ipam: ipam('10.98.0.30') };
    const ctrs = ['a', 'b'].map((id) => {
      const ns = netns(t, 'vc');
      const r = cni(type, host.name, 'ADD', conf, id, ns.path);
      assert.equal(r.status, 0, r.out);
      return { id, ns, ip: r.json.ips[0].address.split('/')[0] };
    });
    const [dm] = dummies(host.name);
    assert.ok(dm, 'a dummy parent');
    assert.equal(dummies(host.name).length, 1, 'one dummy for the network');
    assert.equal(ipj('-n', ctrs[0].ns.name, '-d', 'link', 'show', 'eth0')[0].linkinfo.info_kind, type);
    assert.equal(dm.inet6_addr_gen_mode, 'none');
    assert.equal(ipj('-n', host.name, '-6', 'addr', 'show', 'dev', dm.ifname)[0]?.addr_info?.length ?? 0, 0, 'no IPv6 address on the dummy');
    assert.ok(ping(ctrs[0].ns.name, ctrs[1].ip), 'a reaches b');
    assert.ok(ping(ctrs[1].ns.name, ctrs[0].ip), 'b reaches a');
    assert.equal(ipj('-n', ctrs[0].ns.name, 'route', 'show').filter((r) => r.dst === 'default').length, 0, 'no default route on an internal network');
    for (const target of ['10.98.0.1', '10.98.0.254']) assert.ok(!ping(ctrs[0].ns.name, target), `${target} is out of reach`);
    assert.equal(cni(type, host.name, 'DEL', conf, 'a', ctrs[0].ns.path).status, 0);
    assert.equal(dummies(host.name).length, 1, 'kept while b uses it');
    assert.equal(cni(type, host.name, 'DEL', conf, 'b', ctrs[1].ns.path).status, 0);
    assert.equal(dummies(host.name).length, 0, 'removed with the last DEL');
    assert.equal(cni(type, host.name, 'DEL', conf, 'b', ctrs[1].ns.path).status, 0, 'DEL again succeeds');
  });
}

test('internal: a failed ADD leaves no dummy; master beside internal is a config error', (t) => {
  const { host, dataDir } = hostWith(t);
  const conf = { cniVersion: '1.0.0', name: 'intfail', type: 'macvlan', internal: true, ipam: { type: 'host-local', dataDir, ranges: [[{ subnet: '10.99.0.0/24' }]] } };
  const ns = netns(t, 'vc');
  ip('-n', ns.name, 'link', 'add', 'eth0', 'type', 'dummy');   // CNI_IFNAME taken: the ADD fails after the parent is made
  const r = cni('macvlan', host.name, 'ADD', conf, 'f', ns.path);
  assert.equal(r.status, 1, r.out);
  assert.match(r.json.msg, /already exists/);
  assert.equal(dummies(host.name).length, 0, 'no dummy left');
  const bad = cni('ipvlan', host.name, 'ADD', { ...conf, type: 'ipvlan', master: 'lo' }, 'g', netns(t, 'vc').path);
  assert.equal(bad.status, 1);
  assert.equal(bad.json.code, 7);
  assert.match(bad.json.msg, /master cannot be combined with internal/);
  assert.equal(dummies(host.name).length, 0);
});
