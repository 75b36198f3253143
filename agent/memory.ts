// What a warm process gathers while it serves a burst of calls (the heap's garbage, and the
// allocator's pages behind it) is given back once it is idle: a full collection, then the
// heap shrunk. Left to itself Bun collects when the heap grows, and keeps the pages.
type BunMemory = { gc(sync: boolean): void; shrink?(): void };

export function giveBackIdleMemory(): void {
  const bun = (globalThis as { Bun?: BunMemory }).Bun;
  if (!bun) return;
  bun.gc(true);
  bun.shrink?.();
}
