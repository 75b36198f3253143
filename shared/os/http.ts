// One HTTP/1.1 request over plain TCP through the addon (tcpExchange), for a per-call executable
// that asks one JSON endpoint a question (etcd's gateway) and should not pay for a whole HTTP
// client (Bun's fetch starts one on its first request, node:http is a large module). The request
// says "Connection: close", so the reply ends where the server closes; its body is taken by
// Content-Length or the chunked coding. IP-literal hosts only (no name resolution here).
import { utf8 } from '../util/bytes.ts';
import { familyOf } from '../util/ip.ts';
import { native } from './native.ts';

export interface HttpReply { status: number; body: string }

/** The host of an http: URL when it is an IP address (IPv6 without its brackets), else undefined. */
export function literalHost(url: URL): string | undefined {
  if (url.protocol !== 'http:') return undefined;
  const h = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return familyOf(h) ? h : undefined;
}

/** POST `body` to `url` (http:, an IP-literal host); throws with the errno's code (ECONNREFUSED, ETIMEDOUT, ...). */
export function httpPost(url: URL, body: string, timeoutMs: number, contentType = 'application/json'): HttpReply {
  const host = literalHost(url);
  if (!host) throw Object.assign(new Error(`httpPost: ${url.href} is not http: to an IP address`), { code: 'EINVAL' });
  // (one buffer through bytes.ts's utf8, not Buffer.from: see bytes.ts)
  const head = `POST ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\nContent-Type: ${contentType}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n`;
  const raw = native().tcpExchange(host, Number(url.port || 80), utf8(`${head}${body}`), timeoutMs);
  return parseReply(raw);
}

const malformed = (why: string): Error => Object.assign(new Error(`malformed HTTP reply: ${why}`), { code: 'EPROTO' });

/** An HTTP/1.1 reply read to the connection's end: status and body. */
export function parseReply(raw: Buffer): HttpReply {
  const end = raw.indexOf('\r\n\r\n');
  if (end < 0) throw malformed('no end of headers');
  const lines = raw.toString('latin1', 0, end).split('\r\n');
  // "HTTP/1.1 200 OK" (by hand: a regular expression costs its compile in every call)
  const first = lines[0]!, status = Number(first.slice(9, 12));
  if (!first.startsWith('HTTP/1.') || first[8] !== ' ' || !(status >= 100 && status <= 599)) throw malformed(`status line "${first.slice(0, 60)}"`);
  const headers = new Map<string, string>();
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':');
    if (i > 0) headers.set(l.slice(0, i).trim().toLowerCase(), l.slice(i + 1).trim());
  }
  let body = raw.subarray(end + 4);
  if ((headers.get('transfer-encoding') ?? '').toLowerCase().includes('chunked')) body = unchunk(body);
  else if (headers.has('content-length')) {
    const n = Number(headers.get('content-length'));
    if (!Number.isInteger(n) || n < 0 || n > body.length) throw malformed(`content-length ${headers.get('content-length')} with ${body.length} bytes`);
    body = body.subarray(0, n);
  }
  return { status, body: body.toString('utf8') };
}

/** The chunked transfer coding's content (its trailers dropped). */
function unchunk(b: Buffer): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const eol = b.indexOf('\r\n', at);
    if (eol < 0) throw malformed('chunk size line');
    const size = parseInt(b.toString('latin1', at, eol).split(';')[0]!.trim(), 16);
    if (!Number.isInteger(size) || size < 0) throw malformed('chunk size');
    if (size === 0) return Buffer.concat(parts);
    if (eol + 2 + size > b.length) throw malformed('chunk cut short');
    parts.push(b.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
}
