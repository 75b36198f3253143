// The bench as a picture: per benchmark, ours (exec'd), ours through the node agent where the
// row has it, and the reference side by side (p50 bar, p90 whisker), each row on its own scale (the benchmarks span milliseconds to seconds), the p50
// ratio at the end. Plain SVG, no dependency.
import type { Row } from './lib.ts';

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function chart(rows: Row[], title: string): string {
  const benches = [...new Set(rows.map((r) => r.bench))];
  const W = 1020, label = 360, bar = 500, rowH = 62, top = 56;
  const H = top + benches.length * rowH + 30;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="12" y="24" font-size="16" font-weight="bold">${esc(title)}</text>`,
    `<rect x="${label}" y="34" width="12" height="10" fill="#2b7bb9"/><text x="${label + 16}" y="43">cni-ts</text>`,
    `<rect x="${label + 64}" y="34" width="12" height="10" fill="#5bb974"/><text x="${label + 80}" y="43">cni-ts agent</text>`,
    `<rect x="${label + 164}" y="34" width="12" height="10" fill="#bbb"/><text x="${label + 180}" y="43">reference (containernetworking/plugins)</text>`,
    `<text x="${label + bar + 20}" y="43">p50 to ref (exec / agent)</text>`,
  ];
  benches.forEach((b, i) => {
    const y = top + i * rowH;
    const ours = rows.find((r) => r.bench === b && r.impl === 'ours');
    const agent = rows.find((r) => r.bench === b && r.impl === 'agent');
    const ref = rows.find((r) => r.bench === b && r.impl === 'reference');
    const max = Math.max(ours?.p90 ?? 0, agent?.p90 ?? 0, ref?.p90 ?? 0) || 1;
    parts.push(`<text x="12" y="${y + 22}">${esc(b.length > 52 ? `${b.slice(0, 50)}…` : b)}</text>`);
    [[ours, '#2b7bb9', 4], [agent, '#5bb974', 22], [ref, '#bbb', 40]].forEach(([r, color, dy]) => {
      if (!r) return;
      const row = r as Row, yy = y + (dy as number);
      const w = (row.p50 / max) * bar, wx = (row.p90 / max) * bar;
      parts.push(`<rect x="${label}" y="${yy}" width="${w.toFixed(1)}" height="14" fill="${color}"/>`);
      parts.push(`<line x1="${label + w}" y1="${yy + 7}" x2="${label + wx}" y2="${yy + 7}" stroke="#333"/><line x1="${label + wx}" y1="${yy + 2}" x2="${label + wx}" y2="${yy + 12}" stroke="#333"/>`);
      parts.push(`<text x="${label + wx + 4}" y="${yy + 11}" font-size="10">${row.p50.toFixed(1)} ms</text>`);
    });
    if (ours && ref) parts.push(`<text x="${label + bar + 60}" y="${y + 22}" font-weight="bold">${(ours.p50 / ref.p50).toFixed(2)}${agent ? ` / ${(agent.p50 / ref.p50).toFixed(2)}` : ''}</text>`);
  });
  parts.push(`<text x="12" y="${H - 10}" font-size="10" fill="#555">bars: p50; whiskers: p90; each row on its own scale. npm run bench, one interleaved run.</text></svg>`);
  return `${parts.join('\n')}\n`;
}
