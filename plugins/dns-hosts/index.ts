// dns-hosts (chained, last): Docker's embedded DNS for any main plugin. ADD records the
// container's names and addresses on this network and makes sure the resolver serves them
// inside the container at 127.0.0.11; DEL removes exactly this attachment's record; CHECK asks
// the resolver from inside the container; GC drops records of attachments that are gone.
// Also installed as `dnsname`, whose conflists (podman's) it runs unchanged.
import { CniError, ErrCode } from '../../shared/cni/errors.ts';
import { openContainerNetns } from '../../shared/cni/netns.ts';
import { mark } from '../../shared/os/trace.ts';
import type { Plugin } from '../../shared/cni/plugin.ts';
import { containerIPs, ipOnly, requirePrev } from '../../shared/cni/prev.ts';
import type { Result } from '../../shared/cni/result.ts';
import { exists, readFile } from '../../shared/os/fs.ts';
import { native } from '../../shared/os/native.ts';
import { queryFrom, syncResolver } from './client.ts';
import { NAME_ARGS, dnsConfig, names, upstreams, type Ctx, type DnsConf } from './config.ts';
import { withStateLock } from '../../shared/os/state.ts';
import { LISTEN_ADDRESS, claimAddress, paths, readAll, readRecord, recordKey, recordedOn, removeRecord, stateDir, writeRecord, type Attachment } from './records.ts';
import { arrEvery, arrFilter, arrFindIndex, arrMap, arrSome } from '../../shared/util/arrays.ts';
import { parseCIDR, subnetOf, subnetString } from '../../shared/util/ip.ts';
import { validateEtcd } from '../cluster/config.ts';

/** The addresses of CNI_IFNAME in prevResult (all container addresses when interfaces are not listed), with their prefixes. */
function cidrsOf(prev: Result, ifname: string): string[] {
  const idx = arrFindIndex(prev.interfaces ?? [], (i) => i.name === ifname && !!i.sandbox);
  const ips = idx >= 0 ? arrFilter(prev.ips ?? [], (ip) => ip.interface === idx) : containerIPs(prev);
  return arrMap(ips, (ip) => ip.address);
}

/** The subnet of an address with its prefix ("10.90.0.5/24" -> "10.90.0.0/24"). */
function subnetText(cidr: string): string | undefined {
  const n = parseCIDR(cidr);
  return n ? subnetString(subnetOf(n)) : undefined;
}

function hostResolvConf(): string {
  try { return readFile('/etc/resolv.conf'); } catch { return ''; }
}

/** Our resolver first in the container's resolv.conf (runtimes write it from the result), then the rest. */
function withDns(prev: Result, listen: string, domain: string | undefined): Result {
  const dns = prev.dns ?? {};
  const out: Result['dns'] = { ...dns, nameservers: [listen, ...arrFilter(dns.nameservers ?? [], (n) => n !== listen)] };
  if (domain) out.search = [domain, ...arrFilter(dns.search ?? [], (s) => s !== domain)];
  return { ...prev, dns: out };
}

function add(ctx: Ctx): Result {
  const prev = requirePrev(ctx.prevResult, 'dns-hosts');
  const n = names(ctx);
  // (open until the resolver has it: it takes the namespace from this process's descriptor)
  const ns = openContainerNetns(ctx.env.netns);
  try {
    return addWith(ctx, prev, n, ns.fd, ns.run(() => native().netnsCookie()));
  } finally { ns.close(); }
}

function addWith(ctx: Ctx, prev: Result, n: ReturnType<typeof names>, nsFd: number, cookie: string): Result {
  mark('names and netns');
  const cidrs = cidrsOf(prev, ctx.env.ifname);
  const a: Attachment = {
    network: ctx.conf.name, containerId: ctx.env.containerId, ifname: ctx.env.ifname,
    netns: ctx.env.netns, cookie, listen: LISTEN_ADDRESS, ...n, ips: arrMap(cidrs, (c) => ipOnly({ address: c })),
    upstreams: upstreams(ctx, hostResolvConf), forward: ctx.conf.forward ?? true,
  };
  if (ctx.conf.domainName) a.domainName = ctx.conf.domainName.toLowerCase();
  if (ctx.conf.etcd) {
    validateEtcd(ctx.conf.etcd);
    a.cluster = { etcd: ctx.conf.etcd, ...(ctx.conf.ttl ? { ttl: ctx.conf.ttl } : {}) };
    a.subnets = ctx.conf.subnets ?? arrFilter(arrMap(cidrs, subnetText), (s): s is string => !!s);
  }
  const dir = stateDir();
  withStateLock(paths(dir).lock, () => {
    a.listen = claimAddress(dir, a.containerId, a.network, a.ifname);
    writeRecord(dir, a);
  });
  mark('recorded');
  try {
    syncResolver(dir, true, recordKey(a.network, a.containerId, a.ifname), nsFd);
  } catch (e) {
    withStateLock(paths(dir).lock, () => removeRecord(dir, a.network, a.containerId, a.ifname));
    throw e;
  }
  return withDns(prev, a.listen, ctx.conf.domainName);
}

function del(ctx: Ctx): void {
  const dir = stateDir();
  if (!exists(paths(dir).records)) return;
  const removed = withStateLock(paths(dir).lock, () => removeRecord(dir, ctx.conf.name, ctx.env.containerId, ctx.env.ifname));
  if (removed) syncResolver(dir, false, recordKey(ctx.conf.name, ctx.env.containerId, ctx.env.ifname));
}

/** A query for the container's own name, asked from inside its namespace. */
async function selfQuery(nsFd: number, a: Attachment): Promise<void> {
  const packet = await import('dns-packet');
  const v6 = a.ips.length > 0 && arrEvery(a.ips, (ip) => ip.includes(':'));
  const name = a.name ?? a.shortId;
  const q = packet.encode({ id: 1 + Math.floor(Math.random() * 65000), type: 'query', flags: packet.RECURSION_DESIRED, questions: [{ type: v6 ? 'AAAA' : 'A', name }] });
  const raw = queryFrom(nsFd, a.listen, q);
  if (!raw) throw new CniError(ErrCode.Plugin, `dns-hosts: the resolver does not answer at ${a.listen} inside ${a.netns}`);
  const r = packet.decode(raw);
  const got = arrMap(r.answers ?? [], (x) => String((x as { data?: unknown }).data));
  const rcode = (r as { rcode?: string }).rcode;
  const want = arrFilter(a.ips, (ip) => ip.includes(':') === v6);
  if (rcode !== 'NOERROR' || arrSome(want, (ip) => !got.includes(ip))) {
    throw new CniError(ErrCode.Plugin, `dns-hosts: ${name} answers ${rcode} ${JSON.stringify(got)} inside the container, expected ${JSON.stringify(want)}`);
  }
}

async function check(ctx: Ctx): Promise<void> {
  requirePrev(ctx.prevResult, 'dns-hosts');
  const dir = stateDir();
  const a = readRecord(dir, ctx.conf.name, ctx.env.containerId, ctx.env.ifname);
  if (!a) throw new CniError(ErrCode.Plugin, `dns-hosts: no record of ${ctx.env.containerId}/${ctx.env.ifname} on ${ctx.conf.name}`);
  syncResolver(dir, true);   // a resolver that died is brought back with every record
  const ns = openContainerNetns(ctx.env.netns);
  try { await selfQuery(ns.fd, a); } finally { ns.close(); }
}

function gc(ctx: Ctx): void {
  const dir = stateDir();
  const valid = new Set(arrMap(ctx.conf['cni.dev/valid-attachments'] ?? [], (v) => `${v.containerID}:${v.ifname}`));
  withStateLock(paths(dir).lock, () => {
    for (const r of recordedOn(dir, ctx.conf.name)) {
      if (!valid.has(`${r.containerId}:${r.ifname}`)) removeRecord(dir, ctx.conf.name, r.containerId, r.ifname);
    }
  });
  syncResolver(dir, readAll(dir).length > 0);
}

export const dnsHosts: Plugin<DnsConf> = {
  type: 'dns-hosts', chained: true, config: dnsConfig, knownArgs: NAME_ARGS, add, del, check, gc, status: () => {},
};
