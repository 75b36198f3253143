// Membership groups (shared/os/members.ts), in a namespace of the test's own (their state is per
// network namespace under /run/cni-ts): a first member whose apply fails leaves no group, lock
// or namespace directory behind, and a member that joins and leaves leaves nothing either.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ROOT, makeNetns } from '../helpers/netns.ts';

const script = (kind: string) => `
import { joinGroup, kindDir, leaveGroup } from ${JSON.stringify(join(ROOT, 'shared/os/members.ts'))};
import { existsSync, readdirSync } from 'node:fs';
const dir = kindDir(${JSON.stringify(kind)});
const out = {};
try { joinGroup(${JSON.stringify(kind)}, 'g', 'c1/eth0', () => { throw new Error('apply failed'); }); } catch (e) { out.threw = e.message; }
out.afterFailure = existsSync(dir) ? readdirSync(dir, { recursive: true }) : null;
joinGroup(${JSON.stringify(kind)}, 'g', 'c1/eth0', () => {});
out.joined = readdirSync(dir).filter((n) => !n.startsWith('.'));
leaveGroup(${JSON.stringify(kind)}, 'g', 'c1/eth0', () => {});
out.afterLeave = existsSync(dir) ? readdirSync(dir, { recursive: true }) : null;
console.log(JSON.stringify(out));
`;

t.test('a failed first join leaves nothing; join and leave leave nothing', async (t) => {
  const ns = makeNetns(t);
  const kind = `test-members-${process.pid}`;
  t.teardown(() => { spawnSync('rm', ['-rf', `/run/cni-ts/${kind}`]); });
  const r = spawnSync('ip', ['netns', 'exec', ns.name, process.execPath, '--import', 'tsx', '--input-type=module', '-e', script(kind)], { cwd: ROOT, encoding: 'utf8' });
  t.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
  t.equal(out.threw, 'apply failed', 'the failure reaches the caller');
  t.equal(out.afterFailure, null, 'no group, lock or namespace directory left');
  t.ok(out.joined.includes('g'), 'a join makes the group');
  t.equal(out.afterLeave, null, 'its leaving removes it all');
});
