// Forwarding to the upstream resolvers, from the host's namespace (where the host's own
// resolvers, such as 127.0.0.53, answer): the query as the container sent it, the upstream's
// answer passed back unchanged. UDP for UDP clients (a truncated answer goes back truncated, and
// the client asks again over TCP), TCP for TCP clients. Each upstream in turn, each bounded:
// undefined (SERVFAIL to the client) when none answered in time.
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { parseUpstream } from '../../../shared/cni/refinements.ts';

export const UPSTREAM_MS = 2000;
/** Upstreams tried per query: the client (glibc: 5 s) must hear back before it gives up. */
const MAX_TRIES = 2;

function viaUdp(query: Buffer, address: string, port: number, timeoutMs: number): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const sock = createSocket(address.includes(':') ? 'udp6' : 'udp4');
    const done = (b?: Buffer): void => { clearTimeout(timer); try { sock.close(); } catch { /* closed */ } resolve(b); };
    const timer = setTimeout(() => done(), timeoutMs);
    sock.on('error', () => done());
    // connected: the kernel passes only the upstream's datagrams; and the query's ID must match
    sock.on('message', (m) => { if (m.length >= 12 && m.readUInt16BE(0) === query.readUInt16BE(0)) done(m); });
    sock.connect(port, address, () => sock.send(query));
  });
}

function viaTcp(query: Buffer, address: string, port: number, timeoutMs: number): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const sock = connect({ host: address, port });
    let got = Buffer.alloc(0);
    const done = (b?: Buffer): void => { clearTimeout(timer); sock.destroy(); resolve(b); };
    const timer = setTimeout(() => done(), timeoutMs);
    sock.on('error', () => done());
    sock.on('connect', () => { const len = Buffer.alloc(2); len.writeUInt16BE(query.length); sock.write(Buffer.concat([len, query])); });
    sock.on('data', (d: Buffer) => {
      got = Buffer.concat([got, d]);
      if (got.length >= 2 && got.length >= 2 + got.readUInt16BE(0)) done(got.subarray(2, 2 + got.readUInt16BE(0)));
    });
    sock.on('end', () => done());
  });
}

export async function forward(query: Buffer, upstreams: string[], tcp: boolean): Promise<Buffer | undefined> {
  for (const u of upstreams.slice(0, MAX_TRIES)) {
    const p = parseUpstream(u);
    if (!p) continue;
    const reply = await (tcp ? viaTcp : viaUdp)(query, p.address, p.port, UPSTREAM_MS);
    if (reply) return reply;
  }
  return undefined;
}
