// A Kubernetes pod's sandbox through containerd's CRI (containerd 1.6, Debian): RunPodSandbox,
// StopPodSandbox, RemovePodSandbox, as kubelet asks them, on nerdctl's chain (bridge,
// host-local, portmap, firewall, tuning, and the loopback the CRI adds). One containerd per
// implementation (ours exec'd, ours through the agent, the reference), each with its own
// root, state, socket, conflist and plugin directory, in the bench's host namespace with the
// machine's mounts (runc needs its cgroups, as podman's does). The sandbox's image is our own:
// a static pause program in a one-layer OCI image, imported from a file (no registry here).
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, REFERENCE_BIN, ROOT } from '../helpers/netns.ts';
import { VIA_EXEC, benchAgent, inMachine, inMachineMounts, unmountUnder, viaAgent, type Bench, type Impl } from './lib.ts';
import { nerdctlList } from './runtime.ts';
import { gone, pause } from '../../conformance/processes.ts';

const CLIENT = join(ROOT, 'test/bench/cri-client.mjs');
const IMAGE = 'localhost/cnits-pause:1';

export const containerdReady = (): boolean => spawnSync('containerd', ['--version']).status === 0 && spawnSync('ctr', ['--version']).status === 0 && spawnSync('runc', ['--version']).status === 0;

const PAUSE_C = `#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
static void quit(int s) { (void)s; _exit(0); }
static void reap(int s) { (void)s; while (waitpid(-1, 0, WNOHANG) > 0) {} }
int main(void) {
  signal(SIGINT, quit); signal(SIGTERM, quit); signal(SIGCHLD, reap);
  for (;;) pause();
}
`;

/** An OCI image layout (as a tar file) whose one layer holds /pause, a static program that waits for a signal. */
function pauseImage(dir: string): string {
  const blobs = join(dir, 'layout', 'blobs', 'sha256');
  mkdirSync(blobs, { recursive: true });
  mkdirSync(join(dir, 'rootfs'), { recursive: true });
  writeFileSync(join(dir, 'pause.c'), PAUSE_C);
  execFileSync('cc', ['-static', '-O2', '-o', join(dir, 'rootfs', 'pause'), join(dir, 'pause.c')]);
  execFileSync('tar', ['--owner=0', '--group=0', '--numeric-owner', '--mtime=@0', '-cf', join(dir, 'layer.tar'), '-C', join(dir, 'rootfs'), 'pause']);
  const blob = (bytes: Buffer): { digest: string; size: number } => {
    const hex = createHash('sha256').update(bytes).digest('hex');
    writeFileSync(join(blobs, hex), bytes);
    return { digest: `sha256:${hex}`, size: bytes.length };
  };
  const layer = blob(readFileSync(join(dir, 'layer.tar')));
  const config = blob(Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Entrypoint: ['/pause'] }, rootfs: { type: 'layers', diff_ids: [layer.digest] } })));
  const manifest = blob(Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...layer }],
  })));
  writeFileSync(join(dir, 'layout', 'index.json'), JSON.stringify({
    schemaVersion: 2,
    manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest, annotations: { 'io.containerd.image.name': IMAGE, 'org.opencontainers.image.ref.name': '1' } }],
  }));
  writeFileSync(join(dir, 'layout', 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  execFileSync('tar', ['-cf', join(dir, 'pause-image.tar'), '-C', join(dir, 'layout'), '.']);
  return join(dir, 'pause-image.tar');
}

/**
 * containerd's configuration: its own root, state and sockets; the CRI's sandbox image ours,
 * its CNI plugins and conflist from `binDir` and `confDir`. (restrict_oom_score_adj: this
 * machine cannot lower a process's OOM score, which the CRI asks for its sandboxes.)
 */
const containerdConfig = (d: string, binDir: string, confDir: string): string => `version = 2
root = "${d}/root"
state = "${d}/state"
[grpc]
  address = "${d}/containerd.sock"
[ttrpc]
  address = "${d}/containerd.sock.ttrpc"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${IMAGE}"
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "${binDir}"
    conf_dir = "${confDir}"
    max_conf_num = 1
`;

/** Kubelet's pod start and removal through containerd's CRI, each implementation's own containerd. */
export function criPod(host: string): Bench {
  const base = join(tmpdir(), `cnits-bench-cri-${process.pid}`);
  // (containerd names the namespaces it makes cni-<uuid>, in the machine's /run/netns)
  const machineNetns = (): string[] => inMachineMounts('ls', ['/run/netns']).stdout.split('\n').filter((n) => n.startsWith('cni-'));
  const cgroupParent = `/cnits-bench-cri-${process.pid}`;
  const daemons: { proc?: ChildProcess; setup: (image: string) => void }[] = [];
  const netnsBefore = new Set<string>();
  let round = 0;

  const impl = (label: string, binDir: string, k: number, env: Record<string, string>): Impl => {
    const d = join(base, label);
    const sock = join(d, 'containerd.sock');
    const daemon: (typeof daemons)[number] = {
      setup: (image) => {
        mkdirSync(join(d, 'conf'), { recursive: true });
        mkdirSync(join(d, 'logs'), { recursive: true });
        writeFileSync(join(d, 'conf', '10-bench.conflist'), JSON.stringify(nerdctlList(`cri${label}`, join(d, 'ipam'), k, { bridge: `cnitscri${k}`, subnet: `10.${220 + k}.0.0/16` })));
        writeFileSync(join(d, 'config.toml'), containerdConfig(d, binDir, join(d, 'conf')));
        const log = openSync(join(d, 'containerd.log'), 'a');
        // (the plugins it execs get its environment: ours exec'd, or told where the agent is)
        const [nsenter, ...prefix] = inMachine(host);
        daemon.proc = spawn(nsenter, [...prefix, 'containerd', '--config', join(d, 'config.toml')], { stdio: ['ignore', log, log], env: { PATH: process.env.PATH, ...env } });
        closeSync(log);
        for (const end = Date.now() + 20_000; !existsSync(sock);) {
          // (gone(), not exitCode: this code is synchronous, and the event loop that sets it never runs here)
          if (Date.now() > end || gone(daemon.proc.pid!)) throw new Error(`containerd (${label}) did not start: see ${join(d, 'containerd.log')}`);
          pause(50);
        }
        execFileSync('ctr', ['--address', sock, '-n', 'k8s.io', 'images', 'import', image], { stdio: 'ignore' });
      },
    };
    daemons.push(daemon);
    return {
      label,
      // (the client's own start-up and connection are outside the figure: it times the three calls)
      run: () => {
        const r = spawnSync(process.execPath, [CLIENT, sock, `pod-${label}-${round++}`, cgroupParent, join(d, 'logs')], { encoding: 'utf8', timeout: 120_000 });
        if (r.status !== 0) throw new Error(`CRI pod (${label}): ${r.stderr}`);
        return (JSON.parse(r.stdout) as { ms: number }).ms;
      },
    };
  };

  const impls: Impl[] = [
    impl('ours', BIN, 10, { ...VIA_EXEC }),
    ...(benchAgent() ? [impl('agent', BIN, 12, viaAgent())] : []),
    impl('reference', REFERENCE_BIN, 11, {}),
  ];
  return {
    name: 'containerd CRI pod run+stop+remove (kubelet\'s RunPodSandbox, StopPodSandbox, RemovePodSandbox; target <= 0.85)',
    runs: 20,   // a run is ~0.5-1 s; three of them a round
    impls,
    setup: () => {
      for (const n of machineNetns()) netnsBefore.add(n);
      mkdirSync(base, { recursive: true });
      const image = pauseImage(join(base, 'image'));
      for (const d of daemons) d.setup(image);
    },
    teardown: () => {
      for (const { proc } of daemons) {
        if (!proc?.pid) continue;
        proc.kill('SIGTERM');
        for (const end = Date.now() + 10_000; !gone(proc.pid) && Date.now() < end;) pause(50);
        if (!gone(proc.pid)) proc.kill('SIGKILL');
      }
      // what a sandbox a failed run left holds: its shim (named by its containerd's socket), the
      // namespace containerd made for it, its cgroups, and any mount under the directory
      spawnSync('pkill', ['-KILL', '-f', `containerd-shim-runc-v2 .*-address ${base}/`]);
      for (const n of machineNetns()) if (!netnsBefore.has(n)) inMachineMounts('ip', ['netns', 'del', n]);
      inMachineMounts('sh', ['-c', `for d in /sys/fs/cgroup/*${cgroupParent}; do [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + ; done; true`]);
      unmountUnder(base);
      rmSync(base, { recursive: true, force: true });
    },
  };
}
