// Array callbacks as plain loops. A plugin call is a fresh process, and the runtime compiles
// each of its callback builtins (map, filter, find, findIndex, some, every, forEach) from source
// the first time one is called, at many times the cost of a function of our own (measured in
// the compiled executable: docs/start-up.md). Plugin code calls these instead.

export function arrMap<T, U>(xs: readonly T[], f: (v: T, i: number) => U): U[] {
  const out = new Array<U>(xs.length);
  for (let i = 0; i < xs.length; i++) out[i] = f(xs[i]!, i);
  return out;
}

export function arrFilter<T, S extends T>(xs: readonly T[], f: (v: T, i: number) => v is S): S[];
export function arrFilter<T>(xs: readonly T[], f: (v: T, i: number) => unknown): T[];
export function arrFilter<T>(xs: readonly T[], f: (v: T, i: number) => unknown): T[] {
  const out: T[] = [];
  for (let i = 0; i < xs.length; i++) if (f(xs[i]!, i)) out.push(xs[i]!);
  return out;
}

export function arrFind<T, S extends T>(xs: readonly T[], f: (v: T, i: number) => v is S): S | undefined;
export function arrFind<T>(xs: readonly T[], f: (v: T, i: number) => unknown): T | undefined;
export function arrFind<T>(xs: readonly T[], f: (v: T, i: number) => unknown): T | undefined {
  for (let i = 0; i < xs.length; i++) if (f(xs[i]!, i)) return xs[i];
  return undefined;
}

export function arrFindIndex<T>(xs: readonly T[], f: (v: T, i: number) => unknown): number {
  for (let i = 0; i < xs.length; i++) if (f(xs[i]!, i)) return i;
  return -1;
}

export function arrSome<T>(xs: readonly T[], f: (v: T, i: number) => unknown): boolean {
  for (let i = 0; i < xs.length; i++) if (f(xs[i]!, i)) return true;
  return false;
}

export function arrEvery<T, S extends T>(xs: readonly T[], f: (v: T, i: number) => v is S): xs is readonly S[];
export function arrEvery<T>(xs: readonly T[], f: (v: T, i: number) => unknown): boolean;
export function arrEvery<T>(xs: readonly T[], f: (v: T, i: number) => unknown): boolean {
  for (let i = 0; i < xs.length; i++) if (!f(xs[i]!, i)) return false;
  return true;
}

export function arrForEach<T>(xs: readonly T[], f: (v: T, i: number) => void): void {
  for (let i = 0; i < xs.length; i++) f(xs[i]!, i);
}
