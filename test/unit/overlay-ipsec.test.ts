// An encrypted overlay's keys and IPsec without root or etcd: the key record as read from etcd
// (somebody's write, checked), the rotation schedule (a new key accepted everywhere before anyone
// sends with it, the old one kept until nobody does), and what the kernel is asked to hold: both
// ends of a direction derive the same SPI and key, and no two SAs share either.
import t from 'tap';
import { nextKeys, parseKeys, sendKey, timingOf, type IpsecKey } from '../../plugins/vxlan-overlay/keys.ts';
import { AEAD, desiredPolicies, desiredStates, reqidOf, saOf } from '../../plugins/vxlan-overlay/ipsec.ts';
import { overlayConfig, validateCommon, type OverlayConf } from '../../plugins/vxlan-overlay/config.ts';
import { parseConfig } from '../../shared/cni/schema.ts';
import type { CniError } from '../../shared/cni/errors.ts';

const hex = (n: number) => n.toString(16).padStart(2, '0').repeat(32);
const rec = (keys: unknown[]) => JSON.stringify({ keys });
const T = timingOf({ keyRotation: 400 } as OverlayConf);
const key = (id: number, created: number): IpsecKey => ({ id, key: Buffer.from(hex(id), 'hex'), created });

t.test('timing: Docker\'s 12 hours by default, a grace period of a quarter of it up to a minute', async (t) => {
  t.same(timingOf({} as OverlayConf), { rotateMs: 43_200_000, graceMs: 60_000 });
  t.same(T, { rotateMs: 400_000, graceMs: 60_000 });
  t.same(timingOf({ keyRotation: 12 } as OverlayConf), { rotateMs: 12_000, graceMs: 3000 });
});

t.test('the key record: fit keys, oldest first; every unfit one skipped with its reason', async (t) => {
  const now = 1_000_000;
  const got = parseKeys(rec([
    { id: 2, key: hex(2), created: 500 },
    { id: 1, key: hex(1), created: 100 },
    { id: 0, key: hex(3), created: 100 },
    { id: 3, key: 'ABCD', created: 100 },
    { id: 4, key: hex(4), created: now + 2 * 86_400_000 },
    { id: 2, key: hex(5), created: 600 },
    { id: 5.5, key: hex(5), created: 1 },
    null,
  ]), now);
  t.same(got.keys.map((k) => k.id), [1, 2]);
  t.same(got.keys[0]!.key, Buffer.from(hex(1), 'hex'));
  t.equal(got.skipped.length, 6);
  t.match(got.skipped.join('\n'), /id is not an integer[\s\S]*64 lower-case hex[\s\S]*creation time is not believable[\s\S]*taken by an earlier key/);
  t.same(parseKeys('{', now), { keys: [], skipped: ['the key record is not JSON'] });
  t.same(parseKeys('{"keys":7}', now).keys, []);
  t.same(parseKeys(undefined, now), { keys: [], skipped: [] });
  t.equal(parseKeys(rec(Array.from({ length: 100 }, (_, i) => ({ id: i + 1, key: hex(i), created: i }))), now).keys.length, 16, 'at most 16 entries read');
});

t.test('rotation: first key, a new one when due, sent with after a grace period, the old gone after two', async (t) => {
  const fresh = () => Buffer.alloc(32, 9);
  const first = nextKeys([], 1000, T, fresh)!;
  t.same(first.map((k) => [k.id, k.created]), [[1, 1000]], 'none: a first key');
  t.equal(sendKey(first, 1000, T)!.id, 1, 'sent with at once: nobody has another');
  t.equal(nextKeys(first, 1000 + T.rotateMs - 1, T, fresh), undefined, 'not due: unchanged');

  const due = 1000 + T.rotateMs;
  const two = nextKeys(first, due, T, fresh)!;
  t.same(two.map((k) => k.id), [1, 2], 'due: a second key beside the first');
  t.equal(sendKey(two, due + T.graceMs - 1, T)!.id, 1, 'within the grace period the old key is still sent with (the new is only accepted)');
  t.equal(sendKey(two, due + T.graceMs, T)!.id, 2, 'then the new one');
  t.equal(nextKeys(two, due + 2 * T.graceMs - 1, T, fresh), undefined, 'the old key kept while a host may still send with it');
  t.same(nextKeys(two, due + 2 * T.graceMs, T, fresh)!.map((k) => k.id), [2], 'then dropped');

  const wrap = nextKeys([key(65535, 0)], T.rotateMs, T, fresh)!;
  t.same(wrap.map((k) => k.id), [65535, 1], 'ids wrap past 65535');
  const many = nextKeys([key(1, 0), key(2, 1), key(3, 2)], 3 + T.rotateMs, { rotateMs: T.rotateMs, graceMs: 1e12 }, fresh)!;
  t.same(many.map((k) => k.id), [2, 3, 4], 'at most three keys');
  t.equal(sendKey([], 0, T), undefined, 'no key: nothing to send with (the policies drop, nothing leaves in clear)');
});

t.test('SAs: both ends derive the same SPI and key for a direction; every SA its own', async (t) => {
  const k1 = key(1, 0), k2 = key(2, 0);
  t.same(saOf('sec', '192.0.2.1', '192.0.2.2', k1), saOf('sec', '192.0.2.1', '192.0.2.2', k1), 'deterministic');
  const all = [saOf('sec', '192.0.2.1', '192.0.2.2', k1), saOf('sec', '192.0.2.2', '192.0.2.1', k1), saOf('sec', '192.0.2.1', '192.0.2.2', k2), saOf('other', '192.0.2.1', '192.0.2.2', k1)];
  t.equal(new Set(all.map((s) => s.spi)).size, 4, 'direction, key and network each change the SPI');
  t.equal(new Set(all.map((s) => s.key.toString('hex'))).size, 4, 'and the key');
  t.ok(all.every((s) => s.spi >= 0x100 && s.spi <= 0xffffffff && s.key.length === 20), 'SPIs outside the reserved 0-255; AES-128 keys with their 4-byte salt');

  const p = { network: 'sec', me: '192.0.2.1', port: 4789, peers: ['192.0.2.2', '192.0.2.3'], keys: [k1, k2], send: k1 };
  const states = desiredStates(p);
  t.same(states.map((s) => `${s.src}>${s.dst}`), ['192.0.2.2>192.0.2.1', '192.0.2.2>192.0.2.1', '192.0.2.1>192.0.2.2', '192.0.2.3>192.0.2.1', '192.0.2.3>192.0.2.1', '192.0.2.1>192.0.2.3'],
    'per peer: in under every key, out under the sending one');
  t.ok(states.every((s) => s.reqid === reqidOf(4789) && s.aead.name === AEAD && s.sel.proto === 17 && s.sel.dport === 4789), 'our reqid; AES-GCM; the VXLAN port only');
  const mine = desiredStates({ ...p, me: '192.0.2.2', peers: ['192.0.2.1'] });
  const sent = states.find((s) => s.src === '192.0.2.1' && s.dst === '192.0.2.2')!;
  t.ok(mine.some((s) => s.src === '192.0.2.1' && s.spi === sent.spi && s.aead.key.equals(sent.aead.key)), 'the peer accepts what this host sends');
  t.same(desiredPolicies('192.0.2.1', 4790).map((x) => [x.dir, x.sel.src, x.sel.srcLen ?? 32, x.sel.dst, x.sel.dstLen ?? 32, x.sel.dport, x.tmpl.reqid]),
    [[1, '192.0.2.1', 32, '0.0.0.0', 0, 4790, reqidOf(4790)], [0, '0.0.0.0', 0, '192.0.2.1', 32, 4790, reqidOf(4790)]], 'out to anyone and in from anyone, on the port');
  t.not(reqidOf(4789), reqidOf(4790), 'a reqid per port');
});

t.test('config: Go-cased keys are the same keys (a silently dropped "Encrypted" would be clear text); what is refused, and why', async (t) => {
  const base = { cniVersion: '1.0.0', name: 'x', type: 'vxlan-overlay', vni: 5, subnet: '10.1.0.0/24' };
  const c = parseConfig(overlayConfig, { ...base, Encrypted: true, KeyRotation: 60, Etcd: { Endpoints: ['http://192.0.2.1:2379'] } });
  t.equal(c.encrypted, true);
  t.equal(c.keyRotation, 60);
  t.same(c.etcd.endpoints, ['http://192.0.2.1:2379']);
  const refused = (over: Record<string, unknown>) => {
    try { validateCommon(parseConfig(overlayConfig, { ...base, etcd: { endpoints: ['http://192.0.2.1:2379'] }, ...over })); } catch (e) { return e as CniError; }
    return undefined;
  };
  t.match(refused({ mode: 'routed', encrypted: true }), { code: 2, message: /encrypted: true: IPsec between hosts is built for mode "l2"/ });
  t.match(refused({ keyRotation: 60 }), { code: 7, message: /keyRotation is a key of encrypted networks/ });
  t.match(refused({ etcd: { endpoints: [] } }), { code: 7, message: /etcd\.endpoints is empty/ });
  t.match(refused({ etcd: { endpoints: ['http://192.0.2.1:2379'], certFile: '/c' } }), { code: 7, message: /etcd\.certFile needs etcd\.keyFile/ });
  t.throws(() => parseConfig(overlayConfig, { ...base, encrypted: true, keyRotation: 5, etcd: { endpoints: ['http://192.0.2.1:2379'] } }), /keyRotation/, 'keyRotation under 10 s');
  t.equal(refused({ encrypted: true, keyRotation: 60 }), undefined, 'an encrypted l2 network checks out');
});
