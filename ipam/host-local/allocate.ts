// Handing out addresses: round-robin from the last reserved one, as the reference does,
// skipping the gateway and reserved addresses; static requests checked and explained.
import { CniError, ErrCode } from '../../shared/cni/errors.ts';
import { bigToString, familyOf, parseIP, subnetHolds, toBig, type Family } from '../../shared/util/ip.ts';
import { rangeFor, rangeSetText, type Range, type RangeSet } from './config.ts';
import { UNKNOWN_HOLDER, type Store } from './store.ts';
import { arrFind } from '../../shared/util/arrays.ts';

export interface Allocation { ip: string; prefix: number; gateway: string; family: Family }

const allocation = (rs: RangeSet, r: Range, ip: bigint): Allocation =>
  ({ ip: bigToString(ip, rs.family), prefix: r.subnet.prefix, gateway: bigToString(r.gateway, rs.family), family: rs.family });

/**
 * Round-robin: every candidate address of the set once, starting after `last` when it lies in
 * the set, skipping gateways and reserved addresses; the first one the store lets us reserve.
 * (A plain loop: this runs in every ADD, before JIT compilation could pay off.)
 */
export function allocateDynamic(store: Store, rs: RangeSet, index: number, key: string): Allocation {
  const lastText = store.lastReserved(index);
  const last = lastText && familyOf(lastText) === rs.family ? toBig(parseIP(lastText)!.bytes) : undefined;
  const ranges = rs.ranges, n = ranges.length;
  let ri = 0, cur = ranges[0]!.start;
  const advance = (): void => {
    if (cur >= ranges[ri]!.end) { ri = (ri + 1) % n; cur = ranges[ri]!.start; } else cur++;
  };
  if (last !== undefined) {
    for (let i = 0; i < n; i++) {
      if (last >= ranges[i]!.start && last <= ranges[i]!.end) { ri = i; cur = last; advance(); break; }
    }
  }
  const startRi = ri, startCur = cur;
  do {
    const r = ranges[ri]!;
    if (cur !== r.gateway && !r.reserved.has(cur) && store.reserve(bigToString(cur, rs.family), key, index)) return allocation(rs, r, cur);
    advance();
  } while (ri !== startRi || cur !== startCur);
  throw new CniError(ErrCode.AddressesExhausted, `no addresses left in range set ${rangeSetText(rs)}`);
}

const notAvailable = (text: string, why: string): CniError => new CniError(ErrCode.AddressUnavailable, `requested address ${text} ${why}`);

const holderText = (h: string): string => {
  if (h === UNKNOWN_HOLDER) return 'another container';
  const [id, ifname] = h.split('\r\n');
  return `container ${id}${ifname ? ` (interface ${ifname})` : ''}`;
};

/** Where a static address (Docker --ip) may go: anywhere in a range's subnet but its network, broadcast, gateway and reserved addresses. */
export function staticRange(rs: RangeSet, text: string): { r: Range; ip: bigint } {
  const addr = parseIP(text)!;
  const ip = toBig(addr.bytes);
  const r = rangeFor(rs, addr.family, ip) ?? arrFind(rs.ranges, (x) => x.subnet.family === addr.family && subnetHolds(x.subnet, ip));
  const unavailable = (why: string): CniError => notAvailable(text, why);
  if (!r) throw unavailable(`is outside every range of range set ${rangeSetText(rs)}`);
  if (ip === r.subnet.first || (rs.family === 4 && ip === r.subnet.last)) throw unavailable('is the network or broadcast address of its subnet');
  if (ip === r.gateway) throw unavailable("is the subnet's gateway");
  if (r.reserved.has(ip)) throw unavailable('is reserved');
  return { r, ip };
}

/** A static address, reserved for `key` (or already held by it). */
export function allocateStatic(store: Store, rs: RangeSet, index: number, key: string, text: string): Allocation {
  const { r, ip } = staticRange(rs, text);
  const canonical = bigToString(ip, rs.family);
  if (!store.reserve(canonical, key, index)) {
    const h = store.holder(canonical);
    if (h !== key) throw notAvailable(text, `is already held by ${h ? holderText(h) : 'another container'}`);
  }
  return allocation(rs, r, ip);
}
