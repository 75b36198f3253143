// npm run dist: the release a user installs, as the reference plugins ship theirs: one tarball
// with the executables at its top level (the multicall executable and its launcher, its addon,
// a link per plugin), ready to unpack into /opt/cni/bin, and a SHA-256 checksum file beside it.
//   build/release/cni-ts-linux-<arch>-v<version>.tgz (+ .sha256)
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = join(root, 'build/bin');
const out = join(root, 'build/release');
const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;
const arch = ({ x64: 'amd64', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x' } as Record<string, string>)[process.arch] ?? process.arch;
const name = `cni-ts-linux-${arch}-v${version}.tgz`;

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const files = readdirSync(bin).sort();
if (!files.includes('cni-ts') || !files.includes('netns_native.node')) throw new Error('dist: build/bin is incomplete (npm run build first)');
// owner root, fixed order and mtime: the same build gives the same tarball
execFileSync('tar', ['-czf', join(out, name), '--owner=0', '--group=0', '--numeric-owner', '--mtime=@0', '--sort=name', '-C', bin, ...files]);
const sum = createHash('sha256').update(readFileSync(join(out, name))).digest('hex');
writeFileSync(join(out, `${name}.sha256`), `${sum}  ${name}\n`);
console.log(`dist: build/release/${name} (${files.length} entries), sha256 ${sum}`);
