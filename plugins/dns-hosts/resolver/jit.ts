// The executable starts with JIT tier-up held back (a plugin call lives milliseconds: see
// build/build.ts); the resolver's threads live long and answer many queries: normal tier-up,
// set in each thread's VM.
declare const Bun: { unsafe?: { setJITPolicy?: (scale: number) => void } } | undefined;

export function normalJit(): void {
  if (typeof Bun !== 'undefined') Bun.unsafe?.setJITPolicy?.(1);
}
