// Reading our tables back: the elements of owners' sets and maps, with their tags, over
// netlink; and removing every element one owner tagged for one container.
import { NftBatch, TABLE, type Elem, type NftOwner } from './batch.ts';
import { NLM_F } from '../../shared/netlink/constants.ts';
import { NFT_MSG, decodeElements, dumpBody, netfilter, nftType } from '../../shared/netlink/nftables.ts';
import { mark } from '../../shared/os/trace.ts';
import { utf8 } from '../../shared/util/bytes.ts';
import { arrFilter, arrMap, arrSome } from '../../shared/util/arrays.ts';

export interface NftElement<N extends string = string> extends Elem<N> { comment?: string }

function text(v: any): string {
  if (v && typeof v === 'object') {
    if (v.elem) return text(v.elem.val);
    if (v.concat) return arrMap(v.concat as unknown[], text).join(' . ');
    if (v.prefix) return `${v.prefix.addr}/${v.prefix.len}`;
    if (v.range) return `${v.range[0]}-${v.range[1]}`;
    if (v.jump) return `jump ${v.jump.target}`;
  }
  // interface names are strings nft needs quoted; addresses, ports and protocols are not
  return typeof v === 'string' && !/^[0-9a-fA-F.:/]+$/.test(v) && !/^(tcp|udp|sctp)$/.test(v) ? `"${v}"` : String(v);
}

/**
 * Every element of the owners' sets: one netlink dump per set. With `tag`, only the elements
 * tagged with it, the others never decoded.
 */
export function ourElements<N extends string>(owners: readonly NftOwner<N>[], tag?: string): NftElement<N>[] {
  const out: NftElement<N>[] = [];
  const nl = netfilter();
  const only = tag === undefined ? undefined : utf8(tag);
  let sets = 0;
  for (const o of owners) {
    for (const set of o.sets) {
      sets++;
      let replies;
      try {
        replies = nl.request('list set elements', nftType(NFT_MSG.GETSETELEM), NLM_F.DUMP, dumpBody(set));
      } catch (e) {
        if ((e as { code?: string }).code === 'ENOENT') continue;   // not declared yet: no elements
        throw e;
      }
      for (const m of replies) for (const e of decodeElements(set, m.payload, only)) out.push({ family: set.family, set: set.name, ...e });
    }
  }
  mark(`nft listed ${sets} sets`);
  return out;
}

/** The elements of our tables in `nft -j list ruleset` output (tests read nft's view with it). */
export function elementsOf(listing: string): NftElement[] {
  const out: NftElement[] = [];
  for (const o of (JSON.parse(listing).nftables ?? []) as Record<string, any>[]) {
    const s = o.set ?? o.map;
    if (!s || s.table !== TABLE) continue;
    for (const e of s.elem ?? []) {
      const [k, v] = Array.isArray(e) ? e : [e, undefined];
      const el: NftElement = { family: s.family, set: s.name, key: text(k) };
      if (v !== undefined) el.value = text(v);
      if (k?.elem?.comment) el.comment = k.elem.comment;
      out.push(el);
    }
  }
  return out;
}

/** The elements `owner` added for a container (its tag, in the owner's own sets). */
export function findTagged<N extends string>(tag: string, owner: NftOwner<N>, all: NftElement<N>[] = ourElements([owner], tag)): NftElement<N>[] {
  return arrFilter(all, (e) => e.comment === tag && arrSome(owner.sets, (s) => s.name === e.set));
}

/**
 * Remove every element `owner` tagged for a container (and `extra` shared ones) in one batch.
 * Found by tag, never recomputed: an address or port reused by another container since keeps
 * its elements even when a late DEL of the old container arrives; and never another owner's,
 * so a chain whose later DEL fails is not left half torn down.
 */
export function removeContainer<N extends string>(tag: string, owner: NftOwner<N>, extra: readonly Elem<N>[] = []): void {
  new NftBatch(owner).remove([...findTagged(tag, owner), ...extra]).run();
}
