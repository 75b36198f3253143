// build/bin/cni-ts is a launcher in front of cni-ts.bun (x86-64): argv passes unchanged, the
// plugin calls get BUN_JSC_useJIT=0 and MIMALLOC_ALLOW_THP=1, long-running modes and a caller's
// own setting of either keep theirs,
// and a missing executable is a CNI error. Node stands in for cni-ts.bun, reporting what it got.
import { spawnSync } from 'node:child_process';
import { copyFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { launcherBuilt } from '../../build/launcher/supported.ts';
import { RESOLVER_FLAG } from '../../plugins/dns-hosts/modes.ts';
import { BIN, tempDir } from '../helpers/netns.ts';

const REPORT = 'process.stdout.write(JSON.stringify({ argv0: process.argv0, args: process.argv.slice(1), jit: process.env.BUN_JSC_useJIT ?? null, thp: process.env.MIMALLOC_ALLOW_THP ?? null, keep: process.env.KEEP ?? null }))';

t.test('the launcher execs cni-ts.bun beside it', { skip: !launcherBuilt && 'no launcher on this architecture' }, async (t) => {
  const dir = tempDir(t, 'cnits-launch-');
  copyFileSync(join(BIN, 'cni-ts'), join(dir, 'cni-ts'));
  symlinkSync('cni-ts', join(dir, 'bridge'));
  const run = (args: string[], env: Record<string, string> = {}) =>
    spawnSync(join(dir, 'bridge'), ['-e', REPORT, ...args], { encoding: 'utf8', env: { PATH: process.env.PATH!, KEEP: 'x', ...env } });

  const missing = run([]);
  t.equal(missing.status, 1, 'no cni-ts.bun: exit 1');
  t.same(JSON.parse(missing.stdout), { cniVersion: '1.0.0', code: 999, msg: 'cni-ts launcher: cannot exec cni-ts.bun beside it' });

  symlinkSync(process.execPath, join(dir, 'cni-ts.bun'));
  const call = run(['--', 'a b', '']);
  t.equal(call.status, 0, call.stderr);
  const got = JSON.parse(call.stdout);
  t.equal(got.argv0, join(dir, 'bridge'), 'argv[0] still names the plugin');
  t.same(got.args.slice(-2), ['a b', ''], 'arguments unchanged');
  t.equal(got.jit, '0', 'a plugin call runs without the JIT');
  t.equal(got.thp, '1', "and with mimalloc's arena on huge pages");
  t.equal(got.keep, 'x', 'the rest of the environment passes');
  for (const [flag, who] of [[`${RESOLVER_FLAG}/run/x`, 'the resolver'], ['--watch=/etc/cni/net.d/x.conflist', 'the watcher']] as const) {
    const lr = JSON.parse(run(['--', flag]).stdout);
    t.same([lr.jit, lr.thp], [null, null], `${who} keeps the runtime's defaults`);
  }
  const own = JSON.parse(run([], { BUN_JSC_useJIT: '1', MIMALLOC_ALLOW_THP: '0' }).stdout);
  t.same([own.jit, own.thp], ['1', '0'], "a caller's own settings stay");
  const one = JSON.parse(run([], { MIMALLOC_ALLOW_THP: '0' }).stdout);
  t.same([one.jit, one.thp], ['0', '0'], 'each variable is decided on its own');
});

t.test('the built plugins are links to the launcher, and cni-ts.bun is beside it', { skip: !launcherBuilt && 'no launcher on this architecture' }, async (t) => {
  const v = spawnSync(join(BIN, 'bridge'), [], { encoding: 'utf8', input: '{}', env: { CNI_COMMAND: 'VERSION' } });
  t.equal(v.status, 0, v.stderr);
  t.match(JSON.parse(v.stdout).supportedVersions, ['0.1.0']);
  const file = spawnSync('file', ['-b', join(BIN, 'cni-ts')], { encoding: 'utf8' }).stdout;
  t.match(file, /statically linked/, 'the launcher needs no loader');
});
