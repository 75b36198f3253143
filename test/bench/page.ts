// docs/benchmarks.md: a full `npm run bench` writes its figures between the page's two markers
// (and the chart, docs/bench.svg), keeping the findings written by hand around them.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, release } from 'node:os';
import { join } from 'node:path';

export const START = '<!-- bench:start (written by npm run bench; edits here are overwritten) -->';
export const END = '<!-- bench:end -->';

/** The page with `generated` between the markers (added at the end when the page has none). */
export function withFigures(page: string, generated: string): string {
  const a = page.indexOf(START), b = page.indexOf(END);
  const block = `${START}\n${generated.trim()}\n${END}`;
  if (a < 0 || b < a) return `${page.trimEnd()}\n\n${block}\n`;
  return `${page.slice(0, a)}${block}${page.slice(b + END.length)}`;
}

/** What a full run says: the machine, then each section it measured. */
export function figures(date: string, sections: string[]): string {
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  return [
    `The last full run: ${date.slice(0, 16).replace('T', ' ')} UTC, ${cpus().length} cores (${cpu}), Linux ${release()}, in a host namespace of the bench's own.`,
    '',
    '![cni-ts vs the reference plugins: p50 bars, p90 whiskers, per benchmark](bench.svg)',
    '',
    ...sections.filter(Boolean).flatMap((s) => [s.trim(), '']),
  ].join('\n');
}

export function writePage(root: string, generated: string, svg: string): void {
  const file = join(root, 'docs/benchmarks.md');
  const page = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n';
  writeFileSync(file, withFigures(page, generated));
  writeFileSync(join(root, 'docs/bench.svg'), svg);
}
