// An encrypted network's IPsec keys, kept in etcd (one record, `<prefix>/<network>/ipsec/keys`):
// the first host that needs them makes the first key; a host that finds the newest key older
// than `keyRotation` adds a new one; the new key is accepted by every host at once and sent with
// only after a grace period (by then every host accepts it), and the old one goes after a second
// grace period (by then nobody sends with it). Every write is a compare-and-swap on the record,
// so hosts racing to rotate make one key. What is read is checked: an unfit key is skipped and
// logged, and a record with no fit key is replaced by a fresh one.
import { nodeCrypto } from '../../shared/util/lazy.ts';
import { arrEvery, arrFilter, arrFind, arrMap } from '../../shared/util/arrays.ts';
import type { Etcd } from '../cluster/etcd.ts';
import type { OverlayConf } from './config.ts';
import { networkPrefix } from './endpoints.ts';

/** A network key: 32 random bytes, whose id names it in the SPIs; `created` in ms since the epoch (the creating host's clock). */
export interface IpsecKey { id: number; key: Buffer; created: number }

export interface KeyTiming { rotateMs: number; graceMs: number }

/** Docker rotates every 12 hours. The grace period covers the sync process's latency and clock skew between hosts. */
export const DEFAULT_ROTATION_S = 12 * 3600;
export const timingOf = (c: OverlayConf): KeyTiming => {
  const rotateMs = (c.keyRotation ?? DEFAULT_ROTATION_S) * 1000;
  return { rotateMs, graceMs: Math.min(60_000, rotateMs / 4) };
};

export const keysKeyOf = (prefix: string, network: string): string => `${networkPrefix(prefix, network)}ipsec/keys`;

/** Keys a record holds at most (the sending one, the one before it, and one being introduced). */
const MAX_KEYS = 3;
const MAX_ID = 0xffff;
const KEY_HEX = /^[0-9a-f]{64}$/;
// a key "made" further ahead than this is not believed: it would hold off rotation for as long
const FUTURE_MS = 24 * 3600_000;

/** The record's fit keys, oldest first, and why the others were skipped. */
export function parseKeys(value: string | undefined, now: number): { keys: IpsecKey[]; skipped: string[] } {
  if (value === undefined) return { keys: [], skipped: [] };
  let v: any;
  try { v = JSON.parse(value); } catch { return { keys: [], skipped: ['the key record is not JSON'] }; }
  if (!Array.isArray(v?.keys)) return { keys: [], skipped: ['the key record has no list of keys'] };
  const keys: IpsecKey[] = [], skipped: string[] = [], ids = new Set<number>();
  for (const k of v.keys.slice(0, 16)) {
    const why = !Number.isInteger(k?.id) || k.id < 1 || k.id > MAX_ID ? 'its id is not an integer of 1 to 65535'
      : typeof k.key !== 'string' || !KEY_HEX.test(k.key) ? 'its key is not 64 lower-case hex digits'
        : !Number.isFinite(k.created) || k.created < 0 || k.created > now + FUTURE_MS ? 'its creation time is not believable'
          : ids.has(k.id) ? 'its id is taken by an earlier key' : undefined;
    if (why) { skipped.push(`a key was skipped: ${why}`); continue; }
    ids.add(k.id);
    keys.push({ id: k.id, key: Buffer.from(k.key, 'hex'), created: k.created });
  }
  keys.sort((a, b) => a.created - b.created || a.id - b.id);
  return { keys, skipped };
}

const encodeKeys = (keys: IpsecKey[]): string => JSON.stringify({ keys: arrMap(keys, (k) => ({ id: k.id, key: k.key.toString('hex'), created: k.created })) });

/** The key this host sends with: the newest that every host has accepted for a grace period (the only one, at first). */
export function sendKey(keys: IpsecKey[], now: number, t: KeyTiming): IpsecKey | undefined {
  let send = keys[0];
  for (const k of keys) if (k.created + t.graceMs <= now) send = k;
  return send;
}

/**
 * What the record should hold now, or undefined when it is right as it is: a first key when
 * there is none, a new one when the newest is due, and no key that a newer one replaced two grace
 * periods ago (nobody sends with it any more).
 */
export function nextKeys(keys: IpsecKey[], now: number, t: KeyTiming, fresh: () => Buffer = () => nodeCrypto().randomBytes(32)): IpsecKey[] | undefined {
  const newest = keys[keys.length - 1];
  let next = keys;
  if (!newest || newest.created + t.rotateMs <= now) {
    const id = newest ? (newest.id % MAX_ID) + 1 : 1;
    next = [...arrFilter(keys, (k) => k.id !== id), { id, key: fresh(), created: now }];
  }
  const last = next[next.length - 1]!;
  next = arrFilter(next, (k) => k === last || !(last.created + 2 * t.graceMs <= now));
  if (next.length > MAX_KEYS) next = next.slice(-MAX_KEYS);
  return next.length === keys.length && arrEvery(next, (k, i) => k === keys[i]) ? undefined : next;
}

/**
 * The network's keys as they stand, after this host made, rotated or pruned them where due (a
 * compare-and-swap: a host that lost the race reads the winner's). Throws when etcd is away.
 */
export async function currentKeys(etcd: Etcd, key: string, t: KeyTiming, now = Date.now()): Promise<{ keys: IpsecKey[]; skipped: string[] }> {
  for (let attempt = 0; ; attempt++) {
    const kv = arrFind((await etcd.range(key)).kvs, (x) => x.key === key);
    const read = parseKeys(kv?.value, now);
    const next = nextKeys(read.keys, now, t);
    if (!next || attempt === 2) return read;
    if (await etcd.putAbsent([[key, encodeKeys(next), kv?.value]])) return { keys: next, skipped: read.skipped };
  }
}
