// shared/util/ip.ts's CIDR and range arithmetic held to ip-cidr (a well-kept library, on ip-address)
// over random IPv4 and IPv6 prefixes (fixed seed): network and last address, membership. ip-cidr
// stays out of the executables (our own code is on the hot path, for start-up); here it is the
// oracle.
import IPCIDR from 'ip-cidr';
import t from 'tap';
import { bigToString, parseCIDR, parseIP, subnetOf, toBig } from '../../shared/util/ip.ts';
import { prng } from '../stress/world.ts';

const rnd = prng(42);
const byte = () => Math.floor(rnd() * 256);
const v4 = () => Array.from({ length: 4 }, byte).join('.');
const v6 = () => Array.from({ length: 8 }, () => Math.floor(rnd() * 65536).toString(16)).join(':');

t.test('network, last address and membership agree with ip-cidr', async (t) => {
  let checked = 0;
  for (let i = 0; i < 2000; i++) {
    const six = i % 2 === 1;
    const cidr = `${six ? v6() : v4()}/${Math.floor(rnd() * (six ? 129 : 33))}`;
    const ours = subnetOf(parseCIDR(cidr)!);
    const oracle = new IPCIDR(cidr);
    const [start, end] = oracle.toRange({ type: 'bigInteger' }) as unknown as [bigint, bigint];
    if (BigInt(start) !== ours.first || BigInt(end) !== ours.last) {
      t.fail(`${cidr}: ours ${bigToString(ours.first, ours.family)}-${bigToString(ours.last, ours.family)}, ip-cidr ${oracle.start()}-${oracle.end()}`);
      continue;
    }
    for (let k = 0; k < 5; k++) {
      const probe = k < 2 ? bigToString(k ? ours.last : ours.first, ours.family) : six ? v6() : v4();
      const n = toBig(parseIP(probe)!.bytes);
      if ((n >= ours.first && n <= ours.last) !== oracle.contains(probe)) t.fail(`${probe} in ${cidr}`);
      checked++;
    }
  }
  t.equal(checked, 10_000, 'every prefix and probe agreed');
});
