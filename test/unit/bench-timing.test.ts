// The bench's timing: a plugin exec'd as a Go runtime execs it (timed-exec), a run that tells its
// own time, rounds in alternating order; the agent's memory with each page counted once.
import t from 'tap';
import { spawn } from 'node:child_process';
import { execPlugin, runBench, type Impl } from '../bench/lib.ts';
import { memoryOf } from '../bench/runtime.ts';

t.test('execPlugin: stdin in, stdout out, environment passed, a failure thrown with its status', async (t) => {
  t.equal(execPlugin('/bin/cat', { PATH: '/usr/bin:/bin' }, '{"cniVersion":"1.0.0"}'), '{"cniVersion":"1.0.0"}');
  // (tap adds its own variables to every child's environment: only ours are looked at)
  const env = execPlugin('/usr/bin/env', { PATH: '/usr/bin:/bin', CNI_COMMAND: 'ADD' }, '').trim().split('\n');
  t.same(env.filter((l) => /^(CNI_|PATH=)/.test(l)).sort(), ['CNI_COMMAND=ADD', 'PATH=/usr/bin:/bin']);
  t.throws(() => execPlugin('/bin/false', { CNI_COMMAND: 'DEL' }, ''), /\/bin\/false DEL failed \(1\)/);
  t.throws(() => execPlugin('/nonexistent/plugin', {}, ''), /failed \(127\)/);
});

t.test('a run that tells its own time is taken at its word; each round in the other order', async (t) => {
  const order: string[] = [];
  const impl = (label: string, ms: number): Impl => ({ label, run: () => { order.push(label); return ms; } });
  const rows = runBench({ name: 'x', runs: 4, impls: [impl('ours', 12.5), impl('reference', 40)] });
  t.same(rows.map((r) => [r.impl, r.p50, r.p90, r.mean]), [['ours', 12.5, 12.5, 12.5], ['reference', 40, 40, 40]]);
  // (the warm-up first, in order; then rounds: ours first, reference first, ...)
  t.same(order, ['ours', 'reference', 'ours', 'reference', 'reference', 'ours', 'ours', 'reference', 'reference', 'ours']);
});

t.test('execs timed in a row: the figure is the exec, not Node\'s spawn around it', async (t) => {
  const rows = runBench({ name: 'true', runs: 5, impls: [{ label: 'ours', run: () => { execPlugin('/bin/true', {}, ''); } }] });
  t.ok(rows[0]!.p50 > 0, `a positive time (${rows[0]!.p50} ms)`);
});

t.test('memory: a page two processes share counts once in the resident set, twice summed', async (t) => {
  const p = spawn('sleep', ['30'], { stdio: 'ignore' });
  try {
    await new Promise((r) => setTimeout(r, 100));
    const one = memoryOf([p.pid!]), twice = memoryOf([p.pid!, p.pid!]);
    t.ok(one.residentMiB > 0.1, `the process's pages are seen (${one.residentMiB.toFixed(2)} MiB)`);
    t.equal(twice.residentMiB, one.residentMiB, 'the same pages once');
    t.equal(twice.rssMiB, 2 * one.rssMiB, 'summed: twice');
    t.equal(twice.processes, 2);
  } finally { p.kill('SIGKILL'); }
});
