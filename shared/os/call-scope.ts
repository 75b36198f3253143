// What a process that runs many plugin calls one after another (the node agent's workers,
// agent/) forgets between them, so that each call starts as an exec'd one would: caches a call
// may keep because an exec'd call's process ends with it register here.
const resets: (() => void)[] = [];

/** fn runs after every call in a process that runs many. */
export const forgetAfterCall = (fn: () => void): void => { resets.push(fn); };

/** A call ended: everything registered forgets what it kept. */
export function endCall(): void {
  for (const r of resets) r();
}
