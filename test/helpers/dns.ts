// dns-hosts tests: containers (namespaces of the test's own) on networks (conflists in a temp
// dir) added and removed through the libcni client with the runtime's args, and queries asked
// from inside a container with a real client (dig), as the container's resolv.conf says.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, ROOT, makeNetns, tempDir } from './netns.ts';

type Teardown = { teardown(fn: () => void): void };
const CNICTL = join(ROOT, 'build/cnictl');

export interface Answer { status: string; answers: string[] }

/** dig from inside `ns` (to 127.0.0.11 unless opts name an @server): the status and the answers' data, in order. */
export function dig(ns: string, name: string, type = 'A', opts: string[] = []): Answer {
  const server = opts.find((o) => o.startsWith('@')) ?? '@127.0.0.11';
  opts = opts.filter((o) => !o.startsWith('@'));
  const r = spawnSync('ip', ['netns', 'exec', ns, 'dig', '+tries=1', '+time=3', server, ...opts, ...(opts.includes('-x') ? [name] : ['-q', name, '-t', type]), '+noall', '+answer', '+comments'], { encoding: 'utf8' });
  const status = /status: (\w+)/.exec(r.stdout)?.[1] ?? `no reply (${r.stdout.trim().split('\n').at(-1)})`;
  const answers = r.stdout.split('\n').filter((l) => l && !l.startsWith(';')).map((l) => l.trim().split(/\s+/).at(-1)!);
  return { status, answers };
}

export const addresses = (ns: string, name: string, type = 'A'): string[] => dig(ns, name, type).answers;

export interface Container { name: string; ns: string; path: string; id: string }

export class DnsWorld {
  readonly dir: string;
  constructor(private t: Teardown, readonly host: string) {
    this.dir = tempDir(t, 'cnits-dns-');
  }

  /** A network: main plugin config (ipam dataDir filled in), then dns-hosts with `dns` keys. */
  network(name: string, main: Record<string, any>, dns: Record<string, unknown> = {}): void {
    const ipam = main.ipam ? { ...main.ipam, dataDir: join(this.dir, 'ipam') } : undefined;
    const conf = {
      cniVersion: '1.0.0', name,
      plugins: [{ ...main, ...(ipam ? { ipam } : {}) }, { type: 'dns-hosts', capabilities: { aliases: true, links: true }, ...dns }],
    };
    writeFileSync(join(this.dir, `${name}.conflist`), JSON.stringify(conf));
  }

  container(name: string): Container {
    const n = makeNetns(this.t, 'cnits-dnsc');
    const c = { name, ns: n.name, path: n.path, id: `${name}-${n.name}`.replace(/[^a-zA-Z0-9_.-]/g, '-') };
    return c;
  }

  /** The libcni client's call, as a runtime makes it (name in K8S_POD_NAME, capabilities in CAP_ARGS). */
  call(op: 'add' | 'del' | 'check', c: Container, network: string, ifname: string, caps: Record<string, unknown> = {}, wrap: string[] = []) {
    const [cmd, ...args] = [...wrap, 'ip', 'netns', 'exec', this.host, CNICTL, op, network, c.path];
    const r = spawnSync(cmd!, args, {
      encoding: 'utf8',
      env: {
        PATH: process.env.PATH!, NETCONFPATH: this.dir, CNI_PATH: BIN, CNI_CACHE_DIR: join(this.dir, 'cache'),
        CNI_CONTAINERID: c.id, CNI_IFNAME: ifname, CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=${c.name}`,
        CAP_ARGS: JSON.stringify(caps),
      },
    });
    return { status: r.status, stderr: r.stderr, json: r.status === 0 && r.stdout ? JSON.parse(r.stdout) : undefined };
  }

  /** ADD, and the container's resolv.conf written from the result's dns, as runtimes do. */
  add(c: Container, network: string, ifname: string, caps: Record<string, unknown> = {}) {
    const r = this.call('add', c, network, ifname, caps);
    if (r.status !== 0) throw new Error(`ADD ${c.name} to ${network}: ${r.stderr}`);
    const dns = r.json.dns ?? {};
    const etc = join('/etc/netns', c.ns);
    mkdirSync(etc, { recursive: true });
    this.t.teardown(() => rmSync(etc, { recursive: true, force: true }));
    writeFileSync(join(etc, 'resolv.conf'), [...(dns.search?.length ? [`search ${dns.search.join(' ')}`] : []), ...(dns.nameservers ?? []).map((n: string) => `nameserver ${n}`), 'options timeout:2 attempts:1', ''].join('\n'));
    return r.json;
  }

  del(c: Container, network: string, ifname: string): void {
    const r = this.call('del', c, network, ifname);
    if (r.status !== 0) throw new Error(`DEL ${c.name} from ${network}: ${r.stderr}`);
  }
}

/** ping by name from inside a container, through its resolv.conf (glibc's resolver). */
export function pingName(ns: string, name: string): boolean {
  return spawnSync('ip', ['netns', 'exec', ns, 'ping', '-c1', '-W2', name], { encoding: 'utf8' }).status === 0;
}

/**
 * An upstream resolver for the test: dnsmasq inside `host` on a loopback address, authoritative
 * for `zone` (names of `hosts`, NXDOMAIN for the rest of the zone), stopped in teardown.
 */
export async function upstream(t: Teardown, host: string, dir: string, zone: string, hosts: string, address = '127.0.0.53') {
  const file = join(dir, `${zone}.hosts`);
  writeFileSync(file, hosts);
  const p = spawn('ip', ['netns', 'exec', host, 'dnsmasq', '--keep-in-foreground', '--no-resolv', '--no-hosts', `--addn-hosts=${file}`,
    `--local=/#/`, `--listen-address=${address}`, '--bind-interfaces', '--port=53', '--pid-file=', '--user=root'], { stdio: 'ignore' });
  t.teardown(() => { p.kill('SIGKILL'); });
  for (let i = 0; i < 50; i++) {
    if (spawnSync('ip', ['netns', 'exec', host, 'dig', `@${address}`, '+tries=1', '+time=1', `probe.${zone}`], { encoding: 'utf8' }).stdout.includes('status:')) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return { address, stop: () => p.kill('SIGKILL') };
}
