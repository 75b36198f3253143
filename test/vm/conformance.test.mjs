// The conformance scenarios that need link types this machine lacks (ipvlan), in the guest,
// against ours and the reference: ours must pass.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');

test('conformance: ipvlan scenarios, ours and the reference', () => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'conformance/run.ts', `ours=${ROOT}/build/bin`, 'reference=/usr/lib/cni', '--only', 'ipvlan'], { cwd: ROOT, encoding: 'utf8', timeout: 300_000 });
  process.stdout.write(r.stdout.split('\n').map((l) => `# ${l}`).join('\n') + '\n');
  assert.equal(r.status, 0, r.stdout + r.stderr);
  const rows = r.stdout.split('\n').filter((l) => l.startsWith('| ipvlan'));
  assert.ok(rows.length >= 2, 'ipvlan scenarios ran');
  for (const row of rows) assert.match(row, /^\| [^|]+ \| pass \|/, row);
});
