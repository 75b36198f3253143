// `podman run --rm localhost/bb true` (podman 4.3) on a bridge+portmap network: on our plugins,
// on the reference plugins (both through podman's CNI backend), and on podman's own netavark
// backend, beside `--network none`: what networking adds to a container's life, start to
// removal. podman runs with the machine's mounts (runc needs its cgroups) but inside the
// bench's host namespace; netavark gets a storage of its own (podman keeps the backend in its
// database). Skipped when podman is not set up (../shared/podman/setup.sh).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, REFERENCE_BIN, ROOT } from '../helpers/netns.ts';
import { VIA_EXEC, benchAgent, inMachineMounts, unmountUnder, viaAgent, type Bench, type Impl } from './lib.ts';

const LIB = join(ROOT, '../shared/podman/lib.sh');
export const podmanReady = (): boolean =>
  existsSync('/etc/containers/containers.conf') && existsSync(LIB) && spawnSync('podman', ['--version']).status === 0 && existsSync('/usr/lib/podman/netavark');

/**
 * A CNI network for podman: its containers.conf and conflist (bridge and portmap; with `dns`,
 * nerdctl's and podman's full chain and dnsname, as podman writes it when dnsname is there).
 * `pluginEnv` reaches the plugins of podman's own calls and, through conmon, of its cleanup's.
 */
function podmanCni(base: string, label: string, dir: string, k: number, pluginEnv: Record<string, string>, dns = false): { env: Record<string, string>; setup: () => void } {
  const d = join(base, label);
  const env = { CONTAINERS_CONF: join(d, 'containers.conf'), ...pluginEnv };
  return {
    env,
    setup: () => {
      mkdirSync(join(d, 'nets'), { recursive: true });
      writeFileSync(join(d, 'nets', `bench${label}.conflist`), JSON.stringify({
        cniVersion: '1.0.0', name: `bench${label}`,
        plugins: [
          { type: 'bridge', bridge: `cnitspb${k}`, isGateway: true, ipMasq: true, hairpinMode: true, ipam: { type: 'host-local', dataDir: join(d, 'ipam'), ranges: [[{ subnet: `10.${240 + k}.0.0/24` }]], routes: [{ dst: '0.0.0.0/0' }] } },
          { type: 'portmap', capabilities: { portMappings: true } },
          ...(dns ? [{ type: 'firewall', backend: '' }, { type: 'tuning' }, { type: 'dnsname', domainName: 'dns.podman', capabilities: { aliases: true } }] : []),
        ],
      }));
      const conmonEnv = Object.entries(pluginEnv).map(([k2, v]) => `${k2}=${v}`).join(' ');
      execFileSync('bash', ['-c', `. ${LIB} && harness_conf ${env.CONTAINERS_CONF} ${dir} ${join(d, 'nets')}`], { env: { ...process.env, HARNESS_CONMON_ENV: conmonEnv } });
    },
  };
}

/**
 * `podman run --rm` on a bridge+portmap network (ours exec'd, ours through the agent, the
 * reference, netavark), or with `dns` on a DNS-enabled one: nerdctl's chain with dnsname against
 * netavark with aardvark-dns (the reference plugins have no DNS of their own).
 */
export function podmanRun(host: string, dns = false): Bench {
  const base = join(tmpdir(), `cnits-bench-podman${dns ? 'dns' : ''}-${process.pid}`);
  // the machine's mount namespace, the bench's network namespace
  const podman = (env: Record<string, string>, ...args: string[]) => {
    const r = inMachineMounts('podman', args, { host, env: { ...process.env, ...env } });
    if (r.status !== 0) throw new Error(`podman ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const k = dns ? 4 : 0;
  const ours = podmanCni(base, 'ours', BIN, k, VIA_EXEC, dns), ref = dns ? undefined : podmanCni(base, 'reference', REFERENCE_BIN, k + 1, {});
  const agent = benchAgent() ? podmanCni(base, 'agent', BIN, k + 3, viaAgent(), dns) : undefined;
  // netavark: its own containers.conf, storage and network
  const nd = join(base, 'netavark');
  const nav = { CONTAINERS_CONF: join(nd, 'containers.conf'), CONTAINERS_STORAGE_CONF: join(nd, 'storage.conf') };
  const navNet = dns ? 'benchnavdns' : 'benchnav';
  const navSetup = () => {
    for (const x of ['networks', 'graph', 'run', 'tmp']) mkdirSync(join(nd, x), { recursive: true });
    const conf = readFileSync('/etc/containers/containers.conf', 'utf8')
      .replace(/^network_backend = .*$/m, 'network_backend = "netavark"')
      .replace(/^network_config_dir = .*$/m, `network_config_dir = "${join(nd, 'networks')}"`)
      .replace(/^default_network = .*$/m, 'default_network = "harness-unused-default"')
      .replace(/^\[engine\]$/m, `[engine]\ntmp_dir = "${join(nd, 'tmp')}"`);
    writeFileSync(nav.CONTAINERS_CONF, conf);
    writeFileSync(nav.CONTAINERS_STORAGE_CONF, `[storage]\ndriver = "overlay"\ngraphroot = "${join(nd, 'graph')}"\nrunroot = "${join(nd, 'run')}"\n`);
    execFileSync('bash', ['-c', `podman save -o ${join(nd, 'bb.tar')} localhost/bb:latest >/dev/null 2>&1`]);
    podman(nav, 'load', '-q', '-i', join(nd, 'bb.tar'));
    // (with DNS: aardvark-dns answers on the network's gateway, as podman sets it up by default)
    podman(nav, 'network', 'create', ...(dns ? [] : ['--disable-dns']), '--subnet', `10.${dns ? 249 : 242}.0.0/24`, navNet);
  };
  const run = (env: Record<string, string>, network: string) => () => { podman(env, 'run', '--rm', '--network', network, '-p', `${dns ? 18201 : 18200}:80`, 'localhost/bb', 'true'); };
  const impls: Impl[] = [
    { label: 'none', run: () => { podman(ours.env, 'run', '--rm', '--network', 'none', 'localhost/bb', 'true'); } },
    { label: 'ours', run: run(ours.env, 'benchours') },
    ...(agent ? [{ label: 'agent', run: run(agent.env, 'benchagent') }] : []),
    ...(ref ? [{ label: 'reference', run: run(ref.env, 'benchreference') }] : []),
    { label: 'netavark', run: run(nav, navNet) },
  ];
  return {
    name: dns ? 'podman run --rm true, DNS-enabled network (bridge, portmap, firewall, tuning, dnsname; netavark with aardvark-dns)' : 'podman run --rm true, bridge+portmap network',
    runs: 20,   // a run is ~0.3 s; four of them a round
    impls,
    setup: () => { ours.setup(); ref?.setup(); agent?.setup(); navSetup(); },
    // (netavark's storage leaves its overlay directory mounted: the directory would stay)
    teardown: () => { unmountUnder(base); rmSync(base, { recursive: true, force: true }); },
  };
}
