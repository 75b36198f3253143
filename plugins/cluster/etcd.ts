// etcd v3 for the plugins that keep cluster state (vxlan-overlay; dns-hosts' names across hosts),
// through its JSON gateway (POST /v3/kv/..., keys and values base64): plain HTTP(S) from a
// per-call executable, no gRPC stack to load. Endpoints are tried in turn, each call
// bounded; TLS with a CA and client certificates. All endpoints failing is code 11 (try again
// later); a certificate the CA does not sign is a config error naming etcd.caFile.
import { CniError, ErrCode } from '../../shared/cni/errors.ts';
import { base64Text, utf8 } from '../../shared/util/bytes.ts';
import { readFile } from '../../shared/os/fs.ts';
import { httpPost, literalHost, type HttpReply } from '../../shared/os/http.ts';
import { addonLoads } from '../../shared/os/native.ts';
import { arrEvery, arrMap } from '../../shared/util/arrays.ts';

declare const Bun: unknown;

export interface EtcdConf { endpoints: string[]; caFile?: string; certFile?: string; keyFile?: string }
export interface KV { key: string; value: string; modRevision: number; createRevision: number }

// (bytes.ts, not Buffer.from: the latter's first call is dear in a process that lives one
// call, whatever the encoding, so the path through etcd has none)
const b64 = (s: string): string => utf8(s).toString('base64');
const unb64 = (s: string | undefined): string => base64Text(s ?? '');
const decodeKV = (kv: any): KV => ({ key: unb64(kv.key), value: unb64(kv.value), modRevision: Number(kv.mod_revision ?? 0), createRevision: Number(kv.create_revision ?? 0) });
/** base64 of the key just past every key with this prefix (etcd's range_end) */
function rangeEnd64(prefix: string): string {
  const b = utf8(prefix);
  b[b.length - 1]! += 1;
  return b.toString('base64');
}

/** [key, value, expected]: put `value` at `key` if the key is absent (expected undefined) or holds `expected`. */
export type Guarded = readonly [string, string, string | undefined];

/** A transaction's compares and puts for guarded entries, the puts under `lease` when given. */
function guardedPuts(entries: readonly Guarded[], lease: string | undefined) {
  return {
    compare: arrMap(entries, ([key, , expected]) => expected === undefined
      ? { key: b64(key), target: 'CREATE', result: 'EQUAL', create_revision: '0' }
      : { key: b64(key), target: 'VALUE', result: 'EQUAL', value: b64(expected) }),
    puts: arrMap(entries, ([key, value]) => ({ request_put: { key: b64(key), value: b64(value), ...(lease ? { lease } : {}) } })),
  };
}

/** The longest watch response line taken (etcd's largest value, base64, with room for a few). */
const WATCH_LINE_MAX = 16 << 20;

/** Keys a range reply holds at most, and keys read in all. */
const PAGE = 512;
const MAX_KEYS = 65536;

const TLS_CODES = new Set(['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'CERT_SIGNATURE_FAILURE', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'ERR_TLS_CERT_ALTNAME_INVALID', 'CERT_UNTRUSTED']);

/** A gateway reply's JSON, or the error it carries (each worth trying at the next endpoint). */
function replyJson(url: URL, status: number, text: string): any {
  let json: any;
  try { json = JSON.parse(text); } catch { throw Object.assign(new Error(`etcd ${url.host}: not JSON (${status})`), { retry: true }); }
  if (status !== 200) throw Object.assign(new Error(`etcd ${url.host}: ${json.error ?? json.message ?? status}`), { retry: true });
  return json;
}

export class Etcd {
  private tls?: { ca?: string; cert?: string; key?: string };
  constructor(private conf: EtcdConf, private timeoutMs = 1500) {
    if (conf.caFile || conf.certFile) {
      const read = (f: string | undefined, field: string) => {
        if (!f) return undefined;
        try { return readFile(f); } catch (e) { throw new CniError(ErrCode.InvalidConfig, `invalid network config: etcd.${field} ${f}: ${(e as Error).message}`); }
      };
      this.tls = { ca: read(conf.caFile, 'caFile'), cert: read(conf.certFile, 'certFile'), key: read(conf.keyFile, 'keyFile') };
    }
  }

  private post(endpoint: string, path: string, body: unknown, stream?: (chunk: string) => void, signal?: AbortSignal): Promise<any> {
    const url = new URL(path, endpoint.endsWith('/') ? endpoint : `${endpoint}/`);
    if (!stream && literalHost(url) && addonLoads()) return this.exchange(url, body);
    if (typeof Bun !== 'undefined') return this.fetchPost(url, body, stream, signal);
    const mod = (url.protocol === 'https:' ? process.getBuiltinModule('node:https') : process.getBuiltinModule('node:http')) as typeof import('node:https');
    const data = JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = mod.request(url, {
        method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) },
        ...(this.tls ?? {}), ...(stream ? { signal } : { timeout: this.timeoutMs }), agent: false,
      }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => { if (stream) stream(c); else text += c; });
        res.on('end', () => {
          if (stream) { resolve(undefined); return; }
          let json: any;
          try { json = JSON.parse(text); } catch { reject(Object.assign(new Error(`etcd ${url.host}: not JSON (${res.statusCode})`), { retry: true })); return; }
          if (res.statusCode !== 200) reject(Object.assign(new Error(`etcd ${url.host}: ${json.error ?? json.message ?? res.statusCode}`), { retry: true }));
          else resolve(json);
        });
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(Object.assign(new Error(`etcd ${url.host}: no answer within ${this.timeoutMs} ms`), { retry: true })));
      req.on('error', (e) => reject(e));
      req.end(data);
    });
  }

  /**
   * A plain-HTTP endpoint at an IP address: one exchange through the addon (shared/os/http.ts),
   * without the HTTP client start that Bun's fetch pays on a process's first request.
   */
  private async exchange(url: URL, body: unknown): Promise<any> {
    let r: HttpReply;
    try { r = httpPost(url, JSON.stringify(body), this.timeoutMs); } catch (e) {
      const code = (e as { code?: string }).code;
      throw Object.assign(new Error(code === 'ETIMEDOUT' ? `etcd ${url.host}: no answer within ${this.timeoutMs} ms` : `etcd ${url.host}: ${(e as Error).message}`), { code, retry: true });
    }
    return replyJson(url, r.status, r.body);
  }

  /**
   * Under Bun its built-in fetch: node:http's module alone costs more of a call's start than a
   * whole request by fetch. (Node bundles use node:http(s).)
   */
  private async fetchPost(url: URL, body: unknown, stream?: (chunk: string) => void, signal?: AbortSignal): Promise<any> {
    const init: Record<string, unknown> = {
      method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' },
      ...(stream ? (signal ? { signal } : {}) : { signal: AbortSignal.timeout(this.timeoutMs) }),
      ...(this.tls ? { tls: { ...this.tls, rejectUnauthorized: true } } : {}),
    };
    let res: Response;
    try { res = await fetch(url, init as RequestInit); } catch (e) {
      const name = (e as Error).name;
      throw Object.assign(new Error(name === 'TimeoutError' ? `etcd ${url.host}: no answer within ${this.timeoutMs} ms` : `etcd ${url.host}: ${(e as Error).message}`), { code: (e as { code?: string }).code, retry: true });
    }
    if (stream) {
      const reader = res.body!.getReader();
      const dec = new TextDecoder();
      for (;;) { const { done, value } = await reader.read(); if (done) return undefined; stream(dec.decode(value, { stream: true })); }
    }
    return replyJson(url, res.status, await res.text());
  }

  /** One request, to each endpoint in turn until one answers. */
  async call(path: string, body: unknown): Promise<any> {
    const errors: string[] = [];
    for (const ep of this.conf.endpoints) {
      try { return await this.post(ep, path, body); } catch (e) {
        const code = (e as { code?: string }).code ?? '';
        // a reply over the cap is the question's fault, not the endpoint's: range() asks smaller
        if (code === 'EMSGSIZE') throw e;
        if (TLS_CODES.has(code)) throw new CniError(ErrCode.InvalidConfig, `invalid network config: etcd.caFile: the certificate of ${ep} does not verify against it (${code}: ${(e as Error).message})`);
        errors.push(`${ep}: ${(e as Error).message}`);
      }
    }
    throw new CniError(ErrCode.TryAgainLater, `etcd is unreachable or has no quorum (${errors.join('; ')}): try again later`);
  }

  /**
   * Every key under `prefix`, read in pages at one revision (a consistent view): at most PAGE keys
   * a reply, an eighth as many after a reply that would exceed the cap (large values), doubling
   * again page by page, and a key whose value alone
   * does not fit is given with an empty value (taken, and skipped as unfit by the caller). At
   * most MAX_KEYS keys in all: a network cannot make every host read without end.
   */
  async range(prefix: string): Promise<{ kvs: KV[]; revision: number }> {
    const end = rangeEnd64(prefix);
    const kvs: KV[] = [];
    let from = utf8(prefix), limit = PAGE, revision = 0;
    for (;;) {
      const ask = { key: from.toString('base64'), range_end: end, ...(revision ? { revision: String(revision) } : {}) };
      let r: any;
      try { r = await this.call('v3/kv/range', { ...ask, limit: String(limit) }); } catch (e) {
        if ((e as { code?: string }).code !== 'EMSGSIZE') throw e;
        if (limit > 1) { limit = Math.max(1, limit >> 3); continue; }
        // one value alone over the cap: its key, without it
        r = await this.call('v3/kv/range', { ...ask, limit: '1', keys_only: true });
      }
      revision ||= Number(r.header?.revision ?? 0);
      const page = arrMap<any, KV>(r.kvs ?? [], decodeKV);
      for (const kv of page) kvs.push(kv);
      if (!r.more || !page.length || kvs.length >= MAX_KEYS) break;
      // the next page starts just past the last key: its bytes as etcd gave them (a key that is
      // not UTF-8 would not survive its text) and a zero byte. (Buffer.from only here, past the
      // first page, which a call with fewer keys never reaches.)
      const last = Buffer.from(String(r.kvs[r.kvs.length - 1].key), 'base64');
      from = Buffer.concat([last, new Uint8Array(1)]);
      // grown back by halves, not at once: every reply that overflows is one read whole for nothing
      limit = Math.min(PAGE, limit * 2);
    }
    return { kvs, revision };
  }

  /**
   * Put every [key, value] in one transaction, only if each key is absent, or holds `expected`
   * where one is given; true when they were put.
   */
  async putAbsent(entries: readonly Guarded[], lease?: string): Promise<boolean> {
    const { compare, puts } = guardedPuts(entries, lease);
    const r = await this.call('v3/kv/txn', { compare, success: puts });
    return r.succeeded === true;
  }

  /**
   * putAbsent, and every key under `prefix` read in the same transaction (whether the puts took
   * or not): the records as they are with them, in one round trip. A reply over the cap (large
   * values) leaves unsaid whether the puts took: the keys, read in pages, say. More than a page
   * of keys: the rest read in pages.
   */
  async putAbsentAndRange(entries: readonly Guarded[], prefix: string, lease?: string): Promise<{ succeeded: boolean; kvs: KV[] }> {
    const range = { request_range: { key: b64(prefix), range_end: rangeEnd64(prefix), limit: String(PAGE) } };
    const { compare, puts } = guardedPuts(entries, lease);
    let r: any;
    try {
      r = await this.call('v3/kv/txn', { compare, success: [...puts, range], failure: [range] });
    } catch (e) {
      if ((e as { code?: string }).code !== 'EMSGSIZE') throw e;
      const { kvs } = await this.range(prefix);
      const have = new Map(arrMap(kvs, (kv) => [kv.key, kv.value] as const));
      return { succeeded: arrEvery(entries, ([key, value]) => have.get(key) === value), kvs };
    }
    const succeeded = r.succeeded === true;
    const rr = r.responses?.[r.responses.length - 1]?.response_range;
    if (!rr || rr.more) return { succeeded, kvs: (await this.range(prefix)).kvs };
    return { succeeded, kvs: arrMap<any, KV>(rr.kvs ?? [], decodeKV) };
  }

  /** Grant lease `id` (a decimal int64) of `ttl` seconds; false when etcd refused it (one of that ID exists). */
  async grant(id: string, ttl: number): Promise<boolean> {
    try {
      const r = await this.call('v3/lease/grant', { ID: id, TTL: String(ttl) });
      return r.ID === id;
    } catch (e) {
      if (e instanceof CniError && e.code === ErrCode.TryAgainLater && /lease already exists/.test(e.message)) return false;
      throw e;
    }
  }

  /** Renew lease `id`; the seconds it now has, 0 when it has expired. */
  async keepAlive(id: string): Promise<number> {
    const r = await this.call('v3/lease/keepalive', { ID: id });
    return Number(r.result?.TTL ?? 0) || 0;
  }

  /** Delete `key` only if it still holds `expected` (never another host's lease). */
  async deleteIf(key: string, expected: string): Promise<boolean> {
    const r = await this.call('v3/kv/txn', {
      compare: [{ key: b64(key), target: 'VALUE', result: 'EQUAL', value: b64(expected) }],
      success: [{ request_delete_range: { key: b64(key) } }],
    });
    return r.succeeded === true;
  }

  /**
   * Watch every key under `prefix` from `revision` on: `onEvent` at each change. Resolves when
   * the stream ends (the endpoint went away; the caller watches again) or `signal` aborts it.
   */
  async watch(prefix: string, revision: number, onEvent: (revision: number) => void, signal?: AbortSignal): Promise<void> {
    const body = { create_request: { key: b64(prefix), range_end: rangeEnd64(prefix), start_revision: String(revision) } };
    const errors: string[] = [];
    for (const ep of this.conf.endpoints) {
      let buf = '';
      let started = false;
      try {
        await this.post(ep, 'v3/watch', body, (chunk) => {
          started = true;
          buf += chunk;
          // a line is one watch response (its events' values in it): bounded, as every buffer. Only
          // that something changed matters (a sync reads everything), so an overlong one is dropped
          // as a change
          if (buf.length > WATCH_LINE_MAX) { buf = ''; onEvent(0); return; }
          for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
            const line = buf.slice(0, i).trim();
            buf = buf.slice(i + 1);
            if (!line) continue;
            try {
              const m = JSON.parse(line);
              const events = m.result?.events ?? [];
              if (events.length) onEvent(Number(m.result.header?.revision ?? 0));
            } catch { /* a partial line: wait for more */ }
          }
        }, signal);
        if (started || signal?.aborted) return;
      } catch (e) {
        if (signal?.aborted) return;
        errors.push(`${ep}: ${(e as Error).message}`);
      }
    }
    throw new CniError(ErrCode.TryAgainLater, `etcd watch failed (${errors.join('; ')})`);
  }
}
