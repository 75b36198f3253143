// vxlan-overlay with "encrypted": true, in the User-Mode Linux guest (this machine's kernel has
// no ESP or GCM): three hosts as namespaces on one underlay switch, etcd on the switch, a sync
// process per host, containers added by the built plugin. Encrypted traffic crosses as ESP only
// (a capture on a host's underlay port never sees VXLAN or the payload), an overlay in clear runs
// beside it on another port, keys rotate under a running TCP stream without losing it, a clear
// packet to the encrypted port is dropped by the kernel, and DEL everywhere leaves no xfrm
// state or policy. The guest's nftables has no inet family, so each host's device is made ahead
// of its first ADD, less the isolation (overlay-ipsec-host.ts prep); everything else is the
// plugin's and the sync process's own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { inNs, overlayConf, overlayHosts, underlayOf as u } from './overlay-hosts.mjs';

const ping = (ns, target) => inNs(ns, 'ping', '-c', '2', '-W', '3', target).status === 0;
const statesOf = (l, src, dst) => l.states.filter((s) => s.src === src && s.dst === dst);

// every IPv4 frame through one underlay port, for `secs` seconds: protocol, UDP port, and whether
// a marker of the traffic shows in clear
const CAPTURE = `
import json, socket, sys, time
raw = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3)); raw.bind((sys.argv[1], 0)); raw.settimeout(0.2)
print("ready", flush=True)
seen, end = {}, time.time() + float(sys.argv[2])
while time.time() < end:
    try: f = raw.recv(4096)
    except socket.timeout: continue
    if len(f) < 34 or f[12:14] != b"\\x08\\x00": continue
    proto = f[23]; ihl = (f[14] & 15) * 4
    dport = int.from_bytes(f[14 + ihl + 2:14 + ihl + 4], "big") if proto == 17 else 0
    k = "%d:%d:%s" % (proto, dport, "marker" if b"cnits-marker" in f else "-")
    seen[k] = seen.get(k, 0) + 1
print(json.dumps(seen), flush=True)
`;
// a TCP stream of numbered lines for `secs` seconds; the server checks every line came, in order
const SERVER = `
import json, socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("0.0.0.0", 7000)); s.listen(1)
print("ready", flush=True)
c, _ = s.accept(); buf = b""
while True:
    d = c.recv(65536)
    if not d: break
    buf += d
lines = buf.decode().splitlines()
ok = all(l == "cnits-marker %06d %s" % (i, "x" * 200) for i, l in enumerate(lines))
print(json.dumps({"lines": len(lines), "inOrder": ok}), flush=True)
`;
const CLIENT = `
import socket, sys, time
c = socket.create_connection((sys.argv[1], 7000), timeout=30); end = time.time() + float(sys.argv[2]); i = 0
while time.time() < end:
    c.sendall(("cnits-marker %06d %s\\n" % (i, "x" * 200)).encode()); i += 1; time.sleep(0.02)
c.shutdown(socket.SHUT_WR); c.recv(1); print(i, flush=True)
`;

function started(ns, script, ...args) {
  const p = spawn('ip', ['netns', 'exec', ns, 'python3', '-c', script, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  p.stdout.on('data', (d) => { out += d; });
  const ready = new Promise((res) => { const i = setInterval(() => { if (out.includes('ready')) { clearInterval(i); res(); } }, 20); });
  const done = new Promise((res) => p.on('exit', () => res(JSON.parse(out.split('\n').filter(Boolean).at(-1)))));
  return { p, ready, done };
}

function xfrmStat(ns) {
  const out = {};
  for (const l of inNs(ns, 'cat', '/proc/net/xfrm_stat').stdout.split('\n')) { const [k, v] = l.trim().split(/\s+/); if (k) out[k] = Number(v); }
  return out;
}

test('an encrypted overlay across three hosts: ESP only on the wire, a clear overlay beside it, keys rotated under a TCP stream, nothing left after DEL', { timeout: 300_000 }, async (t) => {
  const cl = await overlayHosts(3);
  t.after(() => cl.close());
  const { w, hosts } = cl;
  const ctrs = [1, 2, 3].map((i) => cl.container(`c${i}`)), pubs = [1, 2].map((i) => cl.container(`p${i}`));
  const list = (ns) => cl.xfrm(ns)[ns];
  const stateOf = (ns, src, dst) => statesOf(list(ns), src, dst);

  const sec = overlayConf({ name: 'sec', vni: 77, subnet: '10.77.0.0/24', encrypted: true, keyRotation: 12 });
  const pub = overlayConf({ name: 'pub', vni: 78, subnet: '10.78.0.0/24', port: 4799 });
  for (const h of hosts) cl.prep(h, sec);
  for (const h of hosts.slice(0, 2)) cl.prep(h, pub);
  for (const h of hosts) cl.startSync(h);

  const got = hosts.map((h, i) => cl.cni(h, 'ADD', sec, ctrs[i]));
  got.forEach((r, i) => assert.equal(r.status, 0, `ADD on host ${i + 1}: ${r.out}`));
  const ips = got.map((r) => r.ip);
  const pubGot = [0, 1].map((i) => cl.cni(hosts[i], 'ADD', pub, pubs[i]));
  pubGot.forEach((r, i) => assert.equal(r.status, 0, `clear ADD on host ${i + 1}: ${r.out}`));
  const mtu = (ns) => JSON.parse(inNs(ns, 'ip', '-j', 'link', 'show', 'eth0').stdout)[0].mtu;
  assert.deepEqual([mtu(ctrs[0]), mtu(pubs[0])], [1410, 1450], 'an encrypted overlay\'s MTU leaves room for ESP as well as VXLAN: nothing fragments');

  // the states: each host one out per peer, and one in per peer and key (two while a new key comes in)
  for (let k = 0; k < 50 && list(hosts[0]).states.length < 4; k++) await sleep(200);
  const all = cl.xfrm(...hosts);
  for (const [i, h] of hosts.entries()) {
    const l = all[h];
    const peers = [0, 1, 2].filter((j) => j !== i).map(u);
    assert.deepEqual(l.states.filter((s) => s.src === u(i)).map((s) => s.dst).sort(), peers, `host ${i + 1}: one out state per peer (${JSON.stringify(l.states)})`);
    assert.deepEqual([...new Set(l.states.filter((s) => s.dst === u(i)).map((s) => s.src))].sort(), peers, `host ${i + 1}: in states from each peer`);
    assert.ok(l.states.every((s) => s.aead === 'rfc4106(gcm(aes))'), 'AES-GCM');
    assert.deepEqual(l.policies.map((p) => `${p.dir} ${p.src} ${p.dst} ${p.dport}`).sort(), [`0 0.0.0.0/0 ${u(i)}/32 4789`, `1 ${u(i)}/32 0.0.0.0/0 4789`], `host ${i + 1}: an in and an out policy for the encrypted port only`);
  }
  const out12 = statesOf(all[hosts[0]], u(0), u(1))[0].spi;
  assert.ok(statesOf(all[hosts[1]], u(0), u(1)).some((s) => s.spi === out12), `host 1 sends under an SPI host 2 accepts (${JSON.stringify(all)})`);

  assert.ok(ping(ctrs[0], ips[1]) && ping(ctrs[0], ips[2]) && ping(ctrs[2], ips[1]), 'containers ping across hosts, encrypted');
  assert.ok(ping(pubs[0], pubGot[1].ip), 'and across the clear overlay beside it');

  // the stream, with a capture on host 2's underlay port, across at least one key rotation
  const outBefore = stateOf(hosts[0], u(0), u(1))[0].spi;
  const cap = started(w, CAPTURE, 'port2', '32');
  const srv = started(ctrs[1], SERVER);
  await Promise.all([cap.ready, srv.ready]);
  const pubSent = inNs(pubs[0], 'python3', '-c', `import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\nfor i in range(5): s.sendto(b"cnits-marker clear", ("${pubGot[1].ip}", 9))`);
  const cli = inNs(ctrs[0], 'timeout', '60', 'python3', '-c', CLIENT, ips[1], '24');
  assert.equal(cli.status, 0, `the TCP stream ran to its end: ${cli.stderr}`);
  assert.equal(pubSent.status, 0);
  const [seen, stream] = await Promise.all([cap.done, srv.done]);
  assert.ok(stream.lines > 500 && stream.inOrder && stream.lines === Number(cli.stdout.trim()), `every line arrived, in order (${JSON.stringify(stream)}, sent ${cli.stdout.trim()})`);
  const keyRec = JSON.parse(cl.etcdctl('get', '/cni-ts/overlay/sec/ipsec/keys', '--print-value-only').stdout);
  assert.ok(Math.max(...keyRec.keys.map((k) => k.id)) >= 2, `the keys rotated meanwhile (${keyRec.keys.map((k) => k.id)})`);
  assert.notEqual(stateOf(hosts[0], u(0), u(1))[0].spi, outBefore, 'and host 1 sends under a new SPI');
  assert.ok((seen['50:0:-'] ?? 0) > 500, `the stream crossed as ESP (${JSON.stringify(seen)})`);
  assert.equal(Object.keys(seen).filter((k) => k.startsWith('17:4789:')).length, 0, 'no VXLAN of the encrypted overlay on the wire');
  assert.equal(Object.keys(seen).filter((k) => k.endsWith(':marker') && !k.startsWith('17:4799:')).length, 0, 'the marker never in clear, but on the clear overlay');
  assert.ok(seen['17:4799:marker'] > 0, 'while the clear overlay\'s VXLAN shows it: the capture can tell');

  // a clear VXLAN packet to the encrypted port, from the underlay (not a host: its out policy would seal it), is dropped by the in policy
  const before = xfrmStat(hosts[0]);
  inNs(w, 'python3', '-c', 'import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\nfor i in range(3): s.sendto(b"\\x08\\0\\0\\0\\0\\0\\x4d\\0" + b"x" * 60, ("192.168.50.1", 4789))');
  await sleep(300);
  const after = xfrmStat(hosts[0]);
  assert.ok(after.XfrmInTmplMismatch - before.XfrmInTmplMismatch >= 3, `host 1 dropped the clear packets (${JSON.stringify(after)})`);

  // host 3 leaves: its states and policies go, and the other hosts' sync processes drop it
  assert.equal(cl.cni(hosts[2], 'DEL', sec, ctrs[2]).status, 0);
  assert.deepEqual(list(hosts[2]), { states: [], policies: [] }, 'host 3 holds no state or policy');
  let left = [];
  for (let k = 0; k < 50; k++) {
    const l = cl.xfrm(...hosts.slice(0, 2));
    left = Object.values(l).flatMap((x) => x.states.filter((s) => s.src === u(2) || s.dst === u(2)));
    if (!left.length) break;
    await sleep(200);
  }
  assert.deepEqual(left, [], 'hosts 1 and 2 dropped host 3\'s states');
  assert.ok(ping(ctrs[0], ips[1]), 'and still reach each other');

  for (const [i, h] of hosts.slice(0, 2).entries()) {
    assert.equal(cl.cni(h, 'DEL', sec, ctrs[i]).status, 0);
    assert.equal(cl.cni(h, 'DEL', pub, pubs[i]).status, 0);
  }
  const end = cl.xfrm(...hosts);
  for (const h of hosts) assert.deepEqual(end[h], { states: [], policies: [] }, `${h}: DEL everywhere leaves no xfrm state or policy`);
  const bad = [...cl.logs.values()].join('').split('\n').filter((l) => /skipped|sync:/.test(l));
  assert.deepEqual(bad, [], 'the sync processes logged no failure');
});
