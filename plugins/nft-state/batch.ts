// nftables state of the plugins that keep some (bridge's masquerade, portmap, firewall,
// vxlan-overlay): one atomic batch per call, over netlink (shared/netlink/nftables.ts); the `nft`
// tool only declares an owner's sets and chains when they are missing. Each owner declares its
// own sets and chains, as data, in its own folder (an NftOwner): chains whose rules never
// change, in the two tables "cni-ts" (inet and bridge families) that all owners share.
// Per-container state lives in set and map elements, each tagged with a comment naming the
// network and container, so ADD adds elements, DEL deletes exactly those (idempotently), and
// CHECK finds them. An element names its set by a name its owner declared (a type, checked).
import { childProcess, nodeCrypto } from '../../shared/util/lazy.ts';
import { encodeBatch, netfilter, TABLE, type ElemText, type Family, type SetChange, type SetType } from '../../shared/netlink/nftables.ts';
import { mark } from '../../shared/os/trace.ts';
import { isAlnum } from '../../shared/util/chars.ts';
import { exists } from '../../shared/os/fs.ts';
import { CniError, ErrCode } from '../../shared/cni/errors.ts';
import { arrFilter, arrMap } from '../../shared/util/arrays.ts';

import { setOf, type ChainDecl, type Elem, type NftOwner } from './owner.ts';

export { TABLE };
export * from './owner.ts';

/** `add set inet cni-ts NAME { type a . b [: c . d]; [flags interval;] }` */
const declaration = (t: SetType): string =>
  `add ${t.data ? 'map' : 'set'} ${t.family} ${TABLE} ${t.name} { type ${t.key.join(' . ')}${t.data ? ` : ${t.data.join(' . ')}` : ''};${t.interval ? ' flags interval;' : ''} }`;

const chainLines = (c: ChainDecl): string[] => [
  `add chain ${c.family} ${TABLE} ${c.name}${c.hook ? ` { ${c.hook} }` : ''}`,
  `flush chain ${c.family} ${TABLE} ${c.name}`,
  ...arrMap(c.rules, (r) => `add rule ${c.family} ${TABLE} ${c.name} ${r}`),
];

/**
 * An owner's fixed part of the tables, re-declared (flush + add) whole: identical every time,
 * so idempotent; and it names only the owner's own sets and chains, so it never disturbs
 * another owner's.
 */
export function skeleton(o: NftOwner): string[] {
  const families = new Set<Family>([...arrMap(o.sets, (s) => s.family), ...arrMap(o.chains, (c) => c.family)]);
  return [
    ...arrMap([...families].sort(), (f) => `add table ${f} ${TABLE}`),
    ...arrMap(o.sets, declaration),
    ...o.chains.flatMap(chainLines),
  ];
}

/** nft keeps at most this many characters of an element's comment. */
const MAX_COMMENT = 128;

/**
 * The tag every element carries: network and container, as DEL and CHECK look for them. Names
 * too long for a comment (a 64-character container ID leaves the network name 56) keep their
 * beginnings, readable, and a SHA-256 of the whole tag, so every attachment's tag stays its own.
 */
export function tag(network: string, containerId: string): string {
  const full = `net=${network} id=${containerId}`;
  if (full.length <= MAX_COMMENT) return full;
  const digest = nodeCrypto().createHash('sha256').update(full).digest('hex').slice(0, 32);
  return `net=${network.slice(0, 32)} id=${containerId.slice(0, 32)} sha256=${digest}`;
}

/**
 * Values interpolated into nft commands come from parsed addresses and validated names only:
 * bare words of address, port and tag characters, and double-quoted interface names that hold
 * neither a quote nor a comma (a host link may be named anything but "/" and white space).
 * That is /^(?:[A-Za-z0-9_.:/@ =-]|"[A-Za-z0-9_.@+:-]{1,15}")*$/ (tested against it), checked
 * by hand: a regular expression's first use is paid by every call that changes elements.
 */
export function isSafeElementText(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 34) {   // "quoted interface name"
      const end = s.indexOf('"', i + 1);
      if (end < 0 || end - i - 1 < 1 || end - i - 1 > 15) return false;
      for (let j = i + 1; j < end; j++) {
        const d = s.charCodeAt(j);
        if (!isAlnum(d) && d !== 95 && d !== 46 && d !== 64 && d !== 43 && d !== 58 && d !== 45) return false;
      }
      i = end;
    } else if (!isAlnum(c) && c !== 95 && c !== 46 && c !== 58 && c !== 47 && c !== 64 && c !== 32 && c !== 61 && c !== 45) return false;
  }
  return true;
}

function safe(s: string): string {
  if (!isSafeElementText(s)) throw new CniError(ErrCode.InvalidConfig, `refusing to pass ${JSON.stringify(s)} to nft (interface names must be of A-Z a-z 0-9 _ . @ + : -)`);
  return s;
}

export class NftError extends CniError {
  constructor(readonly reason: string, readonly errno?: string) {
    super(ErrCode.Plugin, `nftables batch failed: ${reason}`);
  }
  /** an element with the same key and another value (or owner) is there already */
  get exists(): boolean { return this.errno === 'EEXIST' || /File exists/.test(this.reason); }
}

/**
 * Element changes in one owner's sets, applied as one atomic nf_tables netlink batch (no `nft`
 * process). Deletions are idempotent: each element is added (as it is) and deleted in the same
 * batch, so one already gone is no error.
 */
export class NftBatch<N extends string> {
  private readonly changes: SetChange[] = [];

  constructor(private readonly o: NftOwner<N>) {}

  private push(set: N, op: 'add' | 'delete', elem: ElemText): void {
    const type = setOf(this.o, set);
    const last = this.changes.at(-1);
    if (last && last.set === type && last.op === op) last.elems.push(elem);
    else this.changes.push({ set: type, op, elems: [elem] });
  }

  /** Add elements (`key` or `key : value`), each tagged with `comment`. */
  add(elems: readonly Elem<N>[], comment: string): this {
    for (const e of elems) this.push(e.set, 'add', { key: safe(e.key), ...(e.value ? { value: safe(e.value) } : {}), comment: safe(comment) });
    return this;
  }

  /**
   * Delete elements whether or not they exist: add then delete in the same batch. Each element
   * once: a second delete of one key in a batch fails the whole batch (ENOENT), and a set dumped
   * while other calls change it can list an element twice.
   */
  remove(elems: readonly Elem<N>[]): this {
    const once = uniqueElems(elems);
    for (const e of once) this.push(e.set, 'add', { key: safe(e.key), ...(e.value ? { value: safe(e.value) } : {}) });
    for (const e of once) this.push(e.set, 'delete', { key: safe(e.key) });
    return this;
  }

  /**
   * One atomic batch. The owner's sets and chains are declared (by `nft -f`, rare) only when the
   * batch finds them missing: first use on a host, or after someone flushed the ruleset; then it
   * runs again.
   */
  run(): void {
    if (!this.changes.length) return;
    const nl = netfilter();
    try {
      const send = () => { nl.send('nftables batch', (seq) => encodeBatch(this.changes, seq)); mark('nft batch done'); };
      try {
        send();
      } catch (e) {
        if ((e as { code?: string }).code !== 'ENOENT') throw e;
        ensureTables(this.o);
        send();
      }
    } catch (e) {
      if (e instanceof CniError) throw e;
      throw new NftError((e as Error).message, (e as { code?: string }).code);
    }
  }
}

/** Elements with their first occurrence of each (family, set, key) only, in order. */
export function uniqueElems<E extends Elem>(elems: readonly E[]): E[] {
  const seen = new Set<string>();
  return arrFilter(elems, (e) => {
    const k = `${e.family}\0${e.set}\0${e.key}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** Declare (or repair) an owner's sets and chains, with nothing else. */
export function ensureTables(o: NftOwner): void {
  const r = childProcess().spawnSync(nftPath(), ['-f', '-'], { input: `${skeleton(o).join('\n')}\n`, encoding: 'utf8' });
  if (r.error) throw new CniError(ErrCode.Plugin, `cannot run nft: ${r.error.message}`);
  if (r.status !== 0) throw new NftError(arrFilter(r.stderr.trim().split('\n'), (l) => /Error/.test(l)).slice(0, 3).join(' ') || r.stderr.trim().slice(0, 300));
}

let nftBin: string | undefined;
export function nftPath(): string {
  if (nftBin) return nftBin;
  for (const p of ['/usr/sbin/nft', '/sbin/nft', '/usr/bin/nft', '/usr/local/sbin/nft']) if (exists(p)) return (nftBin = p);
  throw new CniError(ErrCode.Plugin, 'nft (nftables) is not installed: apt-get install nftables');
}
