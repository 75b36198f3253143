// Finding and removing every element tagged for one container, whatever the element is.
import { spawnSync } from 'node:child_process';
import { NftBatch, TABLE, nftPath } from './nft.ts';

export interface TaggedElement { family: 'inet' | 'bridge'; set: string; key: string }

function keyText(v: any): string {
  if (v && typeof v === 'object') {
    if (v.elem) return keyText(v.elem.val);
    if (v.concat) return v.concat.map(keyText).join(' . ');
    if (v.prefix) return `${v.prefix.addr}/${v.prefix.len}`;
    if (v.range) return `${v.range[0]}-${v.range[1]}`;
  }
  return typeof v === 'string' && !/^[0-9a-fA-F.:/]+$/.test(v) && !/^[a-z]+$/.test(v) ? `"${v}"` : String(v);
}

/** Every element of our tables whose comment is `tag` (one `nft list` for both tables). */
export function findTagged(tag: string): TaggedElement[] {
  const r = spawnSync(nftPath(), ['-j', 'list', 'ruleset'], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) return [];
  const out: TaggedElement[] = [];
  for (const o of (JSON.parse(r.stdout).nftables ?? []) as Record<string, any>[]) {
    const s = o.set ?? o.map;
    if (!s || s.table !== TABLE) continue;
    for (const e of s.elem ?? []) {
      const k = Array.isArray(e) ? e[0] : e;
      if (k?.elem?.comment === tag) out.push({ family: s.family, set: s.name, key: keyText(k) });
    }
  }
  return out;
}

/** Delete those elements in one batch. */
export function deleteTagged(elems: TaggedElement[], batch = new NftBatch()): NftBatch {
  for (const e of elems) batch.raw(`delete element ${e.family} ${TABLE} ${e.set} { ${e.key} }`);
  return batch;
}
