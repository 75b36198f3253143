// Traffic for tests, run with `ip netns exec <ns> node traffic.mjs ...` so it happens inside
// a namespace the test made. Bounded: every operation times out.
//   serve <tcp|udp> <port>         echo "<remote address>" to each client, forever (killed by the test)
//   ask <tcp|udp> <host> <port>    print the server's answer, exit 0; exit 1 on timeout/refusal
import net from 'node:net';
import dgram from 'node:dgram';

const [cmd, proto, a, b] = process.argv.slice(2);
const fail = (why) => { process.stderr.write(`${why}\n`); process.exit(1); };
setTimeout(() => fail('timeout'), cmd === 'ask' ? 3000 : 120_000).unref?.();

if (cmd === 'serve' && proto === 'tcp') {
  net.createServer((s) => { s.end(`${s.remoteAddress}\n`); }).listen(Number(a), '::', () => process.stdout.write('ready\n'));
} else if (cmd === 'serve' && proto === 'udp') {
  for (const type of ['udp4', 'udp6']) {
    const sock = dgram.createSocket({ type, ipv6Only: type === 'udp6' });
    sock.on('message', (_m, r) => sock.send(`${r.address}\n`, r.port, r.address));
    sock.bind(Number(a), type === 'udp4' ? '0.0.0.0' : '::');
  }
  setTimeout(() => process.stdout.write('ready\n'), 50);
} else if (cmd === 'ask' && proto === 'tcp') {
  const s = net.connect({ host: a, port: Number(b) });
  let out = '';
  s.on('data', (d) => { out += d; });
  s.on('end', () => { process.stdout.write(out); process.exit(0); });
  s.on('error', (e) => fail(e.message));
} else if (cmd === 'ask' && proto === 'udp') {
  const s = dgram.createSocket(net.isIPv6(a) ? 'udp6' : 'udp4');
  s.on('message', (m) => { process.stdout.write(m.toString()); process.exit(0); });
  s.send('hi', Number(b), a);
  setInterval(() => s.send('hi', Number(b), a), 300);
} else {
  fail('usage: serve|ask tcp|udp ...');
}
