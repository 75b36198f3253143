// The bench's guest part (`npm run bench` runs it through ../shared/vm/run-in-vm.sh, since this
// machine's kernel has no ESP or GCM): one TCP stream between containers on two hosts, over an
// overlay in clear and over an encrypted one side by side, and host to host on the underlay for
// scale; rounds interleaved. Prints one JSON line: Mbit/s per round for each.
import { spawn } from 'node:child_process';
import { inNs, overlayConf, overlayHosts, underlayOf } from './overlay-hosts.mjs';

const SECS = Number(process.argv[2] ?? 4), ROUNDS = Number(process.argv[3] ?? 3);
const SINK = `
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("0.0.0.0", 7001)); s.listen(1)
print("ready", flush=True)
c, _ = s.accept(); n = 0; t0 = None
while True:
    d = c.recv(1 << 18)
    if not d: break
    if t0 is None: t0 = time.monotonic()
    n += len(d)
print(n * 8 / (time.monotonic() - t0) / 1e6, flush=True)
`;
const SOURCE = 'import socket,sys,time\nc=socket.create_connection((sys.argv[1],7001),timeout=20);b=b"x"*(1<<18);end=time.monotonic()+float(sys.argv[2])\nwhile time.monotonic()<end: c.sendall(b)\nc.close()';

async function stream(from, to, addr) {
  const sink = spawn('ip', ['netns', 'exec', to, 'python3', '-c', SINK], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  sink.stdout.on('data', (d) => { out += d; });
  await new Promise((res) => { const i = setInterval(() => { if (out.includes('ready')) { clearInterval(i); res(); } }, 20); });
  inNs(from, 'timeout', String(SECS + 30), 'python3', '-c', SOURCE, addr, String(SECS));
  const killer = setTimeout(() => sink.kill(), 5000);
  await new Promise((res) => sink.on('exit', res));
  clearTimeout(killer);
  return Number(out.trim().split('\n').at(-1));
}

const cl = await overlayHosts(2);
try {
  const sec = overlayConf({ name: 'sec', vni: 77, subnet: '10.77.0.0/24', encrypted: true });
  const pub = overlayConf({ name: 'pub', vni: 78, subnet: '10.78.0.0/24', port: 4799 });
  const [a, b, pa, pb] = ['a', 'b', 'pa', 'pb'].map((n) => cl.container(n));
  for (const h of cl.hosts) { cl.prep(h, sec); cl.prep(h, pub); cl.startSync(h); }
  const ips = [[cl.hosts[0], sec, a], [cl.hosts[1], sec, b], [cl.hosts[0], pub, pa], [cl.hosts[1], pub, pb]].map(([h, conf, ctr]) => {
    const r = cl.cni(h, 'ADD', conf, ctr);
    if (r.status !== 0) throw new Error(r.out);
    return r.ip;
  });
  // the sync processes have given each host the other's entries and states
  for (let i = 0; i < 100 && inNs(a, 'ping', '-c', '1', '-W', '1', ips[1]).status !== 0; i++);
  for (let i = 0; i < 100 && inNs(pa, 'ping', '-c', '1', '-W', '1', ips[3]).status !== 0; i++);
  const out = { underlay: [], clear: [], encrypted: [] };
  for (let r = 0; r < ROUNDS; r++) {
    out.underlay.push(await stream(cl.hosts[0], cl.hosts[1], underlayOf(1)));
    out.clear.push(await stream(pa, pb, ips[3]));
    out.encrypted.push(await stream(a, b, ips[1]));
  }
  process.stdout.write(`${JSON.stringify(out)}\n`);
} finally {
  await cl.close();
}
