// CNI_ARGS: "K=V;K=V". Unknown keys are an error unless IgnoreUnknown is set, as in libcni.
import { CniError, ErrCode } from './errors.ts';
import { arrFilter } from '../util/arrays.ts';
import { parseIP } from '../util/ip.ts';

export type CniArgs = Record<string, string>;

export function parseCniArgs(raw: string, known: readonly string[] = []): CniArgs {
  const out: CniArgs = {};
  if (!raw) return out;
  for (const pair of raw.split(';')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new CniError(ErrCode.InvalidEnv, `CNI_ARGS: invalid pair "${pair}"`);
    out[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  const ignore = /^(1|true)$/i.test(out.IgnoreUnknown ?? '');
  if (!ignore) {
    const accepted = new Set([...known, 'IgnoreUnknown', 'K8S_POD_NAMESPACE', 'K8S_POD_NAME', 'K8S_POD_INFRA_CONTAINER_ID', 'K8S_POD_UID']);
    const unknown = arrFilter(Object.keys(out), (k) => !accepted.has(k));
    if (unknown.length) throw new CniError(ErrCode.InvalidEnv, `CNI_ARGS: unknown args ${JSON.stringify(unknown)} (set IgnoreUnknown=1 to ignore them)`);
  }
  return out;
}

/**
 * The static addresses a runtime asks for, as the reference's IPAM takes them: CNI_ARGS IP=
 * (comma-separated), args.cni.ips and the `ips` capability (runtimeConfig.ips); each once,
 * without a prefix length.
 */
export function requestedIPs(ctx: { args: CniArgs; conf: { args?: { cni?: { ips?: string[] } }; runtimeConfig?: { ips?: string[] } } }): string[] {
  const raw = [
    ...(ctx.args.IP ? ctx.args.IP.split(',') : []),
    ...(ctx.conf.args?.cni?.ips ?? []),
    ...(ctx.conf.runtimeConfig?.ips ?? []),
  ];
  const out: string[] = [];
  for (const r of raw) {
    const text = String(r).trim().split('/')[0]!;
    const ip = parseIP(text);
    if (!ip) throw new CniError(ErrCode.InvalidConfig, `invalid requested IP "${r}" (runtimeConfig.ips, args.cni.ips or CNI_ARGS IP)`);
    if (!out.includes(text)) out.push(text);
  }
  return out;
}
