// build/bin/cni-ts is a launcher in front of cni-ts.bun (x86-64): a plugin's VERSION is answered
// by the launcher itself (the skeleton's reply, stdin read to its end), argv passes unchanged,
// the plugin calls get BUN_JSC_useJIT=0, long-running modes and a caller's own setting keep
// theirs, and a missing executable is a CNI error. Node stands in for cni-ts.bun, reporting
// what it got.
import { spawnSync } from 'node:child_process';
import { copyFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { launcherBuilt } from '../../build/launcher/supported.ts';
import { RESOLVER_FLAG } from '../../plugins/dns-hosts/modes.ts';
import { versionReply } from '../../shared/cni/version.ts';
import { BIN, tempDir } from '../helpers/netns.ts';

const REPORT = 'process.stdout.write(JSON.stringify({ argv0: process.argv0, args: process.argv.slice(1), jit: process.env.BUN_JSC_useJIT ?? null, thp: process.env.MIMALLOC_ALLOW_THP ?? null, keep: process.env.KEEP ?? null }))';

t.test('the launcher execs cni-ts.bun beside it', { skip: !launcherBuilt && 'no launcher on this architecture' }, async (t) => {
  const dir = tempDir(t, 'cnits-launch-');
  copyFileSync(join(BIN, 'cni-ts'), join(dir, 'cni-ts'));
  symlinkSync('cni-ts', join(dir, 'bridge'));
  const run = (args: string[], env: Record<string, string> = {}, name = 'bridge', input = '') =>
    spawnSync(join(dir, name), ['-e', REPORT, ...args], { encoding: 'utf8', input, env: { PATH: process.env.PATH!, KEEP: 'x', ...env } });

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
  t.equal(got.thp, null, "and with mimalloc's own defaults (no huge pages: +15 MiB a call)");
  t.equal(got.keep, 'x', 'the rest of the environment passes');
  for (const [flag, who] of [[`${RESOLVER_FLAG}/run/x`, 'the resolver'], ['--sync', 'the overlay sync process']] as const) {
    const lr = JSON.parse(run(['--', flag]).stdout);
    t.same([lr.jit, lr.thp], [null, null], `${who} keeps the runtime's defaults`);
  }
  const own = JSON.parse(run([], { BUN_JSC_useJIT: '1', MIMALLOC_ALLOW_THP: '1' }).stdout);
  t.same([own.jit, own.thp], ['1', '1'], "a caller's own settings stay");

  // VERSION: the launcher's own answer (the stand-in would have printed its report), after
  // reading stdin to its end (a config larger than a pipe's buffer is taken whole: no EPIPE)
  const big = JSON.stringify({ cniVersion: '1.0.0', pad: 'x'.repeat(300_000) });
  for (const input of ['', '{"cniVersion":"0.4.0"}', big]) {
    const v = run([], { CNI_COMMAND: 'VERSION' }, 'bridge', input);
    t.equal(v.error, undefined, `stdin of ${input.length} bytes taken`);
    t.equal(v.status, 0);
    t.equal(v.stdout, versionReply(), "VERSION is the skeleton's reply, byte for byte");
  }
  // ... only for a plugin's name, and for VERSION alone: the rest is the runtime's
  symlinkSync('cni-ts', join(dir, 'no-such-plugin'));
  for (const [why, r] of [
    ['another command', run([], { CNI_COMMAND: 'ADD' })],
    ['a name that is no plugin', run([], { CNI_COMMAND: 'VERSION' }, 'no-such-plugin')],
    ['a long-running mode', run(['--', `${RESOLVER_FLAG}/run/x`], { CNI_COMMAND: 'VERSION' })],
    ['CNI_COMMAND only as a prefix', run([], { CNI_COMMAND: 'VERSIONS' })],
  ] as const) t.match(JSON.parse(r.stdout), { argv0: String }, `${why}: cni-ts.bun runs`);
});

t.test('the built plugins are links to the launcher, and cni-ts.bun is beside it', { skip: !launcherBuilt && 'no launcher on this architecture' }, async (t) => {
  const v = spawnSync(join(BIN, 'bridge'), [], { encoding: 'utf8', input: '{}', env: { CNI_COMMAND: 'VERSION' } });
  t.equal(v.status, 0, v.stderr);
  t.equal(v.stdout, versionReply());
  // where there is no launcher (not x86-64) the executable answers it itself, the same bytes
  const own = spawnSync(join(BIN, 'cni-ts.bun'), [], { argv0: 'bridge', encoding: 'utf8', input: '{}', env: { CNI_COMMAND: 'VERSION' } });
  t.equal(own.status, 0, own.stderr);
  t.equal(own.stdout, versionReply(), "cni-ts.bun's own VERSION is the launcher's");
  const file = spawnSync('file', ['-b', join(BIN, 'cni-ts')], { encoding: 'utf8' }).stdout;
  t.match(file, /statically linked/, 'the launcher needs no loader');
});
