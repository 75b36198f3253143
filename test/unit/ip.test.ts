import t from 'tap';
import { formatIP, parseCIDR, parseIP } from '../../shared/ip.ts';

t.test('IPv4 and IPv6 round trip through bytes', async (t) => {
  const cases: [string, string, string][] = [
    ['10.1.2.3', '0a010203', '10.1.2.3'],
    ['::1', '00000000000000000000000000000001', '::1'],
    ['fe80::1:2', 'fe800000000000000000000000010002', 'fe80::1:2'],
    ['2001:db8:0:0:1:0:0:1', '20010db8000000000001000000000001', '2001:db8::1:0:0:1'],
    ['1:2:3:4:5:6:7:8', '00010002000300040005000600070008', '1:2:3:4:5:6:7:8'],
    ['::ffff:1.2.3.4', '00000000000000000000ffff01020304', '::ffff:102:304'],
    ['::', '00000000000000000000000000000000', '::'],
  ];
  for (const [s, hex, canon] of cases) {
    const p = parseIP(s)!;
    t.equal(p.bytes.toString('hex'), hex, s);
    t.equal(formatIP(p.bytes), canon, `${s} formats`);
  }
  t.equal(parseIP('10.1.2'), undefined);
  t.equal(parseIP('fe80:::1'), undefined);
});

t.test('CIDR parsing', async (t) => {
  t.same(parseCIDR('10.0.0.5/24')?.prefix, 24);
  t.equal(parseCIDR('10.0.0.5/33'), undefined);
  t.equal(parseCIDR('fd00::/129'), undefined);
  t.equal(parseCIDR('10.0.0.5'), undefined);
  t.equal(parseCIDR('10.0.0.5/x'), undefined);
});
