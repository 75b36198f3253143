// tuning (chained): sysctls and link settings of the container interface; the originals are
// saved on ADD and put back on DEL, as the reference does (sysctls included here).
import { STATE_DIRS } from '../../shared/os/state.ts';
import { exists, readFile, readStateFile, unlink, writeFile } from '../../shared/os/fs.ts';
import { join } from '../../shared/util/path.ts';
import * as z from 'zod/mini';
import { CniError, ErrCode } from '../../shared/cni/errors.ts';
import { inContainerNetns, inNetnsIfPresent } from '../../shared/cni/netns.ts';
import type { Context, Plugin } from '../../shared/cni/plugin.ts';
import { requirePrev } from '../../shared/cni/prev.ts';
import type { Result } from '../../shared/cni/result.ts';
import { baseShape, configSchema, macString } from '../../shared/cni/schema.ts';
import { sweepTemps, writeFileAtomic } from '../../shared/os/files.ts';
import { IFF } from '../../shared/netlink/constants.ts';
import { getLink, requireLink, setLink, type Link, type LinkChange } from '../../shared/netlink/link.ts';
import { NetNS } from '../../shared/os/netns.ts';
import { arrFind, arrMap, arrSome } from '../../shared/util/arrays.ts';

const settings = () => ({
  mac: z.optional(macString()),
  promisc: z.optional(z.boolean()),
  allmulti: z.optional(z.boolean()),
  mtu: z.optional(z.number().check(z.int(), z.minimum(68))),
  txQLen: z.optional(z.number().check(z.int(), z.nonnegative())),
  sysctl: z.optional(z.record(z.string(), z.string())),
});

const schema = () => {
  const s = settings();
  return z.looseObject({
    ...baseShape(),
    ...s,
    dataDir: z.optional(z.string()),
    args: z.optional(z.looseObject({ cni: z.optional(z.looseObject(s)) })),
    runtimeConfig: z.optional(z.looseObject({ mac: s.mac })),
  });
};
type TuningConf = z.infer<ReturnType<typeof schema>>;
type Ctx = Context<TuningConf>;

const ALLOWLIST = '/etc/cni/tuning/allowlist.conf';
const DEFAULT_DATA_DIR = STATE_DIRS.tuning;

interface Saved { mac?: string; mtu?: number; promisc?: boolean; allmulti?: boolean; txQLen?: number; sysctl?: Record<string, string> }

/** Settings after args.cni and runtimeConfig overrides, as the reference merges them. */
function effective(ctx: Ctx): Saved {
  const c = ctx.conf;
  const o = c.args?.cni ?? {};
  const s: Saved = {};
  const mac = c.runtimeConfig?.mac ?? o.mac ?? c.mac;
  if (mac) s.mac = mac.toLowerCase().replace(/-/g, ':');
  for (const k of ['mtu', 'promisc', 'allmulti', 'txQLen'] as const) {
    const v = o[k] ?? c[k];
    if (v !== undefined) (s as Record<string, unknown>)[k] = v;
  }
  const sysctl = { ...(c.sysctl ?? {}), ...(o.sysctl ?? {}) };
  if (Object.keys(sysctl).length) s.sysctl = sysctl;
  return s;
}

/** /proc/sys path of a net.* key, IFNAME substituted; dots or slashes as separators. */
function sysctlPath(key: string, ifname: string): string {
  const k = key.replace(/IFNAME/g, ifname);
  const parts = k.includes('/') ? k.split('/') : k.split('.');
  if (parts[0] !== 'net' || arrSome(parts, (p) => p === '' || p === '.' || p === '..')) {
    throw new CniError(ErrCode.InvalidConfig, `invalid network config: sysctl "${key}" is not a key under net.`);
  }
  return `/proc/sys/${parts.join('/')}`;
}

function checkAllowlist(keys: string[]): void {
  if (!exists(ALLOWLIST)) return;
  const patterns: RegExp[] = [];
  for (const raw of readFile(ALLOWLIST).split('\n')) {
    const l = raw.trim();
    if (l && !l.startsWith('#')) patterns.push(new RegExp(`^${l}$`));
  }
  for (const k of keys) {
    if (!arrSome(patterns, (p) => p.test(k))) throw new CniError(ErrCode.InvalidConfig, `invalid network config: sysctl "${k}" is not allowed by ${ALLOWLIST}`);
  }
}

const dataDir = (ctx: Ctx): string => ctx.conf.dataDir || DEFAULT_DATA_DIR;
const backupPath = (ctx: Ctx): string => join(dataDir(ctx), `${ctx.env.containerId}_${ctx.env.ifname}.json`);
/** Temporaries beside the backups (same file system, for the rename), swept of killed writers' by every ADD and DEL. */
const tmpDir = (ctx: Ctx): string => join(dataDir(ctx), '.tmp');

function linkChange(s: Saved): LinkChange {
  const c: LinkChange = {};
  if (s.mac) c.mac = s.mac;
  if (s.mtu) c.mtu = s.mtu;
  if (s.promisc !== undefined) c.promisc = s.promisc;
  if (s.allmulti !== undefined) c.allmulti = s.allmulti;
  if (s.txQLen !== undefined) c.txqlen = s.txQLen;
  return c;
}

function current(l: Link, want: Saved, ns: NetNS, ifname: string): Saved {
  const s: Saved = {};
  if (want.mac && l.mac) s.mac = l.mac;
  if (want.mtu && l.mtu) s.mtu = l.mtu;
  if (want.promisc !== undefined) s.promisc = (l.flags & IFF.PROMISC) !== 0;
  if (want.allmulti !== undefined) s.allmulti = (l.flags & IFF.ALLMULTI) !== 0;
  if (want.txQLen !== undefined && l.txqlen !== undefined) s.txQLen = l.txqlen;
  if (want.sysctl) s.sysctl = ns.run(() => Object.fromEntries(arrMap(Object.keys(want.sysctl!), (k) => [k, readFile(sysctlPath(k, ifname)).trim()])));
  return s;
}

function apply(ns: NetNS, ifname: string, s: Saved): void {
  const nl = ns.netlink();
  try {
    const l = requireLink(nl, ifname);
    if (s.sysctl) ns.run(() => { for (const [k, v] of Object.entries(s.sysctl!)) writeFile(sysctlPath(k, ifname), v); });
    const change = linkChange(s);
    if (change.mac) {
      // most drivers (veth included) change a MAC live; taking the link down would drop its routes
      try {
        setLink(nl, l.index, { mac: change.mac });
      } catch (e) {
        if ((e as { code?: string }).code !== 'EBUSY' || !(l.flags & IFF.UP)) throw e;
        setLink(nl, l.index, { up: false });
        setLink(nl, l.index, { mac: change.mac });
        setLink(nl, l.index, { up: true });
      }
      delete change.mac;
    }
    if (Object.keys(change).length) setLink(nl, l.index, change);
  } finally {
    nl.close();
  }
}

function add(ctx: Ctx): Result {
  const prev = requirePrev(ctx.prevResult, 'tuning');
  const want = effective(ctx);
  // nothing to set (nerdctl's chain ends with a bare tuning): nothing to save, change or undo
  if (!Object.keys(want).length) return prev;
  if (want.sysctl) { for (const k of Object.keys(want.sysctl)) sysctlPath(k, ctx.env.ifname); checkAllowlist(Object.keys(want.sysctl)); }
  inContainerNetns(ctx.env.netns, (ns, nl) => {
    const before = current(requireLink(nl, ctx.env.ifname), want, ns, ctx.env.ifname);
    sweepTemps(tmpDir(ctx), true);
    writeFileAtomic(backupPath(ctx), JSON.stringify(before), tmpDir(ctx));
    try {
      apply(ns, ctx.env.ifname, want);
    } catch (e) {
      try { apply(ns, ctx.env.ifname, before); unlink(backupPath(ctx)); } catch { /* best effort */ }
      throw new CniError(ErrCode.Plugin, `tuning: ${(e as Error).message}`);
    }
  });
  if (want.mac) {
    const i = arrFind(prev.interfaces ?? [], (x) => x.name === ctx.env.ifname && !!x.sandbox);
    if (i) i.mac = want.mac;
  }
  if (want.mtu) {
    const i = arrFind(prev.interfaces ?? [], (x) => x.name === ctx.env.ifname && !!x.sandbox);
    if (i) i.mtu = want.mtu;
  }
  return prev;
}

function del(ctx: Ctx): void {
  sweepTemps(tmpDir(ctx), true);
  const file = backupPath(ctx);
  if (!exists(file)) return;
  let saved: Saved;
  // not a regular file of ours, or not what we write: nothing to restore (and never followed)
  try { saved = JSON.parse(readStateFile(file)) as Saved; } catch { unlink(file); return; }
  if (!saved || typeof saved !== 'object' || Array.isArray(saved)) { unlink(file); return; }
  inNetnsIfPresent(ctx.env.netns, (ns, nl) => {
    if (getLink(nl, ctx.env.ifname)) apply(ns, ctx.env.ifname, saved);
  });
  unlink(file);
}

function check(ctx: Ctx): void {
  requirePrev(ctx.prevResult, 'tuning');
  const want = effective(ctx);
  inContainerNetns(ctx.env.netns, (ns, nl) => {
    const now = current(requireLink(nl, ctx.env.ifname), want, ns, ctx.env.ifname);
    for (const [k, v] of Object.entries(want)) {
      if (JSON.stringify(now[k as keyof Saved]) !== JSON.stringify(v)) throw new CniError(ErrCode.Plugin, `tuning: ${k} is ${JSON.stringify(now[k as keyof Saved])}, expected ${JSON.stringify(v)}`);
    }
  });
}

export const tuning: Plugin<TuningConf> = { type: 'tuning', chained: true, config: configSchema('tuning', schema), add, del, check };
