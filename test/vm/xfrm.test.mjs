// IPsec through our XFRM netlink code (shared/netlink/xfrm.ts), in the User-Mode Linux guest:
// this machine's kernel has no ESP or GCM. Two namespaces over a veth; UDP to the VXLAN port
// between them goes in ESP (transport, AES-GCM) under states and policies we made; a capture on
// the receiving side sees ESP and never the payload; removed, nothing is left and the same
// traffic is seen in clear (so the capture can tell the two apart).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
const ip = (...a) => execFileSync('ip', a, { encoding: 'utf8' });
const pair = (...a) => spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'test/vm/xfrm-pair.ts'), ...a], { cwd: ROOT, encoding: 'utf8' });

// B's side: the UDP server and a capture of every frame on b0, until three datagrams came (or
// `secs` seconds: a process start in the guest is slow); JSON out
const RECEIVER = `
import json, select, socket, sys, time
raw = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3)); raw.bind(("b0", 0))
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); udp.bind(("10.0.0.2", 4789))
print("ready", flush=True)
got, frames, end = [], [], time.time() + float(sys.argv[1])
while time.time() < end and len(got) < 3:
    r, _, _ = select.select([raw, udp], [], [], 0.1)
    if udp in r: got.append(udp.recv(2048).decode(errors="replace"))
    if raw in r:
        f = raw.recv(4096)
        if len(f) > 34 and f[12:14] == b"\\x08\\x00" and f[26:30] == bytes([10, 0, 0, 1]):
            frames.append({"proto": f[23], "plain": b"cnits-secret" in f})
print(json.dumps({"got": got, "frames": frames}), flush=True)
`;
const SEND = 'import socket,sys,time\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\nfor i in range(3):\n  s.sendto(b"cnits-secret-%d" % i, ("10.0.0.2", 4789)); time.sleep(0.2)';

async function exchange(a, b) {
  const rx = spawn('ip', ['netns', 'exec', b, 'python3', '-c', RECEIVER, '15'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  rx.stdout.on('data', (d) => { out += d; });
  await new Promise((res) => { const i = setInterval(() => { if (out.includes('ready')) { clearInterval(i); res(); } }, 20); });
  spawnSync('ip', ['netns', 'exec', a, 'python3', '-c', SEND]);
  await new Promise((res) => rx.on('exit', res));
  return JSON.parse(out.split('\n').filter(Boolean).at(-1));
}

test('UDP to the VXLAN port between two hosts goes in ESP (AES-GCM) under our states and policies; removed, nothing is left', async (t) => {
  spawnSync('modprobe', ['-a', 'xfrm_user', 'esp4', 'gcm']);
  const a = `xa${process.pid}`, b = `xb${process.pid}`;
  for (const n of [a, b]) { ip('netns', 'add', n); t.after(() => spawnSync('ip', ['netns', 'del', n])); ip('-n', n, 'link', 'set', 'lo', 'up'); }
  ip('-n', a, 'link', 'add', 'a0', 'type', 'veth', 'peer', 'name', 'b0', 'netns', b);
  ip('-n', a, 'addr', 'add', '10.0.0.1/24', 'dev', 'a0'); ip('-n', a, 'link', 'set', 'a0', 'up');
  ip('-n', b, 'addr', 'add', '10.0.0.2/24', 'dev', 'b0'); ip('-n', b, 'link', 'set', 'b0', 'up');

  const up = pair('up', a, '10.0.0.1', b, '10.0.0.2');
  assert.equal(up.status, 0, up.stderr);
  const listed = JSON.parse(pair('list', a, '10.0.0.1', b, '10.0.0.2').stdout);
  for (const n of [a, b]) {
    assert.deepEqual(listed[n].states.map((s) => s.spi).sort(), [0x1001, 0x1002], `${n}: a state each way`);
    assert.ok(listed[n].states.every((s) => s.aead === 'rfc4106(gcm(aes))'), 'AES-GCM');
    assert.equal(listed[n].policies.length, 2, `${n}: a policy each way`);
  }
  const sealed = await exchange(a, b);
  assert.deepEqual(sealed.got, ['cnits-secret-0', 'cnits-secret-1', 'cnits-secret-2'], 'B receives what A sent');
  assert.ok(sealed.frames.length >= 3 && sealed.frames.every((f) => f.proto === 50), `on the wire: ESP only (${JSON.stringify(sealed.frames)})`);
  assert.ok(sealed.frames.every((f) => !f.plain), 'and never the payload');

  const down = pair('down', a, '10.0.0.1', b, '10.0.0.2');
  assert.equal(down.status, 0, down.stderr);
  const after = JSON.parse(pair('list', a, '10.0.0.1', b, '10.0.0.2').stdout);
  for (const n of [a, b]) assert.deepEqual(after[n], { states: [], policies: [] }, `${n}: no state or policy left`);
  const clear = await exchange(a, b);
  assert.ok(clear.frames.some((f) => f.proto === 17 && f.plain), 'without them the capture sees the payload in clear: it tells the two apart');
});
