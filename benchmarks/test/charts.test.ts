import { describe, expect, it } from 'vitest';
import { barListChart, groupedBarChart, lineChart } from '../charts.js';

// ------------------------------------------------------------ a strict XML reader

interface Element {
  name: string;
  attrs: Record<string, string>;
}

const ENTITY = /^&(amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);/;

function checkText(s: string, where: string): void {
  for (let i = s.indexOf('&'); i >= 0; i = s.indexOf('&', i + 1)) {
    if (!ENTITY.test(s.slice(i))) throw new Error(`raw & in ${where}: ${s.slice(i, i + 20)}`);
  }
  if (s.includes('<')) throw new Error(`raw < in ${where}`);
}

/** Throws unless `xml` is one well-formed element (tags nested and closed in order, attributes quoted, text escaped); returns every element. */
function parseXml(xml: string): Element[] {
  const elements: Element[] = [];
  const stack: string[] = [];
  let roots = 0;
  let i = 0;
  while (i < xml.length) {
    const lt = xml.indexOf('<', i);
    const textEnd = lt < 0 ? xml.length : lt;
    const between = xml.slice(i, textEnd);
    checkText(between, 'text');
    if (stack.length === 0 && between.trim() !== '') throw new Error(`text outside the root: ${between.trim().slice(0, 20)}`);
    if (lt < 0) break;
    if (xml.startsWith('</', lt)) {
      const m = /^<\/([A-Za-z][\w:.-]*)\s*>/.exec(xml.slice(lt));
      if (!m) throw new Error(`bad closing tag at ${lt}`);
      const open = stack.pop();
      if (open !== m[1]) throw new Error(`</${m[1]}> closes <${open}>`);
      i = lt + m[0].length;
      continue;
    }
    const name = /^<([A-Za-z][\w:.-]*)/.exec(xml.slice(lt));
    if (!name) throw new Error(`bad tag at ${lt}: ${xml.slice(lt, lt + 20)}`);
    if (stack.length === 0 && ++roots > 1) throw new Error('more than one root element');
    const attrs: Record<string, string> = {};
    const attr = /\s+([A-Za-z_][\w:.-]*)="([^"]*)"/y;
    attr.lastIndex = lt + name[0].length;
    let at = attr.lastIndex;
    for (let m = attr.exec(xml); m; m = attr.exec(xml)) {
      if (m[1] in attrs) throw new Error(`attribute ${m[1]} twice on <${name[1]}>`);
      checkText(m[2], `attribute ${m[1]}`);
      attrs[m[1]] = m[2];
      at = attr.lastIndex;
    }
    const end = /\s*(\/?)>/y;
    end.lastIndex = at;
    const close = end.exec(xml);
    if (!close) throw new Error(`unquoted attribute or bad tag end on <${name[1]}>: ${xml.slice(at, at + 30)}`);
    elements.push({ name: name[1], attrs });
    if (close[1] !== '/') stack.push(name[1]);
    i = end.lastIndex;
  }
  if (stack.length > 0) throw new Error(`unclosed <${stack.join('>, <')}>`);
  if (roots !== 1) throw new Error('no root element');
  return elements;
}

/** Parses and applies the checks every chart must pass. */
function check(svg: string): Element[] {
  const elements = parseXml(svg);
  const root = elements[0];
  expect(root.name).toBe('svg');
  expect(root.attrs.xmlns).toBe('http://www.w3.org/2000/svg');
  expect(root.attrs.viewBox).toBe(`0 0 ${root.attrs.width} ${root.attrs.height}`);
  expect(elements.some((e) => e.name === 'title')).toBe(true);
  for (const e of elements) {
    for (const [key, value] of Object.entries(e.attrs)) {
      expect(value, `<${e.name} ${key}>`).not.toMatch(/NaN|Infinity|undefined/);
    }
  }
  expect(svg).not.toMatch(/NaN|Infinity|<script|href=|<animate|<set\b|url\(/);
  return elements;
}

const num = (s: string | undefined) => Number(s);
const bars = (elements: Element[]) => elements.filter((e) => e.name === 'rect' && e.attrs['data-value'] !== undefined);
const heights = (elements: Element[]) => bars(elements).map((b) => num(b.attrs.height));

// ------------------------------------------------------------ the checker itself

describe('the XML checker', () => {
  it('rejects what a chart must never contain', () => {
    expect(() => parseXml('<svg><g></svg></g>')).toThrow();
    expect(() => parseXml('<svg><rect x=1/></svg>')).toThrow();
    expect(() => parseXml('<svg><text>a & b</text></svg>')).toThrow();
    expect(() => parseXml('<svg><text a="<"/></svg>')).toThrow();
    expect(() => parseXml('<svg>')).toThrow();
    expect(() => parseXml('<svg/><svg/>')).toThrow();
    expect(parseXml('<svg a="1"><text>a &amp; b</text><rect/></svg>\n')).toHaveLength(3);
  });
});

// ------------------------------------------------------------ the charts

const sample = {
  grouped: () =>
    groupedBarChart({
      title: 'append throughput by value size',
      yLabel: 'append MB/s (log scale)',
      series: ['file()', 'buffer(file())', 'partd.File()', 'partd.Buffer()'],
      groups: [
        { label: '16 B', values: [12, 40, 0.8, 3.1] },
        { label: '1 KiB', values: [240, 410, 30, undefined] },
        { label: '1 MiB', values: [1800, 2100, 950, 1200] },
      ],
      log: true,
      emphasise: ['file()', 'buffer(file())'],
    }),
  list: () =>
    barListChart({
      title: 'throughput by layer',
      xLabel: 'MB/s',
      rows: [
        { label: 'dd to page cache', value: 2500, kind: 'limit' },
        { label: 'file()', value: 1800, kind: 'laminate' },
        { label: 'partd.File()', value: 950, kind: 'peer' },
        { label: 'zlib(file())', value: undefined, kind: 'laminate' },
      ],
    }),
  line: () =>
    lineChart({
      title: 'RSS over time for buffer()',
      xLabel: 'seconds',
      yLabel: 'RSS MB',
      series: [{ name: 'buffer(file())', points: [[0, 50], [1, 120], [2, 180], [3, 90]] }],
      guides: [{ label: 'memory budget + baseline', y: 200 }],
      phases: [{ label: 'append', from: 0, to: 2 }, { label: 'get', from: 2, to: 3 }],
    }),
};

describe('groupedBarChart', () => {
  it('draws bars proportional to their values on a linear axis', () => {
    const elements = check(
      groupedBarChart({ title: 't', yLabel: 'y', series: ['a', 'b'], groups: [{ label: 'g', values: [10, 40] }] }),
    );
    const [a, b] = bars(elements);
    expect(a.attrs['data-series']).toBe('a');
    expect(b.attrs['data-value']).toBe('40');
    expect(num(a.attrs.height)).toBeGreaterThan(10);
    expect(num(b.attrs.height) / num(a.attrs.height)).toBeCloseTo(4, 2);
    // Both stand on the same baseline.
    expect(num(a.attrs.y) + num(a.attrs.height)).toBeCloseTo(num(b.attrs.y) + num(b.attrs.height), 1);
  });

  it('gives each decade the same height on a log axis', () => {
    const [h1, h2, h3] = heights(
      check(groupedBarChart({ title: 't', yLabel: 'y', series: ['a', 'b', 'c'], groups: [{ label: 'g', values: [10, 100, 1000] }], log: true })),
    );
    expect(h1).toBeGreaterThan(10);
    expect(h2 - h1).toBeGreaterThan(10);
    expect(Math.abs(h3 - h2 - (h2 - h1))).toBeLessThanOrEqual(0.2);
  });

  it('keeps the slot of a missing value and leaves out what a log axis cannot show', () => {
    const elements = check(
      groupedBarChart({
        title: 't',
        yLabel: 'y',
        series: ['a', 'b', 'c', 'd', 'e'],
        groups: [{ label: 'g', values: [10, undefined, 0, -5, 100] }],
        log: true,
      }),
    );
    const drawn = bars(elements);
    expect(drawn.map((b) => b.attrs['data-series'])).toEqual(['a', 'e']);
    const slot = (num(drawn[1].attrs.x) - num(drawn[0].attrs.x)) / 4;
    expect(slot).toBeCloseTo(num(drawn[0].attrs.width) + 2, 0);
  });

  it('prints values and emphasises the named series', () => {
    const svg = sample.grouped();
    const elements = check(svg);
    expect(svg).toContain('>1.8k</text>');
    expect(svg).toContain('>0.8</text>');
    const file = bars(elements).filter((b) => b.attrs['data-series'] === 'file()');
    const peer = bars(elements).filter((b) => b.attrs['data-series'] === 'partd.File()');
    expect(file.every((b) => b.attrs.stroke !== undefined)).toBe(true);
    expect(peer.every((b) => b.attrs.stroke === undefined)).toBe(true);
    // Log ticks are powers of ten, labelled compactly.
    for (const label of ['>0.1<', '>1<', '>10<', '>100<', '>1k<', '>10k<']) expect(svg).toContain(label);
  });

  it('fits long group labels into their group', () => {
    const label = 'values of one mebibyte each, written in batches of sixty-four';
    const groups = Array.from({ length: 8 }, (_, i) => ({ label: `${label} #${i}`, values: [i + 1] }));
    const svg = groupedBarChart({ title: 't', yLabel: 'y', series: ['a'], groups });
    const elements = check(svg);
    const [first, second] = bars(elements);
    const groupW = num(second.attrs.x) - num(first.attrs.x);
    const labels = elements.filter((e) => e.name === 'text' && e.attrs['data-group'] !== undefined);
    expect(labels).toHaveLength(8);
    const texts = [...svg.matchAll(/<text data-group="[^"]*"[^>]*font-size="(\d+)"[^>]*>(.*?)<\/text>/g)];
    expect(texts).toHaveLength(8);
    for (const [, size, spans] of texts) {
      const lines = [...spans.matchAll(/<tspan[^>]*>([^<]*)<\/tspan>/g)].map((m) => m[1]);
      expect(lines.length).toBeGreaterThan(1);
      for (const line of lines) expect(line.length * Number(size) * 0.5).toBeLessThanOrEqual(groupW);
    }
  });
});

describe('barListChart', () => {
  it('draws bars proportional to their values, each after its label', () => {
    const long = 'buffer(zlib(file())) over a network socket';
    const elements = check(
      barListChart({
        title: 't',
        xLabel: 'MB/s',
        rows: [
          { label: long, value: 10, kind: 'laminate' },
          { label: 'b', value: 30, kind: 'peer' },
        ],
      }),
    );
    const [a, b] = bars(elements);
    expect(num(b.attrs.width) / num(a.attrs.width)).toBeCloseTo(3, 2);
    // The bars start right of the longest label (~6.5 px a character at 12 px).
    expect(num(a.attrs.x)).toBeGreaterThanOrEqual(long.length * 6.5);
    expect(num(a.attrs.x)).toBe(num(b.attrs.x));
  });

  it('grows with the number of rows and says which rows were not measured', () => {
    const rows = (n: number) => Array.from({ length: n }, (_, i) => ({ label: `row ${i}`, value: i + 1, kind: 'peer' as const }));
    const h = (n: number) => num(check(barListChart({ title: 't', xLabel: 'x', rows: rows(n) }))[0].attrs.height);
    expect(h(20) - h(10)).toBeCloseTo(10 * 22, 0);
    const svg = sample.list();
    check(svg);
    expect(svg).toContain('not measured');
    expect(svg).toContain('>1.8k</text>');
  });
});

describe('lineChart', () => {
  it('draws one point per input point and guides on the same scale as the points', () => {
    const elements = check(
      lineChart({
        title: 't',
        xLabel: 'x',
        yLabel: 'y',
        series: [{ name: 'rss', points: [[0, 0], [1, 30], [2, 100], [3, 80], [4, 20]] }],
        guides: [{ label: 'budget', y: 150 }],
      }),
    );
    const line = elements.find((e) => e.name === 'polyline' && e.attrs['data-series'] === 'rss')!;
    const points = line.attrs.points.split(' ').map((p) => p.split(',').map(Number));
    expect(points).toHaveLength(5);
    // Map y through the two points at y=0 and y=100, then compare with where the guide was drawn.
    const [y0, y100] = [points[0][1], points[2][1]];
    const guide = elements.find((e) => e.name === 'line' && e.attrs['data-guide'] === 'budget')!;
    expect(num(guide.attrs.y1)).toBeCloseTo(y0 + ((y100 - y0) * 150) / 100, 0);
    expect(guide.attrs.y1).toBe(guide.attrs.y2);
    // The guide is inside the drawing, not above it: the axis was stretched to include it.
    expect(num(guide.attrs.y1)).toBeGreaterThan(0);
    // x is linear too.
    expect(points[1][0] - points[0][0]).toBeCloseTo(points[4][0] - points[3][0], 0);
  });

  it('starts the y axis at zero and shades the phases', () => {
    const svg = sample.line();
    const elements = check(svg);
    expect(svg).toMatch(/>0<\/text>/);
    const phases = elements.filter((e) => e.attrs['data-phase'] !== undefined);
    expect(phases.map((p) => p.attrs['data-phase'])).toEqual(['append', 'get']);
    // Phase 0..2 is twice as wide as 2..3.
    expect(num(phases[0].attrs.width) / num(phases[1].attrs.width)).toBeCloseTo(2, 1);
    expect(svg).toContain('>memory budget + baseline</text>');
  });
});

describe('every chart', () => {
  it('says "no data" for empty or unusable input, with finite attributes', () => {
    const empties = [
      groupedBarChart({ title: 't', yLabel: 'y', series: [], groups: [] }),
      groupedBarChart({ title: 't', yLabel: 'y', series: ['a'], groups: [{ label: 'g', values: [undefined] }] }),
      groupedBarChart({ title: 't', yLabel: 'y', series: ['a', 'b'], groups: [{ label: 'g', values: [0, -3] }], log: true }),
      groupedBarChart({ title: 't', yLabel: 'y', series: ['a'], groups: [{ label: 'g', values: [NaN] }] }),
      barListChart({ title: 't', xLabel: 'x', rows: [] }),
      barListChart({ title: 't', xLabel: 'x', rows: [{ label: 'r', value: 0, kind: 'peer' }], log: true }),
      lineChart({ title: 't', xLabel: 'x', yLabel: 'y', series: [] }),
      lineChart({ title: 't', xLabel: 'x', yLabel: 'y', series: [{ name: 's', points: [] }], guides: [{ label: 'g', y: 5 }] }),
    ];
    for (const svg of empties) {
      check(svg);
      expect(svg).toContain('>no data</text>');
    }
  });

  it('stays finite for degenerate input that still has something to draw', () => {
    const odd = [
      groupedBarChart({ title: 't', yLabel: 'y', series: ['a', 'b'], groups: [{ label: '', values: [5, Infinity] }] }),
      groupedBarChart({ title: 't', yLabel: 'y', series: ['a'], groups: [{ label: 'g', values: [7] }], log: true }),
      barListChart({ title: 't', xLabel: 'x', rows: [{ label: 'r', value: 1e-9, kind: 'limit' }, { label: 's', value: -1, kind: 'peer' }] }),
      lineChart({ title: 't', xLabel: 'x', yLabel: 'y', series: [{ name: 'one', points: [[3, 0]] }] }),
      lineChart({ title: 't', xLabel: 'x', yLabel: 'y', series: [{ name: 's', points: [[0, NaN], [1, 2], [Infinity, 1]] }] }),
    ];
    for (const svg of odd) {
      check(svg);
      expect(svg).not.toContain('no data');
    }
  });

  it('escapes text', () => {
    const evil = '<b>& "x"';
    const svgs = [
      groupedBarChart({ title: evil, yLabel: evil, series: [evil], groups: [{ label: evil, values: [1] }] }),
      barListChart({ title: evil, xLabel: evil, rows: [{ label: evil, value: 1, kind: 'laminate' }] }),
      lineChart({ title: evil, xLabel: evil, yLabel: evil, series: [{ name: evil, points: [[0, 1]] }], guides: [{ label: evil, y: 1 }] }),
    ];
    for (const svg of svgs) {
      check(svg);
      expect(svg).toContain('&lt;b&gt;&amp; &quot;x&quot;');
      expect(svg).not.toContain('<b>');
    }
  });

  it('is deterministic and self-contained', () => {
    for (const make of Object.values(sample)) {
      const svg = make();
      expect(make()).toBe(svg);
      const root = check(svg)[0];
      expect(root.attrs.width).toBe('760');
      expect(root.attrs['font-family']).toContain('system-ui');
      // A white background first, so the chart reads on GitHub's dark theme too.
      expect(svg).toMatch(/<\/title>\n<rect x="0" y="0" width="760" height="[\d.]+" fill="#ffffff"\/>/);
      // Coordinates carry at most one decimal.
      expect(svg).not.toMatch(/(?:^|\s)(?:x|y|x1|y1|x2|y2|width|height)="-?\d+\.\d{2,}"/);
    }
  });
});

describe('the stamp under the title', () => {
  it('says when, in which mode and on what the numbers were measured, in every kind of chart, and in its title', () => {
    const stamp = '2026-12-01 03:30 UTC · quick mode · 2 cores, Node v20';
    const svgs = [
      groupedBarChart({ title: 't', yLabel: 'y', series: ['a'], groups: [{ label: 'g', values: [1] }], stamp }),
      barListChart({ title: 't', xLabel: 'x', rows: [{ label: 'a', value: 1, kind: 'laminate' }], stamp }),
      lineChart({ title: 't', xLabel: 'x', yLabel: 'y', series: [{ name: 'a', points: [[0, 1]] }], stamp }),
      barListChart({ title: 't', xLabel: 'x', rows: [], stamp }),
    ];
    for (const svg of svgs) {
      check(svg);
      expect(svg).toContain(`<title>t (${stamp})</title>`);
      expect(svg).toContain(`>${stamp}</text>`);
    }
  });
});
