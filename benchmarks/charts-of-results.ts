// The report's charts, drawn from a run's results: throughput for each value
// size (append and get), throughput by layer, and buffer()'s RSS over time.
// Every axis is linear from zero, so a bar's length is its rate, and every
// chart carries the run's date, mode and machine.
import { barListChart, lineChart } from './charts.js';
import type { Measurement } from './measure.js';
import type { Results } from './report.js';

export interface Chart {
  /** File name under docs/benchmarks/. */
  name: string;
  title: string;
  svg: string;
}

const SIZE_LABEL: Record<string, string> = { a: '100 B values', b: '10 KB values', c: '1 MB values' };
const SIZE_FILE: Record<string, string> = { a: '100-B-values', b: '10-KB-values', c: '1-MB-values' };
const MiB = 2 ** 20;

function mbPerSecond(m: Measurement | undefined, phase: 'appendSeconds' | 'getSeconds'): number | undefined {
  return m?.verified && m[phase] > 0 ? m.bytes / 1e6 / m[phase] : undefined;
}

type Row = { label: string; value: number | undefined; kind: 'laminate' | 'peer' | 'limit' };

/** What every chart says under its title: when, on what, in which mode, so that a chart copied out of the page still says it. */
function stamp(r: Results): string {
  const mode = r.quick ? 'quick mode (a quarter of the data, one run)' : `full size, best of ${r.repeat}`;
  const m = r.machine;
  return `${r.date} · ${mode} · ${m.cores} cores, ${m.cpu}, ${m.os}, Node ${m.node}`;
}

/** laminate's stacks shown in the value-size charts, when they ran: the plain file and buffer stacks and their variants. */
const SIZE_STACKS = ['file', 'file-exclusive', 'file-view', 'buffer', 'buffer-view', 'buffer-transfer'];

/**
 * One value size, one phase: every store that ran it, in MB/s on a linear
 * axis from zero (bar length is the rate, so 1.4 k is drawn at a fifth of
 * 6.9 k), and the machine limit for that workload: dd in blocks of the
 * same value size over the same volume, into or out of the page cache.
 */
function bySize(r: Results, id: string, phase: 'appendSeconds' | 'getSeconds'): string {
  const rows: Row[] = [];
  const run = (runs: Measurement[] | undefined) => runs?.find((m) => m.workload === id);
  for (const stack of SIZE_STACKS) {
    const m = run(r.laminate.get(stack));
    if (m) rows.push({ label: m.store, value: mbPerSecond(m, phase), kind: 'laminate' });
  }
  for (const runs of r.nodePeers.values()) {
    const m = run(runs);
    if (m) rows.push({ label: m.store, value: mbPerSecond(m, phase), kind: 'peer' });
  }
  // partd.ZLib compresses: it belongs beside zlib(file()) in the tables, not here.
  for (const [stack, runs] of r.peers) {
    const m = stack !== 'ZLib' && Array.isArray(runs) ? run(runs) : undefined;
    if (m) rows.push({ label: m.store, value: mbPerSecond(m, phase), kind: 'peer' });
  }
  const limit = r.dd.bySize?.[id]?.[phase === 'appendSeconds' ? 'write' : 'read'];
  if (limit && !limit.error && limit.seconds > 0) rows.push({ label: limit.label, value: limit.bytes / 1e6 / limit.seconds, kind: 'limit' });
  const what = phase === 'appendSeconds' ? 'append' : 'get';
  return barListChart({ title: `${what} throughput, ${SIZE_LABEL[id] ?? id} (MB/s, higher is better)`, xLabel: `${what} MB/s (linear axis from 0)`, rows, stamp: stamp(r) });
}

/** (b)'s append throughput through every laminate layer and peer: what each layer costs; the limit is dd in 10 KB blocks. */
function byLayer(r: Results): string {
  const rows: Row[] = [];
  const b = (runs: Measurement[] | undefined) => runs?.find((m) => m.workload === 'b');
  for (const runs of r.laminate.values()) rows.push({ label: b(runs)?.store ?? '?', value: mbPerSecond(b(runs), 'appendSeconds'), kind: 'laminate' });
  for (const runs of r.nodePeers.values()) rows.push({ label: b(runs)?.store ?? '?', value: mbPerSecond(b(runs), 'appendSeconds'), kind: 'peer' });
  for (const runs of r.peers.values()) if (Array.isArray(runs)) rows.push({ label: b(runs)?.store ?? '?', value: mbPerSecond(b(runs), 'appendSeconds'), kind: 'peer' });
  // Only a dd of this workload's block size: a 1 MiB-block dd makes a hundred times fewer writes than 10 KB values need.
  const limit = r.dd.bySize?.b?.write;
  if (limit && !limit.error && limit.seconds > 0) rows.push({ label: limit.label, value: limit.bytes / 1e6 / limit.seconds, kind: 'limit' });
  return barListChart({ title: 'append throughput by layer, 10 KB values (MB/s, higher is better)', xLabel: 'append MB/s (linear axis from 0)', rows: rows.filter((x) => x.label !== '?'), stamp: stamp(r) });
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
    stamp: stamp(r),
  });
}

export function charts(r: Results): Chart[] {
  const out: Chart[] = [];
  // One chart per value size and phase: rates a thousand times apart share no linear axis.
  for (const w of r.workloads) {
    const size = SIZE_FILE[w.id] ?? w.id;
    out.push({ name: `append-${size}.svg`, title: `Append throughput, ${SIZE_LABEL[w.id] ?? w.id}`, svg: bySize(r, w.id, 'appendSeconds') });
    out.push({ name: `get-${size}.svg`, title: `Get throughput, ${SIZE_LABEL[w.id] ?? w.id}`, svg: bySize(r, w.id, 'getSeconds') });
  }
  if (r.workloads.some((w) => w.id === 'b')) out.push({ name: 'append-by-layer.svg', title: 'Append throughput by layer (10 KB values)', svg: byLayer(r) });
  const rss = rssOverTime(r);
  if (rss) out.push({ name: 'buffer-rss.svg', title: 'RSS over time for buffer()', svg: rss });
  return out;
}
