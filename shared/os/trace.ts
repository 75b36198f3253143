// Phase timings for start-up and ADD/DEL anatomy: with CNI_TS_TRACE set, each mark prints
// "cni-ts trace <ms since process start> <label>" on stderr (straight to fd 2: a
// process.stderr stream would itself cost milliseconds). Free when unset.
import { writeFd } from './fs.ts';

const on = !!process.env.CNI_TS_TRACE;

export function mark(label: string): void {
  if (on) writeFd(2, `cni-ts trace ${performance.now().toFixed(2)} ${label}\n`);
}
