// The keys that name a cluster store, as every plugin that keeps cluster state takes them:
// `etcd` (its members, a key prefix, TLS files) and `ttl` (the host lease's seconds).
import * as z from 'zod/mini';
import { CniError, ErrCode } from '../../shared/cni/errors.ts';
import { endpointString, keyPathString } from '../../shared/cni/schema.ts';

export const etcdSchema = () => z.looseObject({
  endpoints: z.array(endpointString()),
  prefix: z.optional(keyPathString()),
  caFile: z.optional(z.string()),
  certFile: z.optional(z.string()),
  keyFile: z.optional(z.string()),
});
export const ttlSchema = () => z.optional(z.number().check(z.int(), z.minimum(0), z.maximum(86400)));

export type EtcdSettings = z.infer<ReturnType<typeof etcdSchema>>;

/** Checks across the etcd keys. */
export function validateEtcd(e: EtcdSettings): void {
  if (!e.endpoints.length) throw new CniError(ErrCode.InvalidConfig, 'invalid network config: etcd.endpoints is empty');
  if (e.certFile && !e.keyFile) throw new CniError(ErrCode.InvalidConfig, 'invalid network config: etcd.certFile needs etcd.keyFile');
}
