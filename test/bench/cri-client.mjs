// A CRI client for the bench, as kubelet drives a pod's sandbox: on one gRPC connection to
// containerd (kept open, as kubelet keeps its own), RunPodSandbox, StopPodSandbox,
// RemovePodSandbox; prints {"ms": <the three calls>, "id": <the sandbox>}. No CRI client is in
// Debian (no crictl, no Go CRI module), so this one speaks gRPC itself: HTTP/2 over the unix
// socket, the messages encoded by hand (only the fields kubelet sets for a plain pod).
//   node cri-client.mjs SOCKET NAME CGROUP_PARENT LOG_DIR
import { connect } from 'node:http2';
import { createConnection } from 'node:net';

const [socket, name, cgroupParent, logDir] = process.argv.slice(2);
if (!socket || !name || !cgroupParent || !logDir) {
  process.stderr.write('usage: cri-client.mjs SOCKET NAME CGROUP_PARENT LOG_DIR\n');
  process.exit(2);
}

// protobuf: length-delimited fields (wire type 2) are all this needs
const varint = (n) => { const out = []; while (n > 127) { out.push((n & 127) | 128); n >>>= 7; } out.push(n); return Buffer.from(out); };
const field = (no, body) => { const b = Buffer.isBuffer(body) ? body : Buffer.from(body); return Buffer.concat([varint((no << 3) | 2), varint(b.length), b]); };
const message = (...fields) => Buffer.concat(fields);

/** The string in field 1 of a reply (RunPodSandboxResponse.pod_sandbox_id). */
function firstString(b) {
  if (b[0] !== 0x0a) return '';
  let len = 0, shift = 0, i = 1;
  for (; i < b.length; i++) { len |= (b[i] & 127) << shift; shift += 7; if (!(b[i] & 128)) { i++; break; } }
  return b.subarray(i, i + len).toString();
}

const client = connect('http://localhost', { createConnection: () => createConnection(socket) });
client.on('error', (e) => { process.stderr.write(`cri-client: ${e.message}\n`); process.exit(1); });

function call(method, body, service = 'RuntimeService') {
  return new Promise((resolve, reject) => {
    const req = client.request({ ':method': 'POST', ':path': `/runtime.v1.${service}/${method}`, 'content-type': 'application/grpc', te: 'trailers' });
    const chunks = [];
    let status, detail;
    const take = (h) => { if (h['grpc-status'] !== undefined) { status = Number(h['grpc-status']); detail = decodeURIComponent(String(h['grpc-message'] ?? '')); } };
    req.on('response', take);
    req.on('trailers', take);
    req.on('data', (d) => chunks.push(d));
    req.on('error', reject);
    req.setTimeout(120_000, () => req.close());
    req.on('end', () => {
      if (status !== 0) return reject(new Error(`${method}: grpc-status ${status}: ${detail}`));
      const all = Buffer.concat(chunks);
      resolve(all.length >= 5 ? all.subarray(5, 5 + all.readUInt32BE(1)) : Buffer.alloc(0));
    });
    const head = Buffer.alloc(5);
    head.writeUInt32BE(body.length, 1);
    req.end(Buffer.concat([head, body]));
  });
}

try {
  await call('Version', message(field(1, 'v1')));   // (the connection up before the clock starts)
  const t0 = process.hrtime.bigint();
  const config = message(
    field(1, message(field(1, name), field(2, `uid-${name}`), field(3, 'default'))),   // metadata
    field(2, name),                                                                     // hostname
    field(3, `${logDir}/${name}`),                                                     // log_directory
    field(8, message(field(1, cgroupParent))),                                         // linux.cgroup_parent
  );
  const id = firstString(await call('RunPodSandbox', message(field(1, config))));
  if (!id) throw new Error('RunPodSandbox: no sandbox id in the reply');
  await call('StopPodSandbox', message(field(1, id)));
  await call('RemovePodSandbox', message(field(1, id)));
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  process.stdout.write(`${JSON.stringify({ ms, id })}\n`);
  client.close();
} catch (e) {
  process.stderr.write(`cri-client: ${e.message}\n`);
  client.destroy();
  process.exit(1);
}
