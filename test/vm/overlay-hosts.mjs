// Hosts for the guest's overlay runs (the encrypted-overlay test and the throughput bench): n
// host namespaces on one underlay switch (namespace w, 192.168.50.254, where etcd runs), each
// with eth0 at 192.168.50.<i> and a default route; networks made ready ahead of the first ADD
// (overlay-ipsec-host.ts prep: the guest's nftables has no inet family for the isolation), a sync
// process per host, and the built plugin for ADD and DEL. `close()` removes all of it.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = join(ROOT, 'build/bin');
const DRIVER = join(ROOT, 'test/vm/overlay-ipsec-host.ts');
export const ip = (...a) => execFileSync('ip', a, { encoding: 'utf8' });
export const inNs = (ns, ...cmd) => spawnSync('ip', ['netns', 'exec', ns, ...cmd], { encoding: 'utf8' });
export const underlayOf = (i) => `192.168.50.${i + 1}`;
const ETCD = 'http://192.168.50.254:2379';

/** A network's config on these hosts: an overlay in etcd on the switch, no masquerade (an inet family feature). */
export const overlayConf = (over) => ({ cniVersion: '1.0.0', type: 'vxlan-overlay', ipMasq: false, underlayInterface: 'eth0', etcd: { endpoints: [ETCD] }, ...over });

export async function overlayHosts(n) {
  spawnSync('modprobe', ['-a', 'xfrm_user', 'esp4', 'gcm', 'vxlan', 'bridge', 'veth']);
  const P = process.pid;
  const w = `w${P}`, hosts = Array.from({ length: n }, (_, i) => `h${i + 1}x${P}`);
  const procs = [], spaces = [w, ...hosts], logs = new Map();
  const dir = mkdtempSync(join(tmpdir(), 'ovhosts-'));
  const netns = (name) => { ip('netns', 'add', name); spaces.push(name); ip('-n', name, 'link', 'set', 'lo', 'up'); return name; };
  const c = {
    w, hosts, logs,
    etcdctl: (...a) => inNs(w, 'etcdctl', '--endpoints', ETCD, ...a),
    /** a container namespace */
    container: (name) => netns(`${name}x${P}`),
    /** what a host's first ADD makes before its container (less the isolation) */
    prep: (h, conf) => { const r = inNs(h, process.execPath, '--import', 'tsx', DRIVER, 'prep', JSON.stringify(conf)); if (r.status !== 0) throw new Error(`prep on ${h}: ${r.stderr}`); },
    /** every named namespace's xfrm states and policies, in one go */
    xfrm: (...ns) => JSON.parse(spawnSync(process.execPath, ['--import', 'tsx', DRIVER, 'list', ...ns], { cwd: ROOT, encoding: 'utf8' }).stdout),
    startSync: (h) => {
      const p = spawn('ip', ['netns', 'exec', h, join(BIN, 'vxlan-overlay'), '--sync'], { stdio: ['ignore', 'ignore', 'pipe'] });
      p.stderr.on('data', (d) => logs.set(h, (logs.get(h) ?? '') + d));
      procs.push(p);
    },
    cni: (host, command, conf, ctr) => {
      const r = spawnSync('ip', ['netns', 'exec', host, join(BIN, 'vxlan-overlay')], {
        input: JSON.stringify(conf), encoding: 'utf8', cwd: ROOT,
        env: { PATH: process.env.PATH, CNI_COMMAND: command, CNI_CONTAINERID: ctr, CNI_NETNS: `/run/netns/${ctr}`, CNI_IFNAME: 'eth0', CNI_PATH: BIN },
      });
      const json = r.stdout.trim() ? JSON.parse(r.stdout) : undefined;
      return { status: r.status, json, out: r.stdout + r.stderr, ip: json?.ips?.[0]?.address.split('/')[0] };
    },
    close: async () => {
      for (const p of procs) p.kill('SIGKILL');
      await sleep(200);
      for (const s of spaces.reverse()) spawnSync('ip', ['netns', 'del', s]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    for (const s of [w, ...hosts]) { ip('netns', 'add', s); ip('-n', s, 'link', 'set', 'lo', 'up'); }
    ip('-n', w, 'link', 'add', 'sw', 'type', 'bridge');
    ip('-n', w, 'addr', 'add', '192.168.50.254/24', 'dev', 'sw');
    ip('-n', w, 'link', 'set', 'sw', 'up');
    hosts.forEach((h, i) => {
      ip('-n', h, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', `port${i + 1}`, 'netns', w);
      ip('-n', w, 'link', 'set', `port${i + 1}`, 'master', 'sw', 'up');
      ip('-n', h, 'addr', 'add', `${underlayOf(i)}/24`, 'dev', 'eth0');
      ip('-n', h, 'link', 'set', 'eth0', 'up');
      ip('-n', h, 'route', 'add', 'default', 'via', '192.168.50.254');
    });
    procs.push(spawn('ip', ['netns', 'exec', w, 'etcd', '--data-dir', join(dir, 'etcd'), '--listen-client-urls', ETCD, '--advertise-client-urls', ETCD,
      '--listen-peer-urls', 'http://127.0.0.1:2380'], { stdio: 'ignore' }));
    for (let i = 0; i < 100 && c.etcdctl('endpoint', 'health').status !== 0; i++) await sleep(200);
  } catch (e) {
    await c.close();
    throw e;
  }
  return c;
}
