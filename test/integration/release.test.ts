// npm run dist: the tarball unpacks into a plugin directory a runtime can use as it is.
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { ROOT, cni, ipJson, makeNetns, tempDir } from '../helpers/netns.ts';
import { launcherBuilt } from '../../build/launcher/supported.ts';

t.test('the release tarball: checksum, executables at the top level, plugins run from the unpacked directory', async (t) => {
  const made = spawnSync('npx', ['tsx', 'build/release.ts'], { cwd: ROOT, encoding: 'utf8' });
  t.equal(made.status, 0, made.stderr);
  const rel = join(ROOT, 'build/release');
  const tgz = readdirSync(rel).find((f) => /^cni-ts-linux-[a-z0-9]+-v\d+\.\d+\.\d+\.tgz$/.test(f));
  t.ok(tgz, 'named cni-ts-linux-<arch>-v<version>.tgz');
  t.equal(spawnSync('sha256sum', ['-c', `${tgz}.sha256`], { cwd: rel, encoding: 'utf8' }).status, 0, 'its checksum file verifies');
  const dir = tempDir(t, 'cnits-rel-');
  execFileSync('tar', ['-xzf', join(rel, tgz!), '-C', dir]);
  t.same(readdirSync(dir).sort(), ['bridge', 'cni-ts', ...(launcherBuilt ? ['cni-ts.bun'] : []), 'dns-hosts', 'dnsname', 'firewall', 'host-local', 'ipvlan', 'loopback', 'macvlan', 'netns_native.node', 'portmap', 'tuning', 'vxlan-overlay']);
  const host = makeNetns(t, 'cnits-relhost'), ctr = makeNetns(t, 'cnits-ctr');
  ipJson(ctr.name, 'link', 'show');
  const r = cni('loopback', { host: host.name, command: 'ADD', bin: dir, containerId: 'rel1', netns: ctr.path, ifname: 'lo', config: { cniVersion: '1.0.0', name: 'none', type: 'loopback' } });
  t.equal(r.status, 0, r.stdout);
  t.equal(r.json.interfaces[0].name, 'lo');
});
