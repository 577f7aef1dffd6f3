// The report's charts, drawn from a run's results: throughput by value size
// (append and get), throughput by layer, and buffer()'s RSS over time.
import { barListChart, groupedBarChart, lineChart } from './charts.js';
import type { Measurement } from './measure.js';
import type { Results } from './report.js';

export interface Chart {
  /** File name under docs/benchmarks/. */
  name: string;
  title: string;
  svg: string;
}

const SIZE_LABEL: Record<string, string> = { a: '100 B values', b: '10 KB values', c: '1 MB values' };
const MiB = 2 ** 20;

function mbPerSecond(m: Measurement | undefined, phase: 'appendSeconds' | 'getSeconds'): number | undefined {
  return m?.verified && m[phase] > 0 ? m.bytes / 1e6 / m[phase] : undefined;
}

/** The rows of the value-size charts: laminate's two main stacks, then every peer that ran (a)–(c). */
function sizeSeries(r: Results): { name: string; runs: Measurement[]; laminate: boolean }[] {
  const out: { name: string; runs: Measurement[]; laminate: boolean }[] = [];
  for (const stack of ['file', 'buffer']) {
    const runs = r.laminate.get(stack);
    if (runs?.length) out.push({ name: runs[0].store, runs, laminate: true });
  }
  for (const runs of r.nodePeers.values()) if (runs.length) out.push({ name: runs[0].store, runs, laminate: false });
  // partd.ZLib compresses: it belongs beside zlib(file()) in the tables, not here.
  for (const [stack, runs] of r.peers) if (stack !== 'ZLib' && Array.isArray(runs) && runs.length) out.push({ name: runs[0].store, runs, laminate: false });
  return out;
}

function bySize(r: Results, phase: 'appendSeconds' | 'getSeconds'): string {
  const series = sizeSeries(r);
  const dd = phase === 'appendSeconds' ? r.dd.cache : r.dd.read;
  const ddRate = dd && !dd.error && dd.seconds > 0 ? dd.bytes / 1e6 / dd.seconds : undefined;
  const what = phase === 'appendSeconds' ? 'append' : 'get';
  return groupedBarChart({
    title: `${what} throughput by value size (MB/s, higher is better)`,
    yLabel: `${what} MB/s (log scale)`,
    series: [...series.map((s) => s.name), ...(ddRate ? [phase === 'appendSeconds' ? 'dd write (page cache)' : 'dd read (page cache)'] : [])],
    groups: r.workloads.map((w) => ({
      label: SIZE_LABEL[w.id] ?? w.id,
      // dd moves 1 MiB blocks: it stands beside the 1 MB values only.
      values: [...series.map((s) => mbPerSecond(s.runs.find((m) => m.workload === w.id), phase)), ...(ddRate ? [w.id === 'c' ? ddRate : undefined] : [])],
    })),
    log: true,
    emphasise: series.filter((s) => s.laminate).map((s) => s.name),
  });
}

/** (b)'s append throughput through every laminate layer and peer: what each layer costs. */
function byLayer(r: Results): string {
  const rows: { label: string; value: number | undefined; kind: 'laminate' | 'peer' | 'limit' }[] = [];
  const b = (runs: Measurement[] | undefined) => runs?.find((m) => m.workload === 'b');
  for (const runs of r.laminate.values()) rows.push({ label: b(runs)?.store ?? '?', value: mbPerSecond(b(runs), 'appendSeconds'), kind: 'laminate' });
  for (const runs of r.nodePeers.values()) rows.push({ label: b(runs)?.store ?? '?', value: mbPerSecond(b(runs), 'appendSeconds'), kind: 'peer' });
  for (const runs of r.peers.values()) if (Array.isArray(runs)) rows.push({ label: b(runs)?.store ?? '?', value: mbPerSecond(b(runs), 'appendSeconds'), kind: 'peer' });
  if (!r.dd.cache.error) rows.push({ label: r.dd.cache.label, value: r.dd.cache.bytes / 1e6 / r.dd.cache.seconds, kind: 'limit' });
  return barListChart({ title: 'append throughput by layer, 10 KB values (MB/s, higher is better)', xLabel: 'append MB/s (log scale)', rows: rows.filter((x) => x.label !== '?'), log: true });
}

function rssOverTime(r: Results): string | undefined {
  const m = r.memory;
  if (!m || 'error' in m) return undefined;
  const all = [...m.samples.append, ...m.samples.get];
  const mib = (n: number) => n / MiB;
  const lastAppend = m.samples.append.at(-1)?.[0] ?? 0;
  return lineChart({
    title: `buffer(dict(), file(), ${mib(m.budget)} MiB): resident memory over time`,
    xLabel: 'seconds',
    yLabel: 'MiB',
    series: [
      { name: 'RSS of the process', points: all.map(([t, rss]) => [t, mib(rss)]) },
      { name: 'bytes buffer() holds in memory', points: all.map(([t, , held]) => [t, mib(held)]) },
    ],
    guides: [
      { label: 'baseline', y: mib(m.baseline) },
      { label: 'baseline + budget', y: mib(m.baseline + m.budget) },
      { label: 'baseline + budget + allowance', y: mib(m.baseline + m.budget + m.allowance) },
    ],
    phases: [
      { label: 'append', from: 0, to: lastAppend },
      { label: 'get', from: lastAppend, to: all.at(-1)?.[0] ?? lastAppend },
    ],
  });
}

export function charts(r: Results): Chart[] {
  const out: Chart[] = [];
  if (r.workloads.length > 0) {
    out.push({ name: 'append-by-value-size.svg', title: 'Append throughput by value size', svg: bySize(r, 'appendSeconds') });
    out.push({ name: 'get-by-value-size.svg', title: 'Get throughput by value size', svg: bySize(r, 'getSeconds') });
  }
  if (r.workloads.some((w) => w.id === 'b')) out.push({ name: 'append-by-layer.svg', title: 'Append throughput by layer (10 KB values)', svg: byLayer(r) });
  const rss = rssOverTime(r);
  if (rss) out.push({ name: 'buffer-rss.svg', title: 'RSS over time for buffer()', svg: rss });
  return out;
}
