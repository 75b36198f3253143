// The README's examples, run as written: the install command and the cnitool session (cnitool
// is libcni's own CLI and not in Debian: build/cnictl, built on Debian's libcni, takes the same
// arguments), with only the install directory, config directory and namespace name moved to
// the test's own; every runtime's conflist through libcni (only the state directories moved);
// and every `cni-ts` command the README lists answers.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { BIN, ROOT, ipJson, makeNetns, tempDir } from '../helpers/netns.ts';

const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
/** The README's indented code blocks. */
const blocks = readme.split(/\n(?! {4}|\n)/).map((p) => p.split('\n').filter((l) => l.startsWith('    ')).map((l) => l.slice(4)).join('\n')).filter(Boolean);

t.test('install, then the cnitool session, as the README writes them', async (t) => {
  const host = makeNetns(t, 'cnits-readme');
  const d = tempDir(t, 'cnits-readme-');
  const install = blocks.find((b) => /cni-ts install \/opt\/cni\/bin/.test(b));
  const session = blocks.find((b) => /cnitool add/.test(b));
  t.ok(install && session, 'both examples are in the README');
  const ns = `cnits-readme-demo-${process.pid}`;
  t.teardown(() => { spawnSync('ip', ['netns', 'del', ns]); });
  const script = `${install}\n${session}`
    .replaceAll('build/bin/cni-ts', join(BIN, 'cni-ts'))
    .replaceAll('/opt/cni/bin', join(d, 'bin'))
    .replaceAll('/tmp/cni-demo.d', join(d, 'net.d'))
    .replaceAll('cnitool', join(ROOT, 'build/cnictl'))
    .replace(/\bdemo\b/g, ns);
  const r = spawnSync('ip', ['netns', 'exec', host.name, 'bash', '-euo', 'pipefail', '-c', script], { encoding: 'utf8', env: { PATH: process.env.PATH!, CNI_CACHE_DIR: join(d, 'cache') } });
  t.equal(r.status, 0, `${r.stdout}${r.stderr}`);
  t.match(r.stdout, /"cniVersion": "1\.0\.0"/, 'cnitool add printed the result');
  t.match(r.stdout, /"name": "lo"/);
});

t.test('the agent\'s install, as the README writes it (the unit written; systemctl not run here)', async (t) => {
  const d = tempDir(t, 'cnits-readme-');
  const block = blocks.find((b) => /--agent-unit/.test(b));
  t.ok(block, 'the example is in the README');
  const line = block!.split('\n')[0]!.replaceAll('build/bin/cni-ts', join(BIN, 'cni-ts')).replaceAll('/opt/cni/bin', join(d, 'bin')).replaceAll('/etc/systemd/system', d);
  const r = spawnSync('bash', ['-euo', 'pipefail', '-c', line], { encoding: 'utf8' });
  t.equal(r.status, 0, `${r.stdout}${r.stderr}`);
  t.match(readFileSync(join(d, 'cni-ts-agent.service'), 'utf8'), new RegExp(`ExecStart=${join(d, 'bin')}/cni-ts agent`));
  t.match(block!, /^systemctl enable --now cni-ts-agent\.service$/m, 'and enabled by its file\'s name');
});

t.test('every cni-ts command the README lists answers', async (t) => {
  const usage = blocks.find((b) => /^cni-ts ls/m.test(b))!;
  const d = tempDir(t, 'cnits-readme-');
  for (const line of usage.split('\n').filter((l) => /^cni-ts \w/.test(l))) {
    const cmd = line.split(/\s+/)[1]!;
    const args = cmd === 'inspect' ? ['inspect', 'none', '--conf-dir', d] : cmd === 'install' ? ['install', join(d, 'bin')] : cmd === 'ls' ? ['ls', '--conf-dir', d]
      : cmd === 'agent' ? ['agent', 'status', `--dir=${join(d, 'agent')}`] : [cmd];
    const host = cmd === 'version' ? undefined : makeNetns(t, 'cnits-readme');
    const r = host ? spawnSync('ip', ['netns', 'exec', host.name, join(BIN, 'cni-ts'), ...args], { encoding: 'utf8' }) : spawnSync(join(BIN, 'cni-ts'), args, { encoding: 'utf8' });
    t.equal(r.status, cmd === 'inspect' ? 1 : cmd === 'agent' ? 3 : 0, `cni-ts ${args.join(' ')}: ${r.stdout}${r.stderr}`);
    if (cmd === 'inspect') t.match(r.stderr, /no network "none"/);
    if (cmd === 'agent') t.match(r.stdout, /no agent serves/);
  }
});

t.test("every runtime's conflist in the README: ADD, CHECK, DEL through libcni", async (t) => {
  const lists = blocks.filter((b) => b.startsWith('{"cniVersion"')).map((b) => JSON.parse(b) as { name: string; plugins: Record<string, any>[] });
  t.ok(lists.length >= 3, `the README has the runtimes' conflists (${lists.length})`);
  for (const list of lists) {
    t.test(list.name, async (t) => {
      const host = makeNetns(t, 'cnits-readme');
      const ctr = makeNetns(t, 'cnits-ctr');
      const d = tempDir(t, 'cnits-readme-');
      // the test's own state directories; everything else as written
      for (const p of list.plugins) {
        if (p.ipam) p.ipam.dataDir = join(d, 'ipam');
        if (p.type === 'tuning') p.dataDir = join(d, 'tuning');
      }
      mkdirSync(join(d, 'net.d'));
      writeFileSync(join(d, 'net.d', `10-${list.name}.conflist`), JSON.stringify(list));
      const run = (op: string) => spawnSync('ip', ['netns', 'exec', host.name, join(ROOT, 'build/cnictl'), op, list.name, ctr.path], {
        encoding: 'utf8',
        env: {
          PATH: process.env.PATH!, NETCONFPATH: join(d, 'net.d'), CNI_PATH: BIN, CNI_CACHE_DIR: join(d, 'cache'), CNI_CONTAINERID: 'readme1',
          CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web',
          CAP_ARGS: JSON.stringify({ portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }], aliases: { [list.name]: ['www'] } }),
        },
      });
      const add = run('add');
      t.equal(add.status, 0, `ADD: ${add.stderr}`);
      const address = JSON.parse(add.stdout).ips[0].address as string;
      const subnet = (list.plugins[0]!.ipam.ranges[0][0].subnet as string).split('/')[0]!.replace(/\.0$/, '.');
      t.ok(address.startsWith(subnet), `an address of the conflist's subnet (${address})`);
      const eth0 = ipJson(ctr.name, 'addr', 'show', 'eth0')[0];
      t.ok(eth0.addr_info.some((a: any) => `${a.local}/${a.prefixlen}` === address), 'on the container\'s eth0');
      const check = run('check');
      t.equal(check.status, 0, `CHECK: ${check.stderr}`);
      const del = run('del');
      t.equal(del.status, 0, `DEL: ${del.stderr}`);
      t.notOk(ipJson(ctr.name, 'link', 'show').some((l: any) => l.ifname === 'eth0'), 'no interface left');
      t.same(readdirSync(join(d, 'ipam', list.name)).filter((f) => /^[0-9.]+$|:/.test(f)), [], 'no lease left');
    });
  }
});
