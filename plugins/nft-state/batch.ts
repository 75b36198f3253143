// nftables: one atomic batch per call, over netlink (shared/netlink/nftables.ts); the `nft` tool
// only declares the tables when they are missing. cni-ts keeps all of its state in
// two tables of its own whose rules never change; per-container state lives in set and map
// elements, each tagged with a comment naming the network and container, so ADD adds
// elements, DEL deletes exactly those (idempotently), and CHECK finds them.
import { childProcess, nodeCrypto } from '../../shared/util/lazy.ts';
import { encodeBatch, netfilter, type ElemText, type SetChange, type SetType } from '../../shared/netlink/nftables.ts';
import { mark } from '../../shared/os/trace.ts';
import { isAlnum } from '../../shared/util/chars.ts';
import { exists } from '../../shared/os/fs.ts';
import { CniError, ErrCode } from '../../shared/cni/errors.ts';
import { arrFilter, arrMap } from '../../shared/util/arrays.ts';

export const TABLE = 'cni-ts';

/**
 * Every set and map of our tables, as data: the declarations below are made from it, and a call
 * looks up a set's element types here (no declaration text parsed at run time).
 */
const SETS: readonly SetType[] = [
  // bridge ipMasq: masquerade these sources, except towards their own subnet
  { family: 'inet', name: 'masq_src4', key: ['ipv4_addr'], interval: true },
  { family: 'inet', name: 'masq_src6', key: ['ipv6_addr'], interval: true },
  { family: 'inet', name: 'masq_skip4', key: ['ipv4_addr', 'ipv4_addr'], interval: true },
  { family: 'inet', name: 'masq_skip6', key: ['ipv6_addr', 'ipv6_addr'], interval: true },
  // portmap: (proto . port) or (host ip . proto . port) -> (container ip . port)
  { family: 'inet', name: 'pm4', key: ['inet_proto', 'inet_service'], data: ['ipv4_addr', 'inet_service'], interval: false },
  { family: 'inet', name: 'pm6', key: ['inet_proto', 'inet_service'], data: ['ipv6_addr', 'inet_service'], interval: false },
  { family: 'inet', name: 'pm4ip', key: ['ipv4_addr', 'inet_proto', 'inet_service'], data: ['ipv4_addr', 'inet_service'], interval: false },
  { family: 'inet', name: 'pm6ip', key: ['ipv6_addr', 'inet_proto', 'inet_service'], data: ['ipv6_addr', 'inet_service'], interval: false },
  // portmap snat: hairpin (container . itself) and from-localhost, or everything (masqAll)
  { family: 'inet', name: 'pm_hairpin4', key: ['ipv4_addr', 'ipv4_addr'], interval: false },
  { family: 'inet', name: 'pm_hairpin6', key: ['ipv6_addr', 'ipv6_addr'], interval: false },
  { family: 'inet', name: 'pm_local4', key: ['ipv4_addr'], interval: false },
  { family: 'inet', name: 'pm_masqall4', key: ['ipv4_addr'], interval: false },
  { family: 'inet', name: 'pm_masqall6', key: ['ipv6_addr'], interval: false },
  // firewall: per-container accepts (as the reference adds them), isolation between bridges
  { family: 'inet', name: 'fw_accept4', key: ['ipv4_addr'], interval: false },
  { family: 'inet', name: 'fw_accept6', key: ['ipv6_addr'], interval: false },
  { family: 'inet', name: 'iso_bridges', key: ['ifname'], interval: false },
  { family: 'inet', name: 'iso_same', key: ['ifname', 'ifname'], interval: false },
  // vxlan-overlay: a host's overlay interfaces (bridge, vxlan device) forward only among their own network's
  { family: 'inet', name: 'ov_ifaces', key: ['ifname'], interval: false },
  { family: 'inet', name: 'ov_same', key: ['ifname', 'ifname'], interval: false },
  // bridge-family: inter-container isolation ports, MAC spoof checks
  { family: 'bridge', name: 'icc_ports', key: ['ifname'], interval: false },
  { family: 'bridge', name: 'spoof_ports', key: ['ifname'], interval: false },
  { family: 'bridge', name: 'spoof_ok', key: ['ifname', 'ether_addr'], interval: false },
];

/** `add set inet cni-ts NAME { type a . b [: c . d]; [flags interval;] }` */
const declaration = (t: SetType): string =>
  `add ${t.data ? 'map' : 'set'} ${t.family} ${TABLE} ${t.name} { type ${t.key.join(' . ')}${t.data ? ` : ${t.data.join(' . ')}` : ''};${t.interval ? ' flags interval;' : ''} }`;

/** The fixed skeleton, re-declared (flush + add) in every batch: identical, so idempotent. */
export function skeleton(): string[] {
  return [
    `add table inet ${TABLE}`,
    `add table bridge ${TABLE}`,
    ...arrMap(arrFilter(SETS, (t) => t.family === 'inet'), declaration),
    ...arrMap(arrFilter(SETS, (t) => t.family === 'bridge'), declaration),
    ...baseChain('inet', 'postrouting', 'type nat hook postrouting priority srcnat; policy accept;', [
      'ct status dnat ip saddr . ip daddr @pm_hairpin4 masquerade',
      'ct status dnat ip6 saddr . ip6 daddr @pm_hairpin6 masquerade',
      'ct status dnat ip saddr 127.0.0.0/8 ip daddr @pm_local4 masquerade',
      'ct status dnat ip daddr @pm_masqall4 masquerade',
      'ct status dnat ip6 daddr @pm_masqall6 masquerade',
      'ip saddr @masq_src4 ip saddr . ip daddr != @masq_skip4 ip daddr != 224.0.0.0/4 masquerade',
      'ip6 saddr @masq_src6 ip6 saddr . ip6 daddr != @masq_skip6 ip6 daddr != ff00::/8 masquerade',
    ]),
    ...baseChain('inet', 'portmap', '', [
      'dnat ip to ip daddr . meta l4proto . th dport map @pm4ip',
      'dnat ip to meta l4proto . th dport map @pm4',
      'dnat ip6 to ip6 daddr . meta l4proto . th dport map @pm6ip',
      'dnat ip6 to meta l4proto . th dport map @pm6',
    ]),
    ...baseChain('inet', 'prerouting', 'type nat hook prerouting priority dstnat; policy accept;', ['fib daddr type local jump portmap']),
    ...baseChain('inet', 'output', 'type nat hook output priority -100; policy accept;', ['fib daddr type local jump portmap']),
    ...baseChain('inet', 'forward', 'type filter hook forward priority filter; policy accept;', [
      'iifname @iso_bridges oifname @iso_bridges iifname . oifname != @iso_same drop',
      'iifname @ov_ifaces oifname @ov_ifaces iifname . oifname != @ov_same drop',
      'ip daddr @fw_accept4 ct state established,related accept',
      'ip saddr @fw_accept4 accept',
      'ip6 daddr @fw_accept6 ct state established,related accept',
      'ip6 saddr @fw_accept6 accept',
    ]),
    ...baseChain('bridge', 'forward', 'type filter hook forward priority filter; policy accept;', ['iifname @icc_ports oifname @icc_ports drop']),
    ...baseChain('bridge', 'prerouting', 'type filter hook prerouting priority filter; policy accept;', ['iifname @spoof_ports iifname . ether saddr != @spoof_ok drop']),
  ];
}

let types: Map<string, SetType> | undefined;

export function setTypes(): Map<string, SetType> {
  return (types ??= new Map(arrMap(SETS, (t) => [t.name, t])));
}

function baseChain(family: 'inet' | 'bridge', name: string, spec: string, rules: string[]): string[] {
  return [
    `add chain ${family} ${TABLE} ${name}${spec ? ` { ${spec} }` : ''}`,
    `flush chain ${family} ${TABLE} ${name}`,
    ...arrMap(rules, (r) => `add rule ${family} ${TABLE} ${name} ${r}`),
  ];
}

/** One set or map element: `key`, or `key : value` in a map. */
export interface Elem { family: 'inet' | 'bridge'; set: string; key: string; value?: string }

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

/** The sets and maps each plugin adds elements to: a plugin removes elements from its own only. */
export const OWNED_SETS = {
  bridge: ['masq_src4', 'masq_src6', 'masq_skip4', 'masq_skip6', 'spoof_ports', 'spoof_ok'],
  portmap: ['pm4', 'pm6', 'pm4ip', 'pm6ip', 'pm_hairpin4', 'pm_hairpin6', 'pm_local4', 'pm_masqall4', 'pm_masqall6'],
  firewall: ['fw_accept4', 'fw_accept6', 'iso_bridges', 'iso_same', 'icc_ports'],
  'vxlan-overlay': ['ov_ifaces', 'ov_same'],
} as const;
export type Owner = keyof typeof OWNED_SETS;

/**
 * Values interpolated into nft commands come from parsed addresses and validated names only:
 * bare words of address, port and tag characters, and double-quoted interface names that hold
 * neither a quote nor a comma (a host link may be named anything but "/" and white space).
 * That is /^(?:[A-Za-z0-9_.:/@ =-]|"[A-Za-z0-9_.@+:-]{1,15}")*$/ (tested against it), checked
 * by hand: the expression's first use cost every call that changes elements.
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
 * Element changes for our tables, applied as one atomic nf_tables netlink batch (no `nft`
 * process: ~10 ms a call saved). Deletions are idempotent: each element is added (as it is)
 * and deleted in the same batch, so one already gone is no error.
 */
export class NftBatch {
  private readonly changes: SetChange[] = [];

  private push(set: string, op: 'add' | 'delete', elem: ElemText): void {
    const type = setTypes().get(set);
    if (!type) throw new CniError(ErrCode.Plugin, `internal error: no nft set "${set}"`);
    const last = this.changes.at(-1);
    if (last && last.set === type && last.op === op) last.elems.push(elem);
    else this.changes.push({ set: type, op, elems: [elem] });
  }

  /** Add elements (`key` or `key : value`), each tagged with `comment`. */
  add(elems: readonly Elem[], comment: string): this {
    for (const e of elems) this.push(e.set, 'add', { key: safe(e.key), ...(e.value ? { value: safe(e.value) } : {}), comment: safe(comment) });
    return this;
  }

  /** Delete elements whether or not they exist: add then delete in the same batch. */
  remove(elems: readonly Elem[]): this {
    for (const e of elems) this.push(e.set, 'add', { key: safe(e.key), ...(e.value ? { value: safe(e.value) } : {}) });
    for (const e of elems) this.push(e.set, 'delete', { key: safe(e.key) });
    return this;
  }

  /**
   * One atomic batch. The tables are declared (by `nft -f`, rare) only when the batch finds
   * them missing: first use on a host, or after someone flushed the ruleset; then it runs again.
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
        NftBatch.ensureTables();
        send();
      }
    } catch (e) {
      if (e instanceof CniError) throw e;
      throw new NftError((e as Error).message, (e as { code?: string }).code);
    }
  }

  /** Declare (or repair) the tables, with nothing else. */
  static ensureTables(): void {
    const r = childProcess().spawnSync(nftPath(), ['-f', '-'], { input: `${skeleton().join('\n')}\n`, encoding: 'utf8' });
    if (r.error) throw new CniError(ErrCode.Plugin, `cannot run nft: ${r.error.message}`);
    if (r.status !== 0) throw new NftError(arrFilter(r.stderr.trim().split('\n'), (l) => /Error/.test(l)).slice(0, 3).join(' ') || r.stderr.trim().slice(0, 300));
  }
}

let nftBin: string | undefined;
export function nftPath(): string {
  if (nftBin) return nftBin;
  for (const p of ['/usr/sbin/nft', '/sbin/nft', '/usr/bin/nft', '/usr/local/sbin/nft']) if (exists(p)) return (nftBin = p);
  throw new CniError(ErrCode.Plugin, 'nft (nftables) is not installed: apt-get install nftables');
}
