// SVG charts for the benchmark pages (docs/benchmarks/*.svg), built as plain
// strings. The files are committed and rendered by GitHub, so they carry no
// scripts and no external references, and the same numbers always give the
// same bytes: a diff of a chart should only appear when a number moved.

const WIDTH = 760;
const FONT = 'system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif';
// Okabe–Ito, ordered so the first series get the most distinct colours on
// white; the pale yellow comes last.
const PALETTE = ['#0072B2', '#E69F00', '#009E73', '#D55E00', '#56B4E9', '#CC79A7', '#000000', '#F0E442'];
const INK = '#222222';
const MUTED = '#555555';
const GRID = '#e6e6e6';
const AXIS = '#444444';
const KINDS = {
  laminate: { name: 'laminate', colour: '#0072B2' },
  peer: { name: 'other library', colour: '#E69F00' },
  limit: { name: 'machine limit', colour: '#999999' },
} as const;

// ---------------------------------------------------------------- SVG text

type Attrs = Record<string, string | number | undefined>;

function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Coordinates with one decimal: enough for a screen, short, and stable across runs. */
function num(n: number): string {
  const r = Math.round(n * 10) / 10;
  return String(r === 0 ? 0 : r); // no "-0"
}

/** One element; numbers are coordinates (rounded), strings are escaped; `content` is already SVG. */
function el(name: string, attrs: Attrs, content?: string): string {
  let s = `<${name}`;
  for (const [key, value] of Object.entries(attrs)) {
    if (value !== undefined) s += ` ${key}="${typeof value === 'number' ? num(value) : esc(value)}"`;
  }
  return content === undefined ? `${s}/>` : `${s}>${content}</${name}>`;
}

function text(x: number, y: number, content: string, attrs: Attrs = {}): string {
  return el('text', { x, y, 'font-size': 12, fill: INK, ...attrs }, esc(content));
}

/**
 * Where a chart's legend starts: under the title, and under the stamp when
 * there is one. The stamp says when, on what and in which mode the numbers
 * were measured, so that a chart copied out of its page still says so.
 */
function legendTop(stamp: string | undefined): number {
  return stamp ? 58 : 42;
}

function svgDocument(height: number, title: string, body: string[], stamp?: string): string {
  height = Math.ceil(height); // whole pixels for the canvas, whatever the layout added up to
  const head = [
    el('title', {}, esc(stamp ? `${title} (${stamp})` : title)),
    el('rect', { x: 0, y: 0, width: WIDTH, height, fill: '#ffffff' }),
    text(12, 22, title, { 'font-size': 13, 'font-weight': 'bold' }),
    ...(stamp ? [text(12, 38, ellipsize(stamp, WIDTH - 24, 11), { 'font-size': 11, fill: MUTED })] : []),
  ];
  const attrs = {
    xmlns: 'http://www.w3.org/2000/svg',
    width: WIDTH,
    height,
    viewBox: `0 0 ${WIDTH} ${num(height)}`,
    'font-family': FONT,
  };
  return `${el('svg', attrs, `\n${[...head, ...body].join('\n')}\n`)}\n`;
}

function noData(title: string, stamp?: string): string {
  return svgDocument(200, title, [text(WIDTH / 2, 110, 'no data', { 'text-anchor': 'middle', fill: MUTED, 'font-size': 13 })], stamp);
}

// ---------------------------------------------------------------- text size

/** Width estimate of text in the sans fonts above (~6.6 px a character at 12 px); no font metrics without a browser. */
function textWidth(s: string, size: number): number {
  return Array.from(s).length * size * 0.55;
}

function ellipsize(s: string, width: number, size: number): string {
  if (textWidth(s, size) <= width) return s;
  const chars = Array.from(s);
  while (chars.length > 0 && textWidth(`${chars.join('')}…`, size) > width) chars.pop();
  return `${chars.join('')}…`;
}

function wrap(s: string, width: number, size: number): string[] {
  const lines: string[] = [];
  for (const word of s.split(/\s+/).filter(Boolean)) {
    const last = lines.length - 1;
    if (last >= 0 && textWidth(`${lines[last]} ${word}`, size) <= width) lines[last] += ` ${word}`;
    else lines.push(word);
  }
  return lines;
}

/** A category label under its group: one line if it fits, else smaller, else wrapped, else cut. */
function fitLabel(label: string, width: number): { lines: string[]; size: number } {
  const attempts: [size: number, maxLines: number][] = [[12, 1], [11, 1], [12, 2], [11, 3]];
  for (const [size, maxLines] of attempts) {
    const lines = wrap(label, width, size);
    if (lines.length <= maxLines && lines.every((l) => textWidth(l, size) <= width)) return { lines, size };
  }
  const lines = wrap(label, width, 11);
  const kept = lines.slice(0, 3);
  if (lines.length > 3) kept[2] += '…';
  return { lines: kept.map((l) => ellipsize(l, width, 11)), size: 11 };
}

// ---------------------------------------------------------------- numbers

/**
 * Short value labels: 0.42, 3.1, 24.5, 245, 1.2k, 3.4M. `digits` is the
 * precision below 10 of a unit; ticks ask for 3 so neighbours stay distinct.
 */
function compact(v: number, digits = 2): string {
  if (v === 0) return '0';
  const units = ['', 'k', 'M', 'G', 'T', 'P'];
  let a = Math.abs(v);
  let u = 0;
  while (a >= 999.5 && u < units.length - 1) {
    a /= 1000;
    u++;
  }
  const shown = a < 10 ? a.toPrecision(digits) : a < 100 ? a.toPrecision(3) : String(Math.round(a));
  return `${v < 0 ? '-' : ''}${Number(shown)}${units[u]}`;
}

/** log10 that gives exact integers for powers of ten, so 1000 sits on the 10^3 tick. */
function lg(v: number): number {
  const l = Math.log10(v);
  const r = Math.round(l);
  return Math.abs(l - r) < 1e-9 ? r : l;
}

/** 1, 2 or 5 × 10^k, the smallest at least `raw`. */
function niceStep(raw: number): number {
  const k = Math.floor(Math.log10(raw));
  const f = raw / 10 ** k;
  const m = f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10;
  return m * Number(`1e${k}`);
}

interface Scale {
  ticks: number[];
  /** Where v lies on the axis, 0 at the start, 1 at the end. */
  frac(v: number): number;
}

function linearScale(lo: number, hi: number, count: number): Scale {
  if (!(hi > lo)) hi = lo + (Math.abs(lo) || 1);
  const step = niceStep((hi - lo) / count);
  const a = Math.floor(lo / step + 1e-9) * step;
  const b = Math.ceil(hi / step - 1e-9) * step;
  const n = Math.round((b - a) / step);
  const ticks = Array.from({ length: n + 1 }, (_, i) => a + i * step);
  return { ticks, frac: (v) => (v - a) / (b - a) };
}

/** Whole decades; the bottom decade lies strictly below the smallest value so it still gets a bar. */
function logScale(min: number, max: number): Scale {
  const lo = Math.ceil(lg(min)) - 1;
  const hi = Math.max(Math.ceil(lg(max)), lo + 1);
  const ticks: number[] = [];
  for (let k = lo; k <= hi; k++) ticks.push(Number(`1e${k}`));
  return { ticks, frac: (v) => (lg(v) - lo) / (hi - lo) };
}

function scaleFor(values: number[], log: boolean, count: number): Scale {
  return log ? logScale(Math.min(...values), Math.max(...values)) : linearScale(0, Math.max(...values), count);
}

// ---------------------------------------------------------------- pieces

function darken(hex: string): string {
  const channel = (i: number) => Math.round(parseInt(hex.slice(i, i + 2), 16) * 0.55).toString(16).padStart(2, '0');
  return `#${channel(1)}${channel(3)}${channel(5)}`;
}

interface LegendItem {
  name: string;
  colour: string;
  bold?: boolean;
}

/** Swatches left to right under the title, wrapping onto more rows; returns where the legend ends. */
function legend(items: LegendItem[], top: number): { svg: string[]; bottom: number } {
  const svg: string[] = [];
  let x = 12;
  let y = top;
  for (const item of items) {
    const w = 18 + textWidth(item.name, 12) + 16;
    if (x > 12 && x + w > WIDTH - 12) {
      x = 12;
      y += 18;
    }
    const stroke = item.bold ? darken(item.colour) : undefined;
    svg.push(el('rect', { x, y: y - 10, width: 12, height: 12, fill: item.colour, stroke, 'stroke-width': stroke ? 1.5 : undefined }));
    svg.push(text(x + 18, y, item.name, { 'font-weight': item.bold ? 'bold' : undefined }));
    x += w;
  }
  return { svg, bottom: items.length > 0 ? y + 10 : top - 10 };
}

function rotatedText(x: number, y: number, content: string, attrs: Attrs): string {
  return text(x, y, content, { transform: `rotate(-90 ${num(x)} ${num(y)})`, ...attrs });
}

const usable = (v: number | undefined, log: boolean): v is number =>
  v !== undefined && Number.isFinite(v) && (log ? v > 0 : v >= 0);

// ---------------------------------------------------------------- charts

/** Grouped vertical bars: one group per category (e.g. value size), one bar per series in each group. */
export function groupedBarChart(opts: {
  title: string;
  /** Axis label, e.g. "append MB/s". */
  yLabel: string;
  /** Series names, in legend and bar order. */
  series: string[];
  /** One group per category; values[i] belongs to series[i]; undefined = not measured (draw nothing, but keep the slot). */
  groups: { label: string; values: (number | undefined)[] }[];
  /** Log10 y axis (values spanning orders of magnitude). Non-positive values are not drawn. */
  log?: boolean;
  /** Series drawn with a darker outline / emphasised in the legend (laminate's own rows). */
  emphasise?: string[];
  /** When, on what and in which mode the numbers were measured; drawn under the title. */
  stamp?: string;
}): string {
  const log = opts.log ?? false;
  const { series, groups } = opts;
  const emphasised = new Set(opts.emphasise ?? []);
  const all = groups.flatMap((g) => series.map((_, i) => g.values[i])).filter((v) => usable(v, log));
  if (series.length === 0 || !all.some((v) => v > 0)) return noData(opts.title, opts.stamp);

  const scale = scaleFor(all, log, 5);
  const colour = (i: number) => PALETTE[i % PALETTE.length];
  const key = legend(series.map((name, i) => ({ name, colour: colour(i), bold: emphasised.has(name) })), legendTop(opts.stamp));

  const tickLabels = scale.ticks.map((t) => compact(t, 3));
  const left = 22 + Math.max(...tickLabels.map((l) => textWidth(l, 11))) + 10;
  const plotW = WIDTH - left - 16;
  const groupW = plotW / groups.length;
  const slot = (groupW * 0.8) / series.length;
  const barW = slot > 4 ? slot - 2 : slot; // a 2 px gap between neighbours when there is room

  // Value labels sit above their bars; all of them turn upright when one is wider than its
  // slot (mixed directions read badly), and they are left out when bars are under 11 px.
  const labels = groups.map((g) => series.map((_, i) => (usable(g.values[i], log) ? compact(g.values[i]!) : '')));
  const upright = labels.flat().some((l) => textWidth(l, 11) > slot);
  const showLabels = !upright || barW >= 11;
  const headroom = 6 + (upright && showLabels ? Math.max(...labels.flat().map((l) => textWidth(l, 11))) : 11);

  const names = groups.map((g) => fitLabel(g.label, groupW - 6));
  const lineH = 14;
  const top = key.bottom + headroom;
  const plotH = 240;
  const bottomY = top + plotH;
  const height = bottomY + 10 + Math.max(1, ...names.map((n) => n.lines.length)) * lineH + 8;
  const y = (v: number) => bottomY - scale.frac(v) * plotH;

  const body = [...key.svg];
  scale.ticks.forEach((t, i) => {
    body.push(el('line', { x1: left, y1: y(t), x2: left + plotW, y2: y(t), stroke: GRID }));
    body.push(text(left - 6, y(t) + 4, tickLabels[i], { 'text-anchor': 'end', 'font-size': 11, fill: MUTED }));
  });
  body.push(rotatedText(16, top + plotH / 2, opts.yLabel, { 'text-anchor': 'middle' }));

  groups.forEach((g, gi) => {
    const gx = left + gi * groupW;
    series.forEach((name, si) => {
      const v = g.values[si];
      if (!usable(v, log)) return; // not measured, or cannot be shown on a log axis: an empty slot
      const x = gx + groupW * 0.1 + si * slot + (slot - barW) / 2;
      const barTop = y(v);
      const stroke = emphasised.has(name) ? darken(colour(si)) : undefined;
      body.push(
        el('rect', {
          'data-series': name,
          'data-value': String(v),
          x,
          y: barTop,
          width: barW,
          height: bottomY - barTop,
          fill: colour(si),
          stroke,
          'stroke-width': stroke ? 1.5 : undefined,
        }),
      );
      const label = labels[gi][si];
      const cx = x + barW / 2;
      if (!upright) body.push(text(cx, barTop - 4, label, { 'text-anchor': 'middle', 'font-size': 11, fill: MUTED }));
      else if (showLabels) body.push(rotatedText(cx + 4, barTop - 4, label, { 'font-size': 11, fill: MUTED }));
    });
    const { lines, size } = names[gi];
    const cx = gx + groupW / 2;
    const spans = lines.map((l, i) => el('tspan', { x: cx, dy: i === 0 ? 0 : lineH }, esc(l))).join('');
    body.push(el('text', { 'data-group': g.label, x: cx, y: bottomY + 10 + size, 'font-size': size, fill: INK, 'text-anchor': 'middle' }, spans));
  });
  body.push(el('line', { x1: left, y1: bottomY, x2: left + plotW, y2: bottomY, stroke: AXIS }));
  body.push(el('line', { x1: left, y1: top, x2: left, y2: bottomY, stroke: AXIS }));
  return svgDocument(height, opts.title, body, opts.stamp);
}

/** Horizontal bars, one per row, sorted as given; for "throughput by layer". */
export function barListChart(opts: {
  title: string;
  xLabel: string;
  rows: { label: string; value: number | undefined; kind: 'laminate' | 'peer' | 'limit' }[];
  log?: boolean;
  /** When, on what and in which mode the numbers were measured; drawn under the title. */
  stamp?: string;
}): string {
  const log = opts.log ?? false;
  const { rows } = opts;
  const all = rows.map((r) => r.value).filter((v) => usable(v, log));
  if (!all.some((v) => v > 0)) return noData(opts.title, opts.stamp);

  const scale = scaleFor(all, log, 6);
  const kinds = (['laminate', 'peer', 'limit'] as const).filter((k) => rows.some((r) => r.kind === k));
  const key = legend(kinds.map((k) => ({ name: KINDS[k].name, colour: KINDS[k].colour, bold: k === 'laminate' })), legendTop(opts.stamp));

  // The left margin fits the longest row label, up to about half the width; longer ones are cut.
  const labelW = Math.min(Math.max(...rows.map((r) => textWidth(r.label, 12))), 360);
  const left = 12 + labelW + 10;
  const valueLabels = rows.map((r) => (r.value === undefined ? 'not measured' : Number.isFinite(r.value) ? compact(r.value) : ''));
  const right = 14 + Math.max(...valueLabels.map((l) => textWidth(l, 11)));
  const plotW = WIDTH - left - right;
  const rowH = 22;
  const top = key.bottom + 12;
  const bottomY = top + rows.length * rowH;
  const height = bottomY + 6 + 14 + 22 + 8;
  const x = (v: number) => left + scale.frac(v) * plotW;

  const body = [...key.svg];
  for (const t of scale.ticks) {
    body.push(el('line', { x1: x(t), y1: top, x2: x(t), y2: bottomY, stroke: GRID }));
    body.push(text(x(t), bottomY + 18, compact(t, 3), { 'text-anchor': 'middle', 'font-size': 11, fill: MUTED }));
  }
  rows.forEach((r, i) => {
    const cy = top + i * rowH + rowH / 2;
    body.push(text(left - 8, cy + 4, ellipsize(r.label, labelW, 12), { 'text-anchor': 'end' }));
    let end = left;
    if (usable(r.value, log)) {
      const { colour } = KINDS[r.kind];
      const stroke = r.kind === 'laminate' ? darken(colour) : undefined;
      end = x(r.value);
      body.push(
        el('rect', {
          'data-row': r.label,
          'data-value': String(r.value),
          x: left,
          y: cy - 7,
          width: end - left,
          height: 14,
          fill: colour,
          stroke,
          'stroke-width': stroke ? 1.5 : undefined,
        }),
      );
    }
    const italic = r.value === undefined ? 'italic' : undefined;
    body.push(text(end + 4, cy + 4, valueLabels[i], { 'font-size': 11, fill: MUTED, 'font-style': italic }));
  });
  body.push(el('line', { x1: left, y1: top, x2: left, y2: bottomY, stroke: AXIS }));
  body.push(el('line', { x1: left, y1: bottomY, x2: left + plotW, y2: bottomY, stroke: AXIS }));
  body.push(text(left + plotW / 2, bottomY + 40, opts.xLabel, { 'text-anchor': 'middle' }));
  return svgDocument(height, opts.title, body, opts.stamp);
}

/** Lines over time; for "RSS over time for buffer()". */
export function lineChart(opts: {
  title: string;
  xLabel: string;
  yLabel: string;
  series: { name: string; points: [number, number][] }[];
  /** Horizontal reference lines, dashed, labelled at the right end (e.g. "memory budget + baseline"). */
  guides?: { label: string; y: number }[];
  /** Shaded x intervals with a label at the top (e.g. "append", "get"). */
  phases?: { label: string; from: number; to: number }[];
  /** When, on what and in which mode the numbers were measured; drawn under the title. */
  stamp?: string;
}): string {
  // Points with a non-finite coordinate are dropped rather than drawn somewhere arbitrary.
  const series = opts.series.map((s) => ({ name: s.name, points: s.points.filter(([px, py]) => Number.isFinite(px) && Number.isFinite(py)) }));
  const guides = (opts.guides ?? []).filter((g) => Number.isFinite(g.y));
  const phases = (opts.phases ?? []).filter((p) => Number.isFinite(p.from) && Number.isFinite(p.to));
  const points = series.flatMap((s) => s.points);
  if (points.length === 0) return noData(opts.title, opts.stamp);

  const xs = [...points.map((p) => p[0]), ...phases.flatMap((p) => [p.from, p.to])];
  const ys = [...points.map((p) => p[1]), ...guides.map((g) => g.y)];
  const xScale = linearScale(Math.min(...xs), Math.max(...xs), 6);
  const yScale = linearScale(Math.min(0, ...ys), Math.max(...ys), 5); // memory is read from zero
  const colour = (i: number) => PALETTE[i % PALETTE.length];
  const key = legend(series.map((s, i) => ({ name: s.name, colour: colour(i) })), legendTop(opts.stamp));

  const yTicks = yScale.ticks.map((t) => compact(t, 3));
  const left = 22 + Math.max(...yTicks.map((l) => textWidth(l, 11))) + 10;
  const plotW = WIDTH - left - 20;
  const top = key.bottom + 12;
  const plotH = 260;
  const bottomY = top + plotH;
  const height = bottomY + 6 + 14 + 22 + 8;
  const x = (v: number) => left + xScale.frac(v) * plotW;
  const y = (v: number) => bottomY - yScale.frac(v) * plotH;

  const body = [...key.svg];
  phases.forEach((p, i) => {
    const [a, b] = [x(Math.min(p.from, p.to)), x(Math.max(p.from, p.to))];
    body.push(el('rect', { 'data-phase': p.label, x: a, y: top, width: b - a, height: plotH, fill: i % 2 === 0 ? '#f2f2f2' : '#e9e9e9' }));
    if (textWidth(p.label, 11) <= b - a) body.push(text((a + b) / 2, top + 14, p.label, { 'text-anchor': 'middle', 'font-size': 11, fill: MUTED }));
  });
  yScale.ticks.forEach((t, i) => {
    body.push(el('line', { x1: left, y1: y(t), x2: left + plotW, y2: y(t), stroke: GRID }));
    body.push(text(left - 6, y(t) + 4, yTicks[i], { 'text-anchor': 'end', 'font-size': 11, fill: MUTED }));
  });
  for (const t of xScale.ticks) {
    body.push(el('line', { x1: x(t), y1: bottomY, x2: x(t), y2: bottomY + 4, stroke: AXIS }));
    body.push(text(x(t), bottomY + 18, compact(t, 3), { 'text-anchor': 'middle', 'font-size': 11, fill: MUTED }));
  }
  for (const g of guides) {
    body.push(el('line', { 'data-guide': g.label, x1: left, y1: y(g.y), x2: left + plotW, y2: y(g.y), stroke: AXIS, 'stroke-dasharray': '6 4' }));
    body.push(text(left + plotW - 4, y(g.y) - 4, g.label, { 'text-anchor': 'end', 'font-size': 11, fill: AXIS }));
  }
  series.forEach((s, i) => {
    const coords = s.points.map(([px, py]) => `${num(x(px))},${num(y(py))}`).join(' ');
    const line = { 'data-series': s.name, fill: 'none', stroke: colour(i), 'stroke-width': 2, 'stroke-linejoin': 'round' };
    body.push(el('polyline', { ...line, points: coords }));
    // A single point draws no line, so it gets a dot.
    if (s.points.length === 1) body.push(el('circle', { cx: x(s.points[0][0]), cy: y(s.points[0][1]), r: 3, fill: colour(i) }));
  });
  body.push(el('line', { x1: left, y1: top, x2: left, y2: bottomY, stroke: AXIS }));
  body.push(el('line', { x1: left, y1: bottomY, x2: left + plotW, y2: bottomY, stroke: AXIS }));
  body.push(rotatedText(16, top + plotH / 2, opts.yLabel, { 'text-anchor': 'middle' }));
  body.push(text(left + plotW / 2, bottomY + 40, opts.xLabel, { 'text-anchor': 'middle' }));
  return svgDocument(height, opts.title, body, opts.stamp);
}
