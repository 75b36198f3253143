// shared/chars.ts replaces regular expressions on every call's path: it must match exactly
// what they matched, over names that probe every class boundary.
import t from 'tap';
import { hasIfnameForbidden, isDigits, isIdentifier, isIfname } from '../../shared/chars.ts';

const pool = ['a', 'Z', '0', '9', '_', '.', '-', '@', '/', ':', ' ', '\t', '\n', '\r', '\0', '\u00a0', '\u2028', '\ufeff', '\u3000', 'é', '😀', '[', '`', '{', '~'];
let seed = 7;
const rnd = (n: number) => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n; };
const samples: string[] = ['', 'eth0', 'a'.repeat(15), 'a'.repeat(16), '1.0', 'x\r\neth0'];
for (let i = 0; i < 20000; i++) samples.push(Array.from({ length: rnd(18) }, () => pool[rnd(pool.length)]).join(''));

const pairs: [string, (s: string) => boolean, RegExp][] = [
  ['isIdentifier', (s) => isIdentifier(s), /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/],
  ['hasIfnameForbidden', hasIfnameForbidden, /[/:\s\0]/],
  ['isIfname', isIfname, /^[A-Za-z0-9_.@-]{1,15}$/],
  ['isDigits(3)', (s) => isDigits(s, 3), /^\d{1,3}$/],
];
for (const [name, f, re] of pairs) {
  t.test(`${name} is ${re}`, async (t) => {
    const differ = samples.filter((s) => f(s) !== re.test(s));
    t.same(differ.map((s) => JSON.stringify(s)).slice(0, 5), [], `${samples.length} strings, none judged differently`);
    t.ok(samples.some((s) => re.test(s)) && samples.some((s) => !re.test(s)), 'the samples hold matches and non-matches');
  });
}

t.test('shortHash is 64-bit FNV-1a (against a BigInt reference)', async (t) => {
  const { shortHash } = await import('../../shared/hash.ts');
  const fnv = (s: string): string => {
    let h = 0xcbf29ce484222325n;
    for (const b of Buffer.from(s)) h = ((h ^ BigInt(b)) * 0x100000001b3n) & ((1n << 64n) - 1n);
    return h.toString(16).padStart(16, '0');
  };
  t.equal(shortHash('', 16), 'cbf29ce484222325', 'the offset basis for no input');
  t.equal(shortHash('a', 16), 'af63dc4c8601ec8c', "FNV-1a 64 of 'a' (the published test vector)");
  const differ = samples.filter((s) => shortHash(s, 16) !== fnv(s));
  t.same(differ.slice(0, 3), [], `${samples.length} strings hash alike`);
  t.equal(shortHash('net=n id=c1', 10), fnv('net=n id=c1').slice(0, 10), 'a prefix of the hex digest');
});

t.test('nft element text check is the expression it replaces', async (t) => {
  const { isSafeElementText } = await import('../../shared/nft.ts');
  const re = /^(?:[A-Za-z0-9_.:/@ =-]|"[A-Za-z0-9_.@+:-]{1,15}")*$/;
  const parts = ['a', '0', '.', ':', '/', '@', ' ', '=', '-', '_', '+', '"', '"eth0"', '"a+b"', '""', `"${'x'.repeat(15)}"`, `"${'x'.repeat(16)}"`, '\\', ',', ';', '{', '\n', 'é'];
  const texts = ['', 'net=n id=c1', '10.0.0.1 . 10.0.0.0/24', 'tcp . 8080 : 10.0.0.2 . 80', '"veth1" . 02:42:ac:11:00:02'];
  for (let i = 0; i < 20000; i++) texts.push(Array.from({ length: rnd(8) }, () => parts[rnd(parts.length)]).join(''));
  const differ = texts.filter((s) => isSafeElementText(s) !== re.test(s));
  t.same(differ.slice(0, 5).map((s) => JSON.stringify(s)), [], `${texts.length} texts judged alike`);
  t.ok(texts.filter((s) => re.test(s)).length > 1000 && texts.some((s) => !re.test(s)), 'both outcomes sampled');
});
