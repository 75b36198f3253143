import t from 'tap';
import { formatIP, parseCIDR, parseIP } from '../../shared/util/ip.ts';

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

t.test('parseIP accepts exactly what node:net accepts (zones aside) and formats like the reference', async (t) => {
  const { isIP } = await import('node:net');
  const cases = [
    '0.0.0.0', '255.255.255.255', '256.1.1.1', '01.2.3.4', '1.2.3', '1.2.3.4.5', '1.2.3.-4', ' 1.2.3.4', '1.2.3.4 ',
    '::', '::1', '1::', 'fd00::1', 'fe80::1:2:3:4', '1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7::', '::2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8:9',
    '1::2::3', ':1:2:3:4:5:6:7', '1:2:3:4:5:6:7:', '12345::', 'g::1', '::ffff:1.2.3.4', '::1.2.3.4', '1:2:3:4:5:6:1.2.3.4',
    '1:2:3:4:5:6:7:1.2.3.4', '::ffff:1.2.3', '::ffff:01.2.3.4', 'FD00::ABCD', ':::', '', 'x', '1.2.3.4/8',
  ];
  for (const s of cases) {
    const want = isIP(s);
    t.equal(parseIP(s)?.family ?? 0, want, `${JSON.stringify(s)} is ${want ? `IPv${want}` : 'not an address'}`);
  }
  t.equal(formatIP(parseIP('::ffff:1.2.3.4')!.bytes), '::ffff:102:304');
  t.equal(formatIP(parseIP('1:0:0:2:0:0:0:3')!.bytes), '1:0:0:2::3');
});
