// How a plugin declares what it keeps in our nftables tables: data only (no code of the tables
// loads with it), so a plugin names its sets at no cost to a call that changes no element.
import type { Family, SetType } from '../../shared/netlink/nftables.ts';
import { CniError, ErrCode } from '../../shared/cni/errors.ts';
import { arrFind } from '../../shared/util/arrays.ts';

/** A set or map of an owner: its name is one of the owner's set names. */
export interface SetDecl<N extends string> extends SetType { name: N }

/**
 * A chain of an owner: a base chain (`hook`: "type nat hook postrouting priority srcnat; policy
 * accept;") or a regular one its base chains jump to; its rules, re-declared whole.
 */
export interface ChainDecl { family: Family; name: string; hook?: string; rules: readonly string[] }

/** What one plugin keeps in our tables: the sets its elements go to, and the chains that use them. */
export interface NftOwner<N extends string = string> {
  /** the plugin that adds (and alone removes) elements of these sets */
  owner: string;
  sets: readonly SetDecl<N>[];
  chains: readonly ChainDecl[];
}

/** An owner's declaration, its set names kept as a type (so an element's set is checked). */
export const nftOwner = <const N extends string>(o: NftOwner<N>): NftOwner<N> => o;

/** The set names an owner declares. */
export type SetOf<O> = O extends NftOwner<infer N> ? N : never;

/** One set or map element: `key`, or `key : value` in a map. */
export interface Elem<N extends string = string> { family: Family; set: N; key: string; value?: string }

/** An owner's set by name. */
export function setOf<N extends string>(o: NftOwner<N>, name: N): SetDecl<N> {
  const s = arrFind(o.sets, (x) => x.name === name);
  if (!s) throw new CniError(ErrCode.Plugin, `internal error: ${o.owner} has no nft set "${name}"`);
  return s;
}

