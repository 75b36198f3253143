// shared/util/bytes.ts makes buffers without Buffer.from (its first call costs a plugin call
// 0.1-1 ms); each helper is held to the Buffer.from call it replaces, over fixed edge cases and
// random inputs.
import t from 'tap';
import { base64Text, utf8 } from '../../shared/util/bytes.ts';

let seed = 7;
const rnd = (n: number) => { seed = (seed * 1103515245 + 12345) >>> 0; return seed % n; };
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_ \n.é';

const texts = ['', 'a', '/cni-ts/overlay/net/leases/10.1.0.0-24', 'é€😀', 'nul\0inside', '\ud800 lone surrogate'];
for (let i = 0; i < 500; i++) texts.push(Array.from({ length: rnd(40) }, () => String.fromCodePoint(rnd(4) ? 32 + rnd(95) : rnd(0x11000))).join(''));

t.test('utf8 is Buffer.from(s)', async (t) => {
  let same = 0;
  for (const s of texts) if (utf8(s).equals(Buffer.from(s))) same++;
  t.equal(same, texts.length);
  t.same([...utf8('ab', 2)], [97, 98, 0, 0], 'then the NUL bytes asked for');
});

t.test("base64Text is Buffer.from(s, 'base64').toString()", async (t) => {
  const inputs = [...texts.map((s) => Buffer.from(s).toString('base64')), '', '=', 'YQ', 'YQ=', 'YQ==', 'YQ===', 'Y Q=\n=', 'YW-_', '!!!!', 'é'];
  for (let i = 0; i < 500; i++) inputs.push(Array.from({ length: rnd(30) }, () => ALPHABET[rnd(ALPHABET.length)]).join(''));
  let same = 0;
  for (const s of inputs) if (base64Text(s) === Buffer.from(s, 'base64').toString()) same++; else t.fail(JSON.stringify(s));
  t.equal(same, inputs.length);
});
