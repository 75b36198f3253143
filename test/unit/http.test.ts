// shared/os/http.ts: one HTTP/1.1 POST through the addon's tcpExchange, against servers on loopback
// that this test starts and stops: the request as sent, replies by Content-Length, chunked and
// to the connection's end, a server that never answers (bounded), malformed replies.
import { spawn } from 'node:child_process';
import t, { type Test } from 'tap';
import { httpPost, literalHost, parseReply } from '../../shared/os/http.ts';

// the server runs in a process of its own: httpPost blocks this one until the reply
const SERVER = `
const replies = {
  '/length': (s) => s.end('HTTP/1.1 200 OK\\r\\nContent-Length: 10\\r\\n\\r\\n{"a":"\u00e9"}xx'),
  '/chunked': (s) => s.end('HTTP/1.1 201 Created\\r\\nTransfer-Encoding: chunked\\r\\n\\r\\n4;ext=1\\r\\n{"a"\\r\\n6\\r\\n:"\u00e9"}\\r\\n0\\r\\nTrailer: x\\r\\n\\r\\n'),
  '/close': (s) => s.end('HTTP/1.0 404 Not Found\\r\\n\\r\\nno such path'),
  '/silent': () => {},
  '/drop': (s) => s.destroy(),
};
const srv = require('net').createServer((sock) => {
  let req = Buffer.alloc(0);
  sock.on('error', () => {});
  sock.on('data', (d) => {
    req = Buffer.concat([req, d]);
    const text = req.toString('latin1'), end = text.indexOf('\\r\\n\\r\\n');
    const len = Number(/content-length: (\\d+)/i.exec(text)?.[1] ?? 0);
    if (end < 0 || req.length < end + 4 + len) return;
    const path = text.split(' ')[1].split('?')[0];
    if (path === '/echo') { const b = Buffer.from(JSON.stringify(text)); sock.end(Buffer.concat([Buffer.from('HTTP/1.1 200 OK\\r\\nContent-Length: ' + b.length + '\\r\\n\\r\\n'), b])); }
    else replies[path](sock);
  });
});
srv.listen(0, '127.0.0.1', () => console.log(srv.address().port));
`;

/** A TCP server on 127.0.0.1 in a child process (stopped by the test's teardown): its port. */
async function server(t: Test): Promise<{ port: number; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, ['-e', SERVER], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const stop = async () => { child.kill('SIGKILL'); await exited; };
  t.teardown(stop);
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
    child.once('exit', (code) => reject(new Error(`test server exited (${code})`)));
  });
  return { port, stop };
}

t.test('the request as sent, and the three ways a reply ends', async (t) => {
  const { port } = await server(t);
  const echo = httpPost(new URL(`http://127.0.0.1:${port}/echo?x=1`), '{"k":"é"}', 2000);
  t.equal(JSON.parse(echo.body), `POST /echo?x=1 HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nContent-Length: 10\r\nConnection: close\r\n\r\n{"k":"\xc3\xa9"}`, 'the request, its length in bytes');
  t.same(httpPost(new URL(`http://127.0.0.1:${port}/length`), '{}', 2000), { status: 200, body: '{"a":"é"}' }, 'Content-Length: the body is cut to it (in bytes)');
  t.same(httpPost(new URL(`http://127.0.0.1:${port}/chunked`), '{}', 2000), { status: 201, body: '{"a":"é"}' }, 'chunked: joined, extensions and trailers dropped');
  t.same(httpPost(new URL(`http://127.0.0.1:${port}/close`), '{}', 2000), { status: 404, body: 'no such path' }, 'neither: the body runs to the close');
});

t.test('a server that never answers: ETIMEDOUT at the bound; one that hangs up: EPROTO; nobody listening: ECONNREFUSED', async (t) => {
  const { port, stop } = await server(t);
  const t0 = performance.now();
  t.throws(() => httpPost(new URL(`http://127.0.0.1:${port}/silent`), '{}', 300), { code: 'ETIMEDOUT' });
  const took = performance.now() - t0;
  t.ok(took >= 290 && took < 2000, `gave up after ${took.toFixed(0)} ms`);
  t.throws(() => httpPost(new URL(`http://127.0.0.1:${port}/drop`), '{}', 1000), { code: 'EPROTO' }, 'closed without a reply: malformed');
  await stop();   // its port, now nobody's
  t.throws(() => httpPost(new URL(`http://127.0.0.1:${port}/`), '{}', 1000), { code: 'ECONNREFUSED' });
});

t.test('malformed replies are EPROTO, never a wrong body', async (t) => {
  for (const raw of ['HTTP/1.1 200 OK\r\nContent-Length: 5\r\n', 'SMTP 220 hi\r\n\r\n', 'HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nshort',
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nabc'])
    t.throws(() => parseReply(Buffer.from(raw)), { code: 'EPROTO' }, JSON.stringify(raw.slice(0, 40)));
});

t.test('only http: to an IP address goes this way', async (t) => {
  t.equal(literalHost(new URL('http://10.1.2.3:2379/')), '10.1.2.3');
  t.equal(literalHost(new URL('http://[fd00::1]:2379/')), 'fd00::1');
  t.equal(literalHost(new URL('https://10.1.2.3:2379/')), undefined, 'TLS: the runtime client');
  t.equal(literalHost(new URL('http://etcd.example:2379/')), undefined, 'a name: the runtime client resolves it');
  t.throws(() => httpPost(new URL('http://etcd.example/'), '{}', 100), { code: 'EINVAL' });
});
