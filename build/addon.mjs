// npm install hook: build the netns-native addon with node-gyp against this Node's own headers
// (no download: they ship with Node, e.g. /usr/include/node), unless npm's config names a nodedir.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

const prefix = dirname(dirname(process.execPath));
const args = ['node_modules/node-gyp/bin/node-gyp.js', 'rebuild', '--directory=shared/netns-native'];
if (!process.env.npm_config_nodedir && existsSync(join(prefix, 'include/node/node_api.h'))) args.push(`--nodedir=${prefix}`);
// quiet unless it fails: then everything node-gyp and the compiler said
try {
  execFileSync(process.execPath, args, { stdio: 'pipe', encoding: 'utf8' });
} catch (e) {
  process.stderr.write(`${e.stdout ?? ''}${e.stderr ?? ''}\nbuilding the netns-native addon failed (needs make, a C compiler and python3)\n`);
  process.exit(1);
}
