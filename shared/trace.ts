// Phase timings for start-up and ADD/DEL anatomy: with CNI_TS_TRACE set, each mark prints
// "cni-ts trace <ms since process start> <label>" on stderr. Free when unset.
const on = !!process.env.CNI_TS_TRACE;

export function mark(label: string): void {
  if (on) process.stderr.write(`cni-ts trace ${performance.now().toFixed(2)} ${label}\n`);
}
