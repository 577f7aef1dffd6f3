/**
 * `laminate read` and `laminate write`, run for real through the umbrella
 * package's bin: files in, tables out, exit statuses and error messages.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { file } from '@laminate/core';
import { tempDirs } from '@laminate/core/testing';
import { tableFromIPC, tableToIPC, Table, Utf8, vectorFromArray } from 'apache-arrow';
import { afterAll, describe, expect, it } from 'vitest';

const BIN = fileURLToPath(new URL('../../laminate/bin/laminate.mjs', import.meta.url));
const scratch = tempDirs('laminate-cli-tables-', afterAll)();

function laminate(args: readonly string[]): Promise<{ code: number | null; stdout: Buffer; out: string; err: string }> {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: scratch, stdio: 'pipe' });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
  child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
  child.stdin.end();
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => {
      const stdout = Buffer.concat(out);
      resolve({ code, stdout, out: stdout.toString('utf8'), err: Buffer.concat(err).toString('utf8') });
    });
  });
}

describe('laminate read / write', () => {
  const spec = `file(${join(scratch, 'store')})`;

  it('writes a CSV file to a kv table and reads it back filtered, as CSV, JSON lines and Arrow', { timeout: 300_000 }, async () => {
    const csv = join(scratch, 'people.csv');
    writeFileSync(csv, 'name,age,city\ntom,10,TLV\nnick,15,"Ber,lin"\njuli,14,NY\n');
    const wrote = await laminate(['write', spec, 'kv', 'people', csv, '--index', 'name']);
    expect(wrote.err).toContain('wrote 3 rows');
    expect(wrote.code).toBe(0);
    const asCsv = await laminate(['read', spec, 'kv', 'people', '--filter', 'age > 11', '--columns', 'name,city']);
    expect(asCsv.code).toBe(0);
    expect(asCsv.out).toBe('name,city\nnick,"Ber,lin"\njuli,NY\n');
    const asJsonl = await laminate(['read', spec, 'kv', 'people', '--filter', 'city == "TLV"', '--format', 'jsonl']);
    expect(asJsonl.out).toBe('{"name":"tom","age":10,"city":"TLV"}\n');
    const asArrow = await laminate(['read', spec, 'kv', 'people', '--format', 'arrow']);
    const table = tableFromIPC(asArrow.stdout);
    expect(table.numRows).toBe(3);
    expect(table.getChild('age')!.toArray()).toEqual(Float64Array.from([10, 15, 14]));
    // The data is in the store, for tables() in this process too.
    const store = file(join(scratch, 'store'));
    expect((await store.keys()).length).toBeGreaterThan(0);
    await store.close();
  });

  it('writes JSON lines and Arrow files to tsdb and stream tables, creating them with --rate and --shards', { timeout: 300_000 }, async () => {
    const jsonl = join(scratch, 'cpu.jsonl');
    const t0 = Date.UTC(2026, 0, 31);
    writeFileSync(jsonl, [0, 1, 2, 3].map((i) => JSON.stringify({ time: t0 + i * 1_800_000, host: i % 2 ? 'b' : 'a', cpu: i * 10 })).join('\n') + '\n');
    const wrote = await laminate(['write', spec, 'tsdb', 'cpu', jsonl, '--rate', '1/m', '--labels', 'dc=eu']);
    expect(wrote.code, wrote.err).toBe(0);
    const agg = await laminate(['read', spec, 'tsdb', 'cpu', '--start', String(t0), '--end', String(t0 + 7_200_000), '--step', '1h', '--aggregators', 'avg,count', '--group-by', 'dc', '--format', 'jsonl']);
    expect(agg.code, agg.err).toBe(0);
    expect(agg.out).toBe(`{"time":${t0},"metric":"cpu","dc":"eu","avg":5,"count":2}\n{"time":${t0 + 3_600_000},"metric":"cpu","dc":"eu","avg":25,"count":2}\n`);
    const arrowFile = join(scratch, 'events.arrow');
    writeFileSync(arrowFile, tableToIPC(new Table({ data: vectorFromArray(['e1', 'e2'], new Utf8()) }), 'stream'));
    expect((await laminate(['write', spec, 'stream', 'events', arrowFile, '--shards', '2', '--partition-key', 'k'])).code).toBe(0);
    const seq = await laminate(['read', spec, 'stream', 'events', '--seek', 'sequence', '--sequence', '1', '--format', 'jsonl', '--columns', 'data']);
    expect(seq.code, seq.err).toBe(0);
    expect(seq.out.trim().split('\n').map((line) => JSON.parse(line).data)).toEqual(['e2']);
  });

  it('reports bad input with codes and exit statuses', { timeout: 300_000 }, async () => {
    const bad = await laminate(['read', spec, 'kv', 'people', '--filter', 'age >']);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('ERR_INVALID_OPTION');
    expect(bad.err).toContain('character 6');
    const backend = await laminate(['read', spec, 'sql', 'people']);
    expect(backend.code).toBe(2);
    expect(backend.err).toContain('the backends are kv, tsdb, stream, csv');
    const format = await laminate(['read', spec, 'kv', 'people', '--format', 'xml']);
    expect(format.code).toBe(2);
    const extension = await laminate(['write', spec, 'kv', 'people', 'people.txt']);
    expect(extension.code).toBe(2);
    const missing = await laminate(['read', spec, 'kv', 'nobody']);
    expect(missing.code).toBe(1);
    expect(missing.err).toContain('ERR_NOT_FOUND');
    const notBytes = await laminate(['read', `msgpack(${spec})`, 'kv', 'people']);
    expect(notBytes.code).toBe(2);
    expect(notBytes.err).toContain('stores bytes');
  });
});
