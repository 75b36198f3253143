// shared/os/fs.ts over the addon's file syscalls: contents, flags, errors with errno codes.
import { mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { exists, isExecutable, link, mkdirp, overwriteFile, readDir, readFile, removeTree, rename, stat, unlink, writeFile } from '../../shared/os/fs.ts';

const scratch = (t: Test): string => {
  const d = mkdtempSync(join(tmpdir(), 'cnits-fs-'));
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  return d;
};

t.test('write, read, overwrite in place (shorter and longer), exclusive create', async (t) => {
  const d = scratch(t);
  const f = join(d, 'last_reserved_ip.0');
  writeFile(f, '10.0.0.100');
  t.equal(readFile(f), '10.0.0.100');
  overwriteFile(f, '10.0.0.9');
  t.equal(readFileSync(f, 'utf8'), '10.0.0.9', 'a shorter value leaves no tail of the longer one');
  overwriteFile(f, '10.0.0.12345');
  t.equal(readFileSync(f, 'utf8'), '10.0.0.12345');
  overwriteFile(join(d, 'new'), 'x');
  t.equal(readFileSync(join(d, 'new'), 'utf8'), 'x', 'overwriteFile creates a missing file');
  t.throws(() => writeFile(f, 'y', { exclusive: true }), { code: 'EEXIST' });
  t.equal(readFile(f), '10.0.0.12345', 'an exclusive create never touches an existing file');
  t.throws(() => readFile(join(d, 'missing')), { code: 'ENOENT' });
});

t.test('readFile returns the whole text at every size: empty, around the 4 KiB first read, large, multi-byte across it', async (t) => {
  const d = scratch(t);
  const f = join(d, 'text');
  for (const text of ['', 'a'.repeat(4095), 'a'.repeat(4096), 'a'.repeat(4097), 'x'.repeat(100_000), `${'a'.repeat(4095)}é€😀 tail`, 'nul\0inside']) {
    writeFileSync(f, text);
    t.equal(readFile(f), text, `${Buffer.byteLength(text)} bytes`);
  }
});

t.test('link, rename, unlink, readDir, stat, exists, isExecutable', async (t) => {
  const d = scratch(t);
  writeFile(join(d, 'a'), 'A', { mode: 0o755 });
  link(join(d, 'a'), join(d, 'b'));
  t.throws(() => link(join(d, 'a'), join(d, 'b')), { code: 'EEXIST' });
  rename(join(d, 'b'), join(d, 'c'));
  t.same(readDir(d).sort(), ['a', 'c']);
  t.equal(stat(join(d, 'c')).ino, statSync(join(d, 'a')).ino, 'a hard link shares the inode');
  t.ok(stat(d).isDir);
  t.ok(stat(join(d, 'a')).isFile);
  t.ok(isExecutable(join(d, 'a')));
  writeFileSync(join(d, 'plain'), '', { mode: 0o644 });
  t.notOk(isExecutable(join(d, 'plain')), 'no execute bit: not executable, even for root');
  unlink(join(d, 'c'));
  t.notOk(exists(join(d, 'c')));
  t.throws(() => unlink(join(d, 'c')), { code: 'ENOENT' });
  symlinkSync(join(d, 'a'), join(d, 'l'));
  t.ok(stat(join(d, 'l')).isFile, 'stat follows links');
});

t.test('mkdirp makes every level and accepts an existing directory; removeTree removes one', async (t) => {
  const d = scratch(t);
  const deep = join(d, 'x/y/z');
  mkdirp(deep);
  mkdirp(deep);
  t.ok(statSync(deep).isDirectory());
  writeFile(join(deep, 'f'), '1');
  writeFile(join(d, 'x/g'), '2');
  t.throws(() => mkdirp(join(d, 'x/g/h')), { code: 'ENOTDIR' });
  removeTree(join(d, 'x'));
  t.notOk(exists(join(d, 'x')));
  removeTree(join(d, 'x'));   // gone already: nothing to do
  t.pass('removing a missing tree is fine');
});
