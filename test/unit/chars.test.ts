// shared/util/chars.ts replaces regular expressions on every call's path: it must match exactly
// what they matched, over names that probe every class boundary.
import t from 'tap';
import { hasIfnameForbidden, isDigits, isIdentifier, isIfname } from '../../shared/util/chars.ts';

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
  const { shortHash } = await import('../../shared/util/hash.ts');
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
  const { isSafeElementText } = await import('../../plugins/nft-state/batch.ts');
  const re = /^(?:[A-Za-z0-9_.:/@ =-]|"[A-Za-z0-9_.@+:-]{1,15}")*$/;
  const parts = ['a', '0', '.', ':', '/', '@', ' ', '=', '-', '_', '+', '"', '"eth0"', '"a+b"', '""', `"${'x'.repeat(15)}"`, `"${'x'.repeat(16)}"`, '\\', ',', ';', '{', '\n', 'é'];
  const texts = ['', 'net=n id=c1', '10.0.0.1 . 10.0.0.0/24', 'tcp . 8080 : 10.0.0.2 . 80', '"veth1" . 02:42:ac:11:00:02'];
  for (let i = 0; i < 20000; i++) texts.push(Array.from({ length: rnd(8) }, () => parts[rnd(parts.length)]).join(''));
  const differ = texts.filter((s) => isSafeElementText(s) !== re.test(s));
  t.same(differ.slice(0, 5).map((s) => JSON.stringify(s)), [], `${texts.length} texts judged alike`);
  t.ok(texts.filter((s) => re.test(s)).length > 1000 && texts.some((s) => !re.test(s)), 'both outcomes sampled');
});

t.test('isDnsName is the expression it replaced, with its length limits', async (t) => {
  const { isDnsName } = await import('../../shared/cni/refinements.ts');
  const re = (s: string) => s.length > 0 && s.length <= 253 && /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*\.?$/.test(s) && s.split('.').every((l) => l.length <= 63);
  const parts = ['a', 'Z', '0', '_', '-', '.', '..', ' ', '/', 'é', 'x'.repeat(63), 'y'.repeat(64), 'web', 'db.local'];
  const names = ['', '.', 'a.', 'a..b', '.a', 'a.b.', 'x'.repeat(253), 'x'.repeat(254), `${'a'.repeat(63)}.b`, `${'a'.repeat(64)}.b`];
  for (let i = 0; i < 20000; i++) names.push(Array.from({ length: 1 + rnd(5) }, () => parts[rnd(parts.length)]).join(''));
  const differ = names.filter((s) => isDnsName(s) !== re(s));
  t.same(differ.slice(0, 5).map((s) => JSON.stringify(s)), [], `${names.length} names judged alike`);
  t.ok(names.filter(re).length > 1000 && names.some((s) => !re(s)), 'both outcomes sampled');
});

t.test('upstreams and resolv.conf nameservers parse as the expressions they replaced', async (t) => {
  const { parseUpstream } = await import('../../shared/cni/refinements.ts');
  const { nameservers } = await import('../../plugins/dns-hosts/config.ts');
  const { parseIP } = await import('../../shared/util/ip.ts');
  const reUp = (s: string) => {
    const m = /^\[([^\]]+)\]:(\d{1,5})$/.exec(s) ?? (s.split(':').length === 2 ? /^([^:]+):(\d{1,5})$/.exec(s) : null);
    const address = m ? m[1]! : s, port = m ? Number(m[2]) : 53;
    return parseIP(address) === undefined || port < 1 || port > 65535 ? undefined : { address, port };
  };
  const parts = ['10.0.0.1', '::1', 'fd00::53', '[', ']', ':', '53', '5353', '65536', '0', 'a', '127.0.0.53', ' ', '[::1]:53', '1.2.3.4:99999'];
  const ups = ['', '1.1.1.1', '1.1.1.1:53', '[::1]:5353', '[::1]', '::1', '[]:53', '1.1.1.1:0', '1.1.1.1:', ':53'];
  for (let i = 0; i < 20000; i++) ups.push(Array.from({ length: 1 + rnd(3) }, () => parts[rnd(parts.length)]).join(''));
  const differ = ups.filter((s) => JSON.stringify(parseUpstream(s)) !== JSON.stringify(reUp(s)));
  t.same(differ.slice(0, 5), [], `${ups.length} upstreams parsed alike`);
  const reNs = (conf: string) => conf.split('\n').map((l) => /^\s*nameserver\s+(\S+)/.exec(l)?.[1]).filter((x): x is string => !!x && !!reUp(x));
  const lines = ['nameserver 10.0.0.1', '  nameserver\t::1 # c', 'nameserver', 'nameserver  ', 'nameservers 1.1.1.1', '#nameserver 1.1.1.1', 'nameserver 1.2.3.4:53', 'search x', 'nameserver\u00a0127.0.0.53', 'nameserverfd00::1'];
  const confs = Array.from({ length: 2000 }, () => Array.from({ length: 1 + rnd(4) }, () => lines[rnd(lines.length)]).join('\n'));
  t.same(confs.filter((c) => JSON.stringify(nameservers(c)) !== JSON.stringify(reNs(c))).slice(0, 3), [], `${confs.length} resolv.conf files read alike`);
});
