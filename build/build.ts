// npm run build: esbuild bundles (runnable by Node >= 20) and one compiled multicall executable
// with a link per plugin in build/bin/. The addon is copied beside each, loaded from there.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type BuildOptions, type Plugin as EsbuildPlugin } from 'esbuild';
import { PLUGINS } from '../entry/loaders.ts';
import { PLUGIN_MODULES, PLUGIN_NAMES, pluginChunk } from '../plugins/registry.ts';
import type { Mode } from '../entry/dispatch.ts';
import { launcherBuilt } from './launcher/supported.ts';
import { compileSchema } from '../shared/cni/schema-compile.ts';
import { versionReply } from '../shared/cni/version.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'build/dist');
const bin = join(root, 'build/bin');
const addon = join(root, 'shared/netns-native/build/Release/netns_native.node');
const bunBin = join(root, 'node_modules/.bin/bun');

/** Every plugin's config schema, compiled from its zod form (see shared/cni/schema.ts). */
async function compiledSchemas(): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const load of Object.values(PLUGINS)) {
    const { config } = await load();
    out[config.id] = JSON.stringify(compileSchema(config.zod(), config.id));
  }
  return out;
}

// zod is only the schemas' source: the executables validate with the compiled form and must
// not pay zod's start-up. Any zod call left in a bundle fails loudly instead of parsing.
const noZod: EsbuildPlugin = {
  name: 'no-zod',
  setup(b) {
    b.onResolve({ filter: /^zod(\/|$)/ }, () => ({ path: 'zod', namespace: 'no-zod' }));
    b.onLoad({ filter: /.*/, namespace: 'no-zod' }, () => ({ contents: 'export {};', loader: 'js' }));
  },
};

/**
 * This build's id: a hash of every source the executable and its launcher are made of, and of
 * the bundler and runtime that make them. A launcher hands its calls only to an agent of the
 * same id (docs/agent.md); any change to either side is a new id.
 */
function buildId(): string {
  const h = createHash('sha256');
  const walk = (dir: string): void => {
    for (const e of readdirSync(join(root, dir), { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const rel = join(dir, e.name);
      if (e.isDirectory()) { if (e.name !== 'node_modules' && e.name !== 'build') walk(rel); }
      else if (/\.(ts|c|h)$/.test(e.name)) h.update(rel).update('\0').update(readFileSync(join(root, rel))).update('\0');
    }
  };
  for (const d of ['entry', 'agent', 'cli', 'plugins', 'ipam', 'shared', 'build/launcher']) walk(d);
  h.update(readFileSync(join(root, 'package-lock.json')));
  return h.digest('hex').slice(0, 16);
}
const BUILD = buildId();

const common: BuildOptions = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  minify: true,
  legalComments: 'none',
  logOverride: { 'empty-import-meta': 'silent', 'import-is-undefined': 'silent' },
  plugins: [noZod],
  define: { __CNI_TS_SCHEMAS__: JSON.stringify(await compiledSchemas()), __CNI_TS_BUILD__: JSON.stringify(BUILD) },
};

async function bundles(): Promise<void> {
  rmSync(dist, { recursive: true, force: true });
  mkdirSync(dist, { recursive: true });
  const bundle = (file: string, define: Record<string, string>) => build({ ...common, entryPoints: [join(root, 'entry/main.ts')], outfile: join(dist, file), define: { ...common.define, ...define } });
  const jobs = [
    // multicall bundle for Node (dispatches on argv[1]'s name)
    bundle('cni-ts.cjs', { __CNI_TS_ADDON__: '"bundle"' }),
    // one Node bundle per plugin, its name built in
    ...PLUGIN_NAMES.map((name) => bundle(`${name}.cjs`, { __CNI_TS_ADDON__: '"bundle"', __CNI_TS_PLUGIN__: JSON.stringify(name) })),
    // the compiler's input: the executable's entry and its chunks
    ...execBundles(),
  ];
  await Promise.all(jobs);
  copyFileSync(addon, join(dist, 'netns_native.node'));
}

// the modes other than a plugin call, each a chunk of the executable (entry/chunks/<kind>.ts,
// imported by its kind's name): every kind dispatch.ts can return has one (the type says so)
const MODE_CHUNKS = Object.keys({ cli: true, agent: true, 'udp-thread': true, resolver: true, watch: true } satisfies Record<Exclude<Mode['kind'], 'plugin'>, true>);

/**
 * build/dist/exec/: main.js (exec-main.ts) and one chunk per plugin module and per other mode,
 * each bundled alone (ESM, for the compiler's bytecode): a plugin call evaluates its own code only.
 */
function execBundles(): Promise<unknown>[] {
  const out = join(dist, 'exec');
  const esm: BuildOptions = { ...common, format: 'esm', define: { ...common.define, __CNI_TS_ADDON__: '"exec"' } };
  const chunks = new Map<string, readonly [string, string]>();
  for (const name of PLUGIN_NAMES) chunks.set(pluginChunk(name), PLUGIN_MODULES[name]!);
  return [
    build({ ...esm, entryPoints: [join(root, 'entry/exec-main.ts')], outfile: join(out, 'main.js') }),
    ...MODE_CHUNKS.map((m) => build({ ...esm, entryPoints: [join(root, `entry/chunks/${m}.ts`)], outfile: join(out, `${m}.js`) })),
    ...[...chunks].map(([chunk, [module, exported]]) => build({
      ...esm,
      stdin: {
        contents: [
          `import { runPluginCall } from '../entry/chunks/plugin-call.ts';`,
          `import { ${exported} as plugin } from '../${module}';`,
          'export const run = () => runPluginCall(plugin);',
        ].join('\n'),
        resolveDir: join(root, 'entry'), sourcefile: `chunk-${chunk}.ts`, loader: 'ts',
      },
      outfile: join(out, `${chunk}.js`),
    })),
  ];
}

/** The executable's entry and chunks, as the compiler takes them (the entry first). */
function execInputs(): string[] {
  const out = join(dist, 'exec');
  return ['main.js', ...readdirSync(out).filter((f) => f.endsWith('.js') && f !== 'main.js').sort()].map((f) => join(out, f));
}

function executable(): void {
  rmSync(bin, { recursive: true, force: true });
  mkdirSync(bin, { recursive: true });
  const launched = launcher();
  // --no-compile-autoload-*: a root process must never read .env/bunfig.toml from its cwd.
  // --compile-jit-policy: a call is too short for JIT compilation to pay back, so tier-up comes
  // much later (where the launcher does not turn the JIT off: docs/start-up.md).
  execFileSync(bunBin, [
    'build', '--compile', '--bytecode', '--minify', '--target=bun', '--format=esm',
    '--no-compile-autoload-dotenv', '--no-compile-autoload-bunfig',
    '--no-compile-autoload-tsconfig', '--no-compile-autoload-package-json',
    '--compile-jit-policy=1000',
    // (--root: the chunks sit beside the entry in the executable, where it imports them from)
    '--root', join(dist, 'exec'), ...execInputs(), '--outfile', join(bin, launched ? 'cni-ts.bun' : 'cni-ts'),
  ], { stdio: ['ignore', 'ignore', 'inherit'] });
  // the addon sits at a fixed path beside the binary: never extracted to /tmp
  copyFileSync(addon, join(bin, 'netns_native.node'));
  for (const name of PLUGIN_NAMES) symlinkSync('cni-ts', join(bin, name));
  smokeTest();
}

/**
 * build/bin/cni-ts as the launcher in front of cni-ts.bun (build/launcher/launcher.c: VERSION
 * answered without the runtime, the plugin calls run without the JIT); x86-64 only, elsewhere
 * cni-ts is the Bun executable itself.
 */
function launcher(): boolean {
  if (!launcherBuilt) return false;
  // what it answers VERSION with, and to which names: the skeleton's reply, the plugins' names
  // (JSON's string escapes are C's for this ASCII text)
  const gen = join(dist, 'launcher-gen.h');
  writeFileSync(gen, [
    `static const char VERSION_REPLY[] = ${JSON.stringify(versionReply())};`,
    `static const char *const PLUGIN_NAMES[] = { ${PLUGIN_NAMES.map((n) => JSON.stringify(n)).join(', ')}, 0 };`,
    `static const char BUILD_ID[] = ${JSON.stringify(BUILD)};`,
    '',
  ].join('\n'));
  execFileSync('cc', [
    '-include', gen,
    '-Os', '-s', '-static', '-nostdlib', '-ffreestanding', '-fno-builtin', '-fno-stack-protector',
    '-fno-asynchronous-unwind-tables', '-fno-pie', '-no-pie', '-Wall', '-Wextra', '-Werror',
    '-Wl,--build-id=none', '-Wl,-z,noexecstack',
    '-o', join(bin, 'cni-ts'), join(root, 'build/launcher/launcher.c'),
  ], { stdio: 'inherit' });
  return true;
}

/**
 * Every plugin loads in the executable (no zod call left at a module's top level, say): an ADD
 * without its environment loads the plugin's module first, then fails with the spec's error
 * for the missing variables (VERSION would not do: the launcher answers it, and the runtime
 * answers it before any plugin module is evaluated).
 */
function smokeTest(): void {
  for (const name of PLUGIN_NAMES) {
    const r = spawnSync(join(bin, name), [], { env: { CNI_COMMAND: 'ADD' }, input: '{}', encoding: 'utf8' });
    let code: unknown;
    try { code = JSON.parse(r.stdout).code; } catch { /* reported below */ }
    if (r.status !== 1 || code !== 4) throw new Error(`build: ${name} does not load (exit ${r.status}): ${r.stdout}${r.stderr}`);
    const v = execFileSync(join(bin, name), [], { env: { CNI_COMMAND: 'VERSION' }, input: '{}', encoding: 'utf8' });
    if (v !== versionReply()) throw new Error(`build: ${name} answers VERSION with ${v}`);
  }
  // and the CLI's chunk, under the executable's own name
  const cli = spawnSync(join(bin, 'cni-ts'), ['version', '--json'], { encoding: 'utf8' });
  let listed: unknown;
  try { listed = JSON.parse(cli.stdout).plugins; } catch { /* reported below */ }
  if (cli.status !== 0 || JSON.stringify(listed) !== JSON.stringify(PLUGIN_NAMES)) throw new Error(`build: cni-ts version does not run (exit ${cli.status}): ${cli.stdout}${cli.stderr}`);
}

/** The libcni client the integration tests drive chains with (needs Debian's Go and libcni). */
function libcniClient(): void {
  if (!existsSync('/usr/share/gocode/src/github.com/containernetworking/cni/libcni')) {
    console.warn('build: skipping build/cnictl (apt-get install golang-go golang-github-appc-cni-dev)');
    return;
  }
  execFileSync('bash', [join(root, 'test/go-client.sh'), join(root, 'test/libcni-client'), join(root, 'build/cnictl')], { stdio: 'inherit' });
  // and go-cni's, the library containerd's CRI and nerdctl call plugins through
  if (!existsSync('/usr/share/gocode/src/github.com/containerd/go-cni')) {
    console.warn('build: skipping build/gocnictl (apt-get install golang-github-containerd-go-cni-dev)');
    return;
  }
  execFileSync('bash', [join(root, 'test/go-client.sh'), join(root, 'test/gocni-client'), join(root, 'build/gocnictl')], { stdio: 'inherit' });
}

await bundles();
if (!process.argv.includes('--bundles-only')) {
  executable();
  libcniClient();
}
console.log(`build ${BUILD}: ${PLUGIN_NAMES.length} plugins: build/dist/*.cjs, build/bin/{cni-ts,${PLUGIN_NAMES.join(',')}}`);
