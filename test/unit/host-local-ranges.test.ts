// host-local's range validation scales with the number of ranges (issue 15: 20,000 ranges took
// 11.6 s when every range was compared with every other). Held as a complexity check, not a
// timing: ten times the ranges may cost at most 40 times as long (n log n: ~13-20x; n^2: 100x).
import t from 'tap';
import { rangeSets } from '../../ipam/host-local/config.ts';

const dotted = (n: number): string => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
/** n disjoint /26s in 10.0.0.0/8 (the last one, with overlapLast, the same as the first). */
const ranges = (n: number, overlapLast = false) =>
  Array.from({ length: n }, (_, i) => ({ subnet: `${dotted(((10 << 24) >>> 0) + (overlapLast && i === n - 1 ? 0 : i) * 64)}/26` }));

const conf = (rs: { subnet: string }[]) => ({ ipam: { type: 'host-local', ranges: rs.map((r) => [r]) } }) as any;

function time(n: number): number {
  const rs = ranges(n);
  const t0 = performance.now();
  rangeSets(conf(rs));
  return performance.now() - t0;
}

t.test('20,000 disjoint range sets validate, an overlap among them is found and named', async (t) => {
  t.equal(rangeSets(conf(ranges(20_000))).length, 20_000);
  t.throws(() => rangeSets(conf(ranges(20_000, true))), { code: 7, message: /ipam\.ranges\[19999\]\[0\] overlaps with ipam\.ranges\[0\]\[0\]/ });
});

t.test('ten times the ranges, at most 40 times the time', async (t) => {
  time(2_000);   // warm up
  const small = Math.min(time(2_000), time(2_000), time(2_000));
  const large = Math.min(time(20_000), time(20_000));
  t.ok(large / small < 40, `2,000 ranges ${small.toFixed(1)} ms, 20,000 ranges ${large.toFixed(1)} ms (x${(large / small).toFixed(1)})`);
});
