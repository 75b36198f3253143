// host-local's range validation scales with the number of ranges (issue 15: 20,000 ranges took
// 11.6 s when every range was compared with every other). Held as a complexity check, not a
// timing: ten times the ranges may cost at most 40 times the work (n log n: ~13x; n^2: 100x).
import t from 'tap';
import { noOverlaps, rangeSets } from '../../ipam/host-local/config.ts';

const dotted = (n: number): string => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
/** n disjoint /26s in 10.0.0.0/8 (the last one, with overlapLast, the same as the first). */
const ranges = (n: number, overlapLast = false) =>
  Array.from({ length: n }, (_, i) => ({ subnet: `${dotted(((10 << 24) >>> 0) + (overlapLast && i === n - 1 ? 0 : i) * 64)}/26` }));

const conf = (rs: { subnet: string }[]) => ({ ipam: { type: 'host-local', ranges: rs.map((r) => [r]) } }) as any;

t.test('20,000 disjoint range sets validate, an overlap among them is found and named', async (t) => {
  t.equal(rangeSets(conf(ranges(20_000))).length, 20_000);
  t.throws(() => rangeSets(conf(ranges(20_000, true))), { code: 7, message: /ipam\.ranges\[19999\]\[0\] overlaps with ipam\.ranges\[0\]\[0\]/ });
});

type Entry = Parameters<typeof noOverlaps>[0][number];

/** Reads of the entries' ranges while `check` runs over n disjoint /26s, shuffled (seeded) so a sort does its n log n comparisons. */
function reads(n: number, check: (entries: Entry[]) => void): number {
  let count = 0;
  let seed = 12345;
  const rand = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
  const entries = Array.from({ length: n }, (_, i) => {
    const r = { subnet: { family: 4 }, start: BigInt(i * 64), end: BigInt(i * 64 + 63) } as unknown as Entry['r'];
    return { get r() { count++; return r; }, field: `ipam.ranges[${i}][0]`, order: i };
  });
  for (let i = n - 1; i > 0; i--) { const j = Math.floor(rand() * (i + 1)); [entries[i], entries[j]] = [entries[j]!, entries[i]!]; }
  check(entries);
  return count;
}

/** What issue 15 found: every range against every other. */
const pairwise = (entries: Entry[]): void => {
  for (let i = 0; i < entries.length; i++) for (let j = 0; j < i; j++) if (entries[i]!.r.start <= entries[j]!.r.end && entries[j]!.r.start <= entries[i]!.r.end) throw new Error('overlap');
};

t.test('ten times the ranges, at most 40 times the work', async (t) => {
  // Work is counted, not timed (a timing flaked in CI: one GC in the large run made it x53).
  const small = reads(2_000, noOverlaps), large = reads(20_000, noOverlaps);
  t.ok(small >= 2_000 && large / small < 40, `2,000 ranges ${small} reads, 20,000 ranges ${large} reads (x${(large / small).toFixed(1)})`);
  // the same count fails a pairwise check
  const ratio = reads(2_000, pairwise) / reads(200, pairwise);
  t.ok(ratio > 40, `a pairwise check: x${ratio.toFixed(1)} for ten times the ranges`);
});
