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
