// What a plugin provides to the skeleton.
import type { CniArgs } from './args.ts';
import type { CniEnv } from './env.ts';
import type { Result } from './result.ts';
import type { BaseConf, ConfigSchema } from './schema.ts';

export interface Context<C> {
  env: CniEnv;
  conf: C;
  /** the config's cniVersion (0.1.0 when absent); results are printed in it */
  version: string;
  args: CniArgs;
  prevResult?: Result;
  /** stdin exactly as received, for delegation to another plugin */
  stdin: string;
}

type Maybe<T> = T | Promise<T>;

export interface Plugin<C extends BaseConf = BaseConf> {
  /** the plugin's type, as in the config's "type" and the executable's name */
  type: string;
  /** its config schema (compiled by the build; the zod form is built only when run from source) */
  config: ConfigSchema<C>;
  /** CNI_ARGS keys this plugin reads (others need IgnoreUnknown) */
  knownArgs?: readonly string[];
  /** a chained plugin: its ADD returns prevResult (possibly changed) */
  chained?: true;
  add(ctx: Context<C>): Maybe<Result>;
  del(ctx: Context<C>): Maybe<void>;
  check(ctx: Context<C>): Maybe<void>;
  gc?(ctx: Context<C>): Maybe<void>;
  status?(ctx: Context<C>): Maybe<void>;
}
