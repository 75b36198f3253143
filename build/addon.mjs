// npm install hook: build the netns-native addon with node-gyp against this Node's own headers
// (no download: the headers ship with Node, e.g. /usr/include/node), falling back to npm's config.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

const prefix = dirname(dirname(process.execPath));
const args = ['rebuild', '--directory=shared/netns-native'];
if (!process.env.npm_config_nodedir && existsSync(join(prefix, 'include/node/node_api.h'))) args.push(`--nodedir=${prefix}`);
const gyp = join(dirname(process.env.npm_execpath ?? ''), '../node_modules/node-gyp/bin/node-gyp.js');
const local = 'node_modules/node-gyp/bin/node-gyp.js';
execFileSync(process.execPath, [existsSync(local) ? local : gyp, ...args], { stdio: 'inherit' });
