// The three path operations the plugins need, without loading node:path at start-up.
// Inputs are absolute or simple relative paths; no normalisation of "..".

// (plain loops: every call computes a dozen paths before the kernel is asked anything)
export function join(...parts: string[]): string {
  let out = '';
  for (const p of parts) if (p !== '') out = out ? `${out}/${p}` : p;
  return out.includes('//') ? out.replace(/\/{2,}/g, '/') : out;
}

const trimSlashes = (p: string): string => {
  let end = p.length;
  while (end > 0 && p.charCodeAt(end - 1) === 47) end--;
  return end === p.length ? p : p.slice(0, end);
};

export function dirname(p: string): string {
  const i = trimSlashes(p).lastIndexOf('/');
  return i < 0 ? '.' : i === 0 ? '/' : p.slice(0, i);
}

export function basename(p: string): string {
  const s = trimSlashes(p);
  return s.slice(s.lastIndexOf('/') + 1);
}
