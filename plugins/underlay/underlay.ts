// What macvlan and ipvlan share: finding the parent (master), creating the link beside it and
// straight into the container under a temporary name, renaming it to CNI_IFNAME there, IPAM,
// and undoing all of it on failure or DEL.
import { configureInterface, verifyInterface } from '../../shared/cni/configure.ts';
import { shortHash } from '../../shared/util/hash.ts';
import { CniError, ErrCode } from '../../shared/cni/errors.ts';
import { checkIpam, runIpam } from '../../ipam/delegate.ts';
import { inContainerNetns, inNetnsIfPresent, openContainerNetns } from '../../shared/cni/netns.ts';
import type { Context } from '../../shared/cni/plugin.ts';
import type { Result } from '../../shared/cni/result.ts';
import { Rollback } from '../../shared/cni/rollback.ts';
import type { BaseConf } from '../../shared/cni/schema.ts';
import { addLink, deleteLink, getLink, requireLink, setLink, type Link, type LinkKind } from '../../shared/netlink/link.ts';
import { listRoutes } from '../../shared/netlink/route.ts';
import { Netlink } from '../../shared/netlink/socket.ts';
import { acquireParent, dummyName, makeDummy, makeVlan, releaseParent } from './parents.ts';
import { arrFind, arrSome } from '../../shared/util/arrays.ts';

export interface UnderlayConf extends BaseConf {
  master?: string;
  /** Docker's default route via the gateway when the IPAM result has none (default true); false: the reference's, none */
  defaultRoute?: boolean;
  mtu?: number;
  linkInContainer?: boolean;
  vlan?: number;
  /** Docker's internal (or parentless) network: the parent is a dummy made for this network */
  internal?: boolean;
}

export interface UnderlaySpec {
  kind: 'macvlan' | 'ipvlan';
  link: LinkKind;
  mac?: string;
  /** l3/l3s ipvlan: routes point at the device, addresses carry no gateway */
  deviceRoutes?: boolean;
}

/** The interface of the host's default route (the reference's choice for an empty master). */
function defaultRouteInterface(nl: Netlink): string {
  const r = arrFind(listRoutes(nl, { family: 4 }), (x) => x.dst === '0.0.0.0/0' && x.oif) ?? arrFind(listRoutes(nl, { family: 6 }), (x) => x.dst === '::/0' && x.oif);
  const l = r?.oif ? getLink(nl, r.oif) : undefined;
  if (!l) throw new CniError(ErrCode.InvalidConfig, 'invalid network config: master is empty and this host has no default route to take its interface from');
  return l.name;
}

/** The parent's name: master, "<master>.<vlan>", the default-route interface, or prevResult's. */
export function masterName(c: UnderlayConf, nl: Netlink, prev?: Result): string {
  if (c.internal) return dummyName(c.name);
  let m = c.master ?? '';
  if (!m && prev?.interfaces?.length && c.type === 'ipvlan') {
    m = arrFind(prev.interfaces, (i) => i.sandbox)?.name ?? '';
  }
  if (!m) m = defaultRouteInterface(nl);
  if (c.vlan) m = `${m}.${c.vlan}`;
  if (!/^[^/:\s]{1,15}$/.test(m)) throw new CniError(ErrCode.InvalidConfig, `invalid network config: master "${m}" is not an interface name`);
  return m;
}

/**
 * An internal network has a parent of its own that leads nowhere; naming another parent beside
 * it would either leak the network onto that link or be silently ignored (Docker ignores it),
 * so it is an error, found before anything is made.
 */
function checkInternal(c: UnderlayConf): void {
  if (!c.internal) return;
  for (const key of ['master', 'vlan', 'linkInContainer'] as const) {
    if (c[key]) throw new CniError(ErrCode.InvalidConfig, `invalid network config: ${key} cannot be combined with internal: an internal network's parent is a dummy link made for it`);
  }
}

const tempName = (ctx: Context<UnderlayConf>, kind: string): string =>
  `${kind.slice(0, 2)}${shortHash(`${ctx.env.containerId}\0${ctx.env.ifname}`, 10)}`;

const attachment = (ctx: Context<UnderlayConf>): string => `${ctx.conf.name}@${ctx.env.containerId}@${ctx.env.ifname}`;

/** Whether the parent lives in the container (linkInContainer, or chained ipvlan without master). */
const parentInContainer = (c: UnderlayConf, prev?: Result): boolean => !!c.linkInContainer || (c.type === 'ipvlan' && !c.master && !c.internal && arrSome(prev?.interfaces ?? [], (i) => !!i.sandbox));

/**
 * Docker gives macvlan and ipvlan containers a default route via the network's gateway; the
 * reference plugins add only the routes the IPAM result lists. A family whose address has a
 * gateway and whose result has no default route gets one (l3/l3s ipvlan then points it at the
 * device, as every route there).
 */
function addDefaultRoutes(r: Result): void {
  for (const ip of r.ips ?? []) {
    if (!ip.gateway) continue;
    const dst = ip.address.includes(':') ? '::/0' : '0.0.0.0/0';
    if (!arrSome(r.routes ?? [], (x) => x.dst === dst)) (r.routes ??= []).push({ dst, gw: ip.gateway });
  }
}

export async function underlayAdd(ctx: Context<UnderlayConf>, spec: UnderlaySpec): Promise<Result> {
  const c = ctx.conf;
  checkInternal(c);
  await checkIpam(ctx);
  const host = new Netlink();
  const ns = openContainerNetns(ctx.env.netns);
  const cnl = ns.netlink();
  try {
    return await Rollback.guard(async (rb) => {
      const inside = parentInContainer(c, ctx.prevResult);
      const pnl = inside ? cnl : host;
      const master = masterName(c, host, ctx.prevResult);
      if (!inside) {
        if (c.internal) acquireParent(host, master, attachment(ctx), makeDummy, 'dummy');
        else acquireParent(host, master, attachment(ctx), makeVlan);
        rb.push(() => releaseParent(host, master, attachment(ctx)));
      }
      const parent = getLink(pnl, master);
      if (!parent) throw new CniError(ErrCode.InvalidConfig, `invalid network config: master "${master}" does not exist${inside ? ' in the container' : ''}`);
      if (getLink(cnl, ctx.env.ifname)) throw new CniError(ErrCode.Plugin, `container interface "${ctx.env.ifname}" already exists in ${ctx.env.netns}`);

      // created beside its parent, straight into the container, under a name nothing there uses
      const tmp = tempName(ctx, spec.kind);
      try {
        addLink(pnl, {
          name: tmp, spec: spec.link, parent: parent.index, ...(inside ? {} : { nsFd: ns.fd }),
          ...(c.mtu ? { mtu: c.mtu } : {}), ...(spec.mac ? { mac: spec.mac } : {}),
        });
      } catch (e) {
        const code = (e as { code?: string }).code;
        if (code === 'EOPNOTSUPP' || (code === 'ENOENT' && spec.kind === 'ipvlan')) throw new CniError(ErrCode.Plugin, `${spec.kind} is not supported by this kernel (module ${spec.kind})`);
        if (code === 'EBUSY') throw new CniError(ErrCode.Plugin, `cannot add a ${spec.kind} link to "${master}": the parent is busy (a parent carries either macvlan or ipvlan links, and ipvlan links of one mode)`);
        throw new CniError(ErrCode.Plugin, `could not create the ${spec.kind} link on "${master}": ${(e as Error).message}`);
      }
      rb.push(() => { for (const n of [tmp, ctx.env.ifname]) { const l = getLink(cnl, n); if (l && l.kind === spec.kind) { deleteLink(cnl, l.index); return; } } });
      setLink(cnl, requireLink(cnl, tmp).index, { name: ctx.env.ifname });

      const ipam = await runIpam('ADD', ctx);
      if (ipam) rb.push(async () => { await runIpam('DEL', ctx); });
      const result: Result = { cniVersion: ctx.version, ...(ipam ?? {}) };
      // an internal network has no way out for a default route to lead to
      if (c.defaultRoute !== false && !c.internal) addDefaultRoutes(result);
      result.interfaces = [{ name: ctx.env.ifname, sandbox: ctx.env.netns }];
      for (const ip of result.ips ?? []) {
        ip.interface = 0;
        if (spec.deviceRoutes) delete ip.gateway;
      }
      if (spec.deviceRoutes) {
        // l3/l3s: the parent routes; the container reaches everything through the device
        for (const r of result.routes ?? []) delete r.gw;
      }
      const link = configureInterface(ns, cnl, ctx.env.ifname, result);
      result.interfaces[0]!.mac = link.mac ?? '';
      if (c.mtu) result.interfaces[0]!.mtu = c.mtu;
      if (c.dns && Object.keys(c.dns).length) result.dns = c.dns;
      return result;
    });
  } finally {
    cnl.close();
    ns.close();
    host.close();
  }
}

export async function underlayDel(ctx: Context<UnderlayConf>, kind: string): Promise<void> {
  const c = ctx.conf;
  await runIpam('DEL', ctx);
  inNetnsIfPresent(ctx.env.netns, (_ns, nl) => {
    const l = getLink(nl, ctx.env.ifname);
    if (l && l.kind === kind) deleteLink(nl, l.index);
  });
  if (!parentInContainer(c, ctx.prevResult)) {
    const host = new Netlink();
    try {
      let master: string | undefined;
      try { master = masterName(c, host, ctx.prevResult); } catch { master = undefined; }
      if (master) releaseParent(host, master, attachment(ctx));
    } finally { host.close(); }
  }
}

export async function underlayCheck(ctx: Context<UnderlayConf>, kind: string, verify: (l: Link) => string | undefined): Promise<void> {
  const prev = ctx.prevResult;
  if (!prev) throw new CniError(ErrCode.InvalidConfig, 'invalid network config: CHECK needs prevResult');
  await runIpam('CHECK', ctx);
  inContainerNetns(ctx.env.netns, (_ns, nl) => {
    const l = getLink(nl, ctx.env.ifname);
    if (!l) throw new CniError(ErrCode.Plugin, `container interface "${ctx.env.ifname}" is missing`);
    if (l.kind !== kind) throw new CniError(ErrCode.Plugin, `container interface "${ctx.env.ifname}" is a ${l.kind ?? 'device'}, not ${kind}`);
    const bad = verify(l);
    if (bad) throw new CniError(ErrCode.Plugin, bad);
    verifyInterface(nl, l, prev, ctx.env.ifname, ctx.env.netns);
  });
}
