// dns-hosts after ipvlan (a link type this machine lacks): the same names from an ipvlan
// container, in the guest, through the built executables; the resolver it starts is stopped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const BIN = join(dirname(fileURLToPath(import.meta.url)), '../../build/bin');
const ip = (...a) => execFileSync('ip', a, { encoding: 'utf8' });

function netns(t, name) {
  ip('netns', 'add', name);
  t.after(() => spawnSync('ip', ['netns', 'del', name]));
  ip('-n', name, 'link', 'set', 'lo', 'up');
  return { name, path: `/run/netns/${name}` };
}

function cni(plugin, host, command, config, id, netns, args = '') {
  const r = spawnSync('ip', ['netns', 'exec', host, join(BIN, plugin)], {
    input: JSON.stringify(config), encoding: 'utf8',
    env: { PATH: process.env.PATH, CNI_COMMAND: command, CNI_CONTAINERID: id, CNI_NETNS: netns, CNI_IFNAME: 'eth0', CNI_PATH: BIN, CNI_ARGS: args },
  });
  return { status: r.status, json: r.stdout.trim() ? JSON.parse(r.stdout) : undefined, out: r.stdout + r.stderr };
}

const dig = (ns, name) => spawnSync('ip', ['netns', 'exec', ns, 'dig', '+short', '+tries=2', '+time=5', '@127.0.0.11', '-q', name, '-t', 'A'], { encoding: 'utf8' }).stdout.trim();

test('dns-hosts after ipvlan: containers resolve each other by name and alias', (t) => {
  const host = netns(t, 'dnsvh');
  ip('-n', host.name, 'link', 'add', 'dum9', 'type', 'dummy');
  ip('-n', host.name, 'link', 'set', 'dum9', 'up');
  const dataDir = mkdtempSync(join(tmpdir(), 'vmdns-'));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const main = { cniVersion: '1.0.0', name: 'ipvdns', type: 'ipvlan', master: 'dum9', mode: 'l2', ipam: { type: 'host-local', dataDir, ranges: [[{ subnet: '10.97.0.0/24' }]] } };
  const dns = { cniVersion: '1.0.0', name: 'ipvdns', type: 'dns-hosts', forward: false };
  const made = [];
  t.after(() => {
    for (const [id, ns] of made) { cni('dns-hosts', host.name, 'DEL', dns, id, ns.path); cni('ipvlan', host.name, 'DEL', main, id, ns.path); }
    // whatever the DELs left running (a failed assertion): the resolver of this host namespace
    spawnSync('pkill', ['-KILL', '-f', '--', '--resolver=/run/cni-ts/dns-hosts/']);
  });
  const ips = {};
  for (const [id, name] of [['ida', 'ipv-a'], ['idb', 'ipv-b']]) {
    const ns = netns(t, `dnsv${id}`);
    made.push([id, ns]);
    const r = cni('ipvlan', host.name, 'ADD', main, id, ns.path);
    assert.equal(r.status, 0, r.out);
    const d = cni('dns-hosts', host.name, 'ADD', { ...dns, prevResult: r.json, runtimeConfig: { aliases: [`${name}-alias`] } }, id, ns.path, `K8S_POD_NAME=${name}`);
    assert.equal(d.status, 0, d.out);
    assert.deepEqual(d.json.dns.nameservers, ['127.0.0.11']);
    ips[name] = r.json.ips[0].address.split('/')[0];
  }
  assert.equal(dig(made[0][1].name, 'ipv-b'), ips['ipv-b'], 'a resolves b');
  assert.equal(dig(made[1][1].name, 'ipv-a-alias'), ips['ipv-a'], 'b resolves a by alias');
});
