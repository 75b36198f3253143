// CNI_ARGS: "K=V;K=V". Unknown keys are an error unless IgnoreUnknown is set, as in libcni.
import { CniError, ErrCode } from './errors.ts';
import { arrFilter } from '../util/arrays.ts';

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
