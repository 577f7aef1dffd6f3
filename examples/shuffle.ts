/**
 * The shuffle demo: what dask's disk shuffle asks of partd, done with laminate.
 *
 * About a million order records are generated, hash-partitioned by user into
 * 256 partitions and appended, one batch per call, to
 *
 *     msgpack(lz4(buffer(dict(), file(), { availableMemory: 64 MiB })))
 *
 * The partitions stay in memory until the buffer holds 64 MiB; then the
 * largest ones spill, lz4-compressed, to a temporary directory. Every
 * partition is then read back and checked against the record count and the
 * checksum computed while the records were generated.
 *
 *     npm run demo                                    # from the repository root
 *     npm run demo -- --records 5000000 --memory 16   # more records, a 16 MiB buffer
 *     SHUFFLE_RECORDS=200000 npm run demo
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buffer, dict, file, formatSpec, lz4, msgpack, type Store } from 'laminate';
import { BATCH, type Expected, KEYS, type Order, PARTITIONS, partitionBatch, rng, summarize } from './orders.js';


const MiB = 2 ** 20;

const { values: args } = parseArgs({
  options: {
    records: { type: 'string', default: process.env.SHUFFLE_RECORDS ?? '1000000' },
    memory: { type: 'string', default: process.env.SHUFFLE_MEMORY_MIB ?? '64' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (args.help) {
  console.log('npm run demo -- [--records N] [--memory MiB]\n');
  console.log('  --records N     records to shuffle (default 1000000, or $SHUFFLE_RECORDS)');
  console.log('  --memory MiB    the buffer before spilling to disk (default 64, or $SHUFFLE_MEMORY_MIB)');
  process.exit(0);
}
const total = wholeNumber('--records', args.records);
const memoryMiB = wholeNumber('--memory', args.memory);

// ─── The store ───────────────────────────────────────────────────────────────

const disk = file(); // a temporary directory, removed on close
const buffered = buffer(dict(), disk, { availableMemory: memoryMiB * MiB });
const store = msgpack<Order>(lz4(buffered));

console.log(`laminate shuffle: ${fmt(total)} records → ${PARTITIONS} partitions`);
console.log(`store: ${formatSpec(store.describe())}\n`);

try {
  const written = await write(store);
  const onDisk = directorySize(disk.path);
  const read = await readAndVerify(store, written.expected);
  summary(written, read, onDisk);
} catch (error) {
  const { code, message } = error as { code?: string; message?: string };
  console.error(`\nFAILED: ${code ? `${code}: ` : ''}${message ?? error}`);
  process.exitCode = 1;
} finally {
  await store.close();
}

// ─── Write: generate a batch, partition it, append it in one call ───────────

async function write(store: Store<Order[]>) {
  const expected: Expected[] = Array.from({ length: PARTITIONS }, () => ({ count: 0, checksum: 0 }));
  const random = rng(42);
  const bar = progress('write', total, 'records');
  let appendMs = 0;
  let appendsThatSpilled = 0;
  const start = performance.now();
  for (let done = 0; done < total; ) {
    const size = Math.min(BATCH, total - done);
    const batch = partitionBatch(done, size, random, expected);
    const spilledBefore = buffered.spilledBytes;
    const t = performance.now();
    await store.append(batch); // one call, up to 256 keys
    appendMs += performance.now() - t;
    if (buffered.spilledBytes > spilledBefore) appendsThatSpilled++;
    done += size;
    bar.update(done);
  }
  bar.finish();
  return {
    expected,
    totalMs: performance.now() - start,
    appendMs,
    appends: Math.ceil(total / BATCH),
    appendsThatSpilled,
    stored: buffered.spilledBytes + buffered.memoryUsage,
    spilled: buffered.spilledBytes,
  };
}

// ─── Read: every partition back, checked against what was generated ─────────

async function readAndVerify(store: Store<Order[]>, expected: Expected[]) {
  const bar = progress('read', PARTITIONS, 'partitions');
  const problems: string[] = [];
  let records = 0;
  let getMs = 0;
  const start = performance.now();
  for (let p = 0; p < PARTITIONS; p++) {
    const t = performance.now();
    const orders = await store.get(KEYS[p]);
    getMs += performance.now() - t;
    const got = summarize(orders);
    records += got.count;
    const want = expected[p];
    if (got.count !== want.count || got.checksum !== want.checksum) {
      problems.push(`${KEYS[p]}: read ${fmt(got.count)} records with checksum ${hex(got.checksum)}, expected ${fmt(want.count)} with ${hex(want.checksum)}`);
    }
    bar.update(p + 1);
  }
  bar.finish();
  const keys = (await store.keys()).length;
  const nonEmpty = expected.filter((e) => e.count > 0).length;
  if (keys !== nonEmpty) problems.push(`the store lists ${keys} keys, expected ${nonEmpty}`);
  if (problems.length > 0) {
    const shown = problems.slice(0, 10).map((problem) => `\n  ${problem}`).join('');
    const more = problems.length > 10 ? `\n  … and ${problems.length - 10} more` : '';
    throw new Error(`what was read back differs from what was written (${problems.length} problem${problems.length > 1 ? 's' : ''}):${shown}${more}`);
  }
  return { records, totalMs: performance.now() - start, getMs };
}

// ─── Summary ─────────────────────────────────────────────────────────────────

function summary(w: Awaited<ReturnType<typeof write>>, r: Awaited<ReturnType<typeof readAndVerify>>, onDisk: number): void {
  const perSecond = (n: number, ms: number) => fmt(Math.round(n / (ms / 1000)));
  const mbPerSecond = (bytes: number, ms: number) => (bytes / 1e6 / (ms / 1000)).toFixed(1);
  const spills = w.spilled === 0 ? `nothing: all ${mb(w.stored)} fit in the ${memoryMiB} MiB buffer` : `${mb(w.spilled)} to disk, during ${w.appendsThatSpilled} of ${w.appends} appends`;
  console.log(`
verified  ${fmt(r.records)} records in ${PARTITIONS} partitions: counts and checksums match
append    ${secs(w.appendMs)}  ${perSecond(total, w.appendMs)} records/s  ${mbPerSecond(w.stored, w.appendMs)} MB/s  (+${secs(w.totalMs - w.appendMs)} making the records)
get       ${secs(r.getMs)}  ${perSecond(r.records, r.getMs)} records/s  ${mbPerSecond(w.stored, r.getMs)} MB/s  (+${secs(r.totalMs - r.getMs)} checking them)
stored    ${mb(w.stored)} of lz4-compressed MessagePack, ${(w.stored / total).toFixed(0)} B/record (MB/s above count these bytes)
spilled   ${spills}
on disk   ${mb(onDisk)} in ${disk.path} (removed on close)
peak RSS  ${mb(process.resourceUsage().maxRSS * 1024)}`);
}

// ─── Helpers ─────────────────────────────────────────────────────────────────






/** Bytes in the files under `dir`. */
function directorySize(dir: string): number {
  let bytes = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) bytes += directorySize(path);
    else if (entry.isFile()) bytes += statSync(path).size;
  }
  return bytes;
}

/** A progress bar on stderr: redrawn in place on a terminal, otherwise one line per quarter. */
function progress(label: string, total: number, unit: string) {
  const tty = process.stderr.isTTY === true;
  const width = 30;
  let quartersShown = 0;
  let lastDraw = 0;
  const line = (done: number) => {
    const filled = Math.round((done / total) * width);
    const percent = String(Math.floor((done / total) * 100)).padStart(3);
    return `${label.padEnd(6)} ${'█'.repeat(filled)}${'░'.repeat(width - filled)} ${percent}%  ${fmt(done)} / ${fmt(total)} ${unit}`;
  };
  return {
    update(done: number): void {
      if (tty) {
        const now = performance.now();
        if (now - lastDraw < 50) return;
        lastDraw = now;
        process.stderr.write(`\r${line(done)}\x1b[K`);
      } else if (Math.floor((done / total) * 4) > quartersShown) {
        quartersShown = Math.floor((done / total) * 4);
        process.stderr.write(`${line(done)}\n`);
      }
    },
    finish(): void {
      if (tty) process.stderr.write(`\r${line(total)}\x1b[K\n`);
      else if (quartersShown < 4) process.stderr.write(`${line(total)}\n`);
    },
  };
}

function wholeNumber(name: string, text: string | undefined): number {
  const n = Number(String(text).replace(/_/g, ''));
  if (!Number.isInteger(n) || n < 1) {
    console.error(`${name} takes a whole number ≥ 1; got "${text}".`);
    process.exit(2);
  }
  return n;
}

function fmt(n: number): string {
  return n.toLocaleString('en-US');
}

function secs(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}

function mb(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

function hex(n: number): string {
  return `0x${n.toString(16).padStart(8, '0')}`;
}
