// The compression table: ratio and MB/s (compress, decompress) of every
// laminate compressor on the same realistic data — a float64 random walk,
// sorted-ish int32 ids, English-like text — next to the functions Python
// partd's ZLib, BZ2, Snappy and Blosc layers call, on the same bytes.
//
// run.ts calls compressionBench(); on its own:  tsx --conditions=source benchmarks/compression.ts [--quick] [--no-python]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BaseStore, type Codec, EncodeStore, brotli, dict, gzip, lz4, zlib, zstd } from '@laminate/core';
import { blosc, bz2, snappy } from '@laminate/codecs';
import { seededRandom } from '@laminate/core/layer';
import { now } from './measure.js';
import { PYTHON } from './python.js';

const SCRIPT = fileURLToPath(new URL('./partd_compression.py', import.meta.url));
const CHUNK = 1 << 20;

export interface CompressionRun {
  codec: string;
  data: string;
  bytes: number;
  compressed: number;
  compressSeconds: number;
  decompressSeconds: number;
  verified: boolean;
}

export interface CompressionResults {
  /** Bytes of each data set; values are 1 MiB chunks of it. */
  bytes: number;
  runs: CompressionRun[];
  partd?: string;
}

const DATA = ['float64', 'int32', 'text'] as const;


export function makeData(name: (typeof DATA)[number], bytes: number): Buffer {
  const rnd = seededRandom(name.length * 7919);
  if (name === 'float64') {
    // A price-like random walk: steps of a few cents, recorded as float64.
    const out = new Float64Array(bytes / 8);
    let x = 100;
    for (let i = 0; i < out.length; i++) out[i] = x = Math.round((x + (rnd() - 0.5) * 0.2) * 100) / 100;
    return Buffer.from(out.buffer);
  }
  if (name === 'int32') {
    // Ids that mostly grow, with small steps back (events arriving out of order).
    const out = new Int32Array(bytes / 4);
    let id = 1_000_000;
    for (let i = 0; i < out.length; i++) out[i] = id += rnd() < 0.9 ? Math.floor(rnd() * 8) : -Math.floor(rnd() * 100);
    return Buffer.from(out.buffer);
  }
  const words = 'the of and a to in is was that for on are with as his they be at one have this from or had by word but what some we can out other were all there when up use your how said an each she which do their time if will way about many then them would write like so these her long make thing see him two has look more day could go come did number sound no most people my over know water than call first who may down side been now find'.split(' ');
  let s = '';
  while (s.length < bytes) s += words[Math.floor(rnd() ** 2 * words.length)] + (rnd() < 0.07 ? '.\n' : rnd() < 0.1 ? ', ' : ' ');
  return Buffer.from(s.slice(0, bytes));
}

type Layer = (inner: BaseStore<Uint8Array>) => EncodeStore<Uint8Array>;

export const CODECS: Record<string, Layer> = {
  zlib: (i) => zlib(i),
  gzip: (i) => gzip(i),
  brotli: (i) => brotli(i),
  lz4: (i) => lz4(i),
  zstd: (i) => zstd(i),
  snappy: (i) => snappy(i),
  bz2: (i) => bz2(i),
  blosc: (i) => blosc(i),
  'blosc(cname=zstd)': (i) => blosc(i, { cname: 'zstd' }),
};

function measure(label: string, codec: Codec<Uint8Array>, name: string, data: Buffer, repeat: number): CompressionRun {
  const chunks: Buffer[] = [];
  for (let i = 0; i < data.length; i += CHUNK) chunks.push(data.subarray(i, i + CHUNK));
  let compressSeconds = Infinity;
  let decompressSeconds = Infinity;
  let packed: Uint8Array[] = [];
  let verified = true;
  for (let r = 0; r < repeat; r++) {
    let t = now();
    packed = chunks.map((c) => codec.encode(c));
    compressSeconds = Math.min(compressSeconds, now() - t);
    t = now();
    const back = packed.map((p) => codec.decode(p));
    decompressSeconds = Math.min(decompressSeconds, now() - t);
    verified &&= back.every((b, i) => Buffer.compare(b, chunks[i]) === 0);
  }
  return { codec: label, data: name, bytes: data.length, compressed: packed.reduce((n, p) => n + p.byteLength, 0), compressSeconds, decompressSeconds, verified };
}

export async function compressionBench(root: string, opts: { quick: boolean; repeat: number; python: boolean }): Promise<CompressionResults> {
  const bytes = (opts.quick ? 2 : 16) * CHUNK;
  // Cheap enough to take the best of 3 even in a quick run: one run mostly measures the JIT warming up.
  const repeat = Math.max(3, opts.repeat);
  const dir = mkdtempSync(join(root, 'compression-'));
  const runs: CompressionRun[] = [];
  let partd: string | undefined;
  try {
    writeFileSync(join(dir, 'chunk-bytes'), String(CHUNK));
    const data = Object.fromEntries(DATA.map((name) => [name, makeData(name, bytes)]));
    for (const [name, bytesOf] of Object.entries(data)) writeFileSync(join(dir, `${name}.bin`), bytesOf);
    for (const [label, layer] of Object.entries(CODECS)) {
      const store = layer(dict());
      for (const name of DATA) runs.push(measure(label, store.codec, name, data[name], repeat));
      console.error(`  ${label.padEnd(18)} ${DATA.map((n) => describe(runs.find((r) => r.codec === label && r.data === n)!)).join(' | ')}`);
    }
    if (opts.python) {
      const run = spawnSync(PYTHON, [SCRIPT, dir, String(repeat), ...DATA], { encoding: 'utf8', maxBuffer: 16 << 20 });
      let parsed: unknown;
      try {
        parsed = JSON.parse(run.stdout.trim().split('\n').pop() ?? '');
      } catch {
        parsed = { error: `${PYTHON} ${SCRIPT} exited ${run.status}: ${run.stderr.trim().split('\n').slice(-2).join(' ')}` };
      }
      if (Array.isArray(parsed)) {
        for (const r of parsed as CompressionRun[]) runs.push(r);
        for (const label of new Set((parsed as CompressionRun[]).map((r) => r.codec))) {
          console.error(`  ${label.padEnd(18)} ${DATA.map((n) => describe(runs.find((r) => r.codec === label && r.data === n)!)).join(' | ')}`);
        }
      } else partd = (parsed as { error: string }).error;
    } else partd = 'skipped (--no-python)';
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return { bytes, runs, partd };
}

const mbs = (bytes: number, seconds: number) => (bytes / 1e6 / seconds).toFixed(0);
const ratio = (r: CompressionRun) => (r.bytes / r.compressed).toFixed(2);

function describe(r: CompressionRun): string {
  if (!r.verified) return `${r.data}: FAILED its read check`;
  return `${r.data} ×${ratio(r)} ${mbs(r.bytes, r.compressSeconds)}/${mbs(r.bytes, r.decompressSeconds)} MB/s`;
}

/** Numeric data: float64 and int32 together. */
function numeric(runs: CompressionRun[], codec: string) {
  const rs = runs.filter((r) => r.codec === codec && r.data !== 'text' && r.verified);
  if (rs.length !== 2) return undefined;
  const sum = (f: (r: CompressionRun) => number) => rs.reduce((n, r) => n + f(r), 0);
  const raw = sum((r) => r.bytes) / 1e6;
  return { ratio: sum((r) => r.bytes) / sum((r) => r.compressed), compress: raw / sum((r) => r.compressSeconds), decompress: raw / sum((r) => r.decompressSeconds), roundTrip: raw / sum((r) => r.compressSeconds + r.decompressSeconds) };
}

export function compressionVerdicts(c: CompressionResults): { target: string; measured: string; status: string }[] {
  const base = numeric(c.runs, 'partd.ZLib');
  const zl = numeric(c.runs, 'zlib');
  return ['lz4', 'zstd'].map((codec) => {
    const n = numeric(c.runs, codec);
    const target = `${codec} ≥ 3× partd ZLib throughput (compress + decompress of the same bytes) on numeric data, at a ratio no worse than zlib's`;
    if (!n || !base || !zl) return { target, measured: 'not measured', status: '—' };
    const speedup = n.roundTrip / base.roundTrip;
    const measured = `round trip ${speedup.toFixed(1)}× (compress ${(n.compress / base.compress).toFixed(1)}×, decompress ${(n.decompress / base.decompress).toFixed(1)}×); ratio ×${n.ratio.toFixed(2)} vs zlib() ×${zl.ratio.toFixed(2)}, partd ZLib ×${base.ratio.toFixed(2)}`;
    const status = speedup < 3 ? 'NOT met (speed)' : n.ratio < zl.ratio * 0.99 ? 'NOT met (ratio)' : n.ratio < base.ratio * 0.99 ? "met against zlib(), not against Python's zlib ratio" : 'met';
    return { target, measured, status };
  });
}

export function compressionMarkdown(c: CompressionResults): string {
  const codecs = [...new Set(c.runs.map((r) => r.codec))];
  const head = ['compressor', ...DATA.flatMap((d) => [`${d} ratio`, `${d} MB/s c / d`])];
  const rows = codecs.map((codec) => [
    codec.startsWith('partd.') ? `${codec} (Python)` : `${codec}()`,
    ...DATA.flatMap((d) => {
      const r = c.runs.find((x) => x.codec === codec && x.data === d);
      if (!r) return ['—', '—'];
      if (!r.verified) return ['FAILED', 'FAILED'];
      return [`×${ratio(r)}`, `${mbs(r.bytes, r.compressSeconds)} / ${mbs(r.bytes, r.decompressSeconds)}`];
    }),
  ]);
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  const table = [line(head), line(head.map((_, i) => (i === 0 ? '---' : '---:'))), ...rows.map(line)].join('\n');
  const verdicts = compressionVerdicts(c);
  return [
    '## Compression',
    '',
    `Each data set is ${(c.bytes / 2 ** 20).toFixed(0)} MiB, compressed and decompressed in 1 MiB values through each layer's codec (the work one append or one get of a value does, without the store around it); best of the runs. float64: a price-like random walk in cent steps; int32: ids that mostly grow; text: English-like words. Ratio = raw / compressed; MB/s of raw bytes (MB = 10^6). The Python rows time the functions partd.ZLib, partd.BZ2, partd.Snappy and partd.Blosc call (their own encode/decode), on the same bytes.${c.partd ? ` Python partd: ${c.partd}.` : ''}`,
    '',
    table,
    '',
    ...verdicts.map((v) => `- ${v.target}: ${v.measured} — **${v.status}**`),
    '',
    'blosc() defaults to lz4 inside a Blosc buffer with the byte shuffle for 8-byte types; partd.Blosc uses python-blosc\'s defaults (BloscLZ, level 9, byte shuffle, typesize 8). Either reads the other\'s buffers.',
  ].join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const quick = process.argv.includes('--quick');
  const root = mkdtempSync(join(tmpdir(), 'laminate-compression-'));
  try {
    const results = await compressionBench(root, { quick, repeat: quick ? 1 : 3, python: !process.argv.includes('--no-python') });
    console.log(`\n${compressionMarkdown(results)}\n`);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
