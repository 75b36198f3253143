// The resolver's control socket: a unix stream socket where a call sends one line ("sync ...")
// and gets one reply line once the change is served, then the connection closes. Half open:
// the client shuts its side down after the request, and the reply must still go out.
// Under Bun its own socket API (node:net's stream layer adds to every call's wait for its
// sync); under Node, node:net.

const MAX_REQUEST = 1024;
const IDLE_S = 5;

/** `line` handled, its reply given through `reply` (once, now or later). */
export type OnLine = (line: string, reply: (text: string) => void) => void;

interface Conn { req: string; handled: boolean }

/** Accept one request per line: returns the line when complete, null while incomplete, undefined when too long. */
function take(c: Conn, chunk: string): string | null | undefined {
  c.req += chunk;
  if (c.req.length > MAX_REQUEST) return undefined;
  const nl = c.req.indexOf('\n');
  if (c.handled || nl < 0) return null;
  c.handled = true;
  return c.req.slice(0, nl).trim();
}

interface BunSocket { data: Conn; end(data?: string): void; timeout(seconds: number): void }
interface BunApi { listen(o: unknown): { stop(): void } }

export function serveControl(path: string, onLine: OnLine): Promise<void> {
  const bun = (globalThis as { Bun?: BunApi }).Bun;
  if (bun) {
    const text = new TextDecoder();
    try {
      bun.listen({
        unix: path, allowHalfOpen: true,
        socket: {
          open: (s: BunSocket) => { s.data = { req: '', handled: false }; s.timeout(IDLE_S); },
          timeout: (s: BunSocket) => s.end(),
          error: (s: BunSocket) => s.end(),
          data: (s: BunSocket, d: Uint8Array) => {
            const line = take(s.data, text.decode(d));
            if (line === undefined) s.end();
            else if (line !== null) onLine(line, (reply) => s.end(reply));
          },
        },
      });
    } catch (e) {
      return Promise.reject(e);
    }
    return Promise.resolve();
  }
  return new Promise((resolve, reject) => {
    void import('node:net').then(({ createServer }) => {
      const server = createServer({ allowHalfOpen: true }, (c) => {
        const conn: Conn = { req: '', handled: false };
        c.setTimeout(IDLE_S * 1000, () => c.destroy());
        c.on('error', () => c.destroy());
        c.on('data', (d) => {
          const line = take(conn, String(d));
          if (line === undefined) c.destroy();
          else if (line !== null) onLine(line, (reply) => c.end(reply));
        });
      });
      server.once('error', reject);
      server.listen(path, () => resolve());
    }, reject);
  });
}
