// docs/benchmarks.md: a full bench run replaces only what stands between the page's markers.
import t from 'tap';
import { END, START, withFigures } from '../bench/page.ts';

t.test('the figures go between the markers, the findings around them stay', async (t) => {
  const page = `# Benchmarks\n\nintro\n\n${START}\nold figures\n${END}\n\n## Findings\n\nkept\n`;
  const out = withFigures(page, 'new figures');
  t.equal(out, `# Benchmarks\n\nintro\n\n${START}\nnew figures\n${END}\n\n## Findings\n\nkept\n`);
  t.equal(withFigures(out, 'newer'), out.replace('new figures', 'newer'), 'again: replaced, not added');
});

t.test('a page without the markers gets them at its end', async (t) => {
  t.equal(withFigures('# Benchmarks\n', 'figures'), `# Benchmarks\n\n${START}\nfigures\n${END}\n`);
});
