// npm install hook: build the netns-native addon with node-gyp against this Node's own headers
// (no download: they ship with Node, e.g. /usr/include/node), unless npm's config names a nodedir.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

const prefix = dirname(dirname(process.execPath));
const args = ['node_modules/node-gyp/bin/node-gyp.js', 'rebuild', '--directory=shared/netns-native'];
if (!process.env.npm_config_nodedir && existsSync(join(prefix, 'include/node/node_api.h'))) args.push(`--nodedir=${prefix}`);
execFileSync(process.execPath, args, { stdio: 'inherit' });
