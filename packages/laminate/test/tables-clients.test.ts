/**
 * tables() beyond one process: on a store served by serve() and reached with
 * client(), and read from Python (the standard library's csv module over
 * `laminate read --format csv`, and over a csv table's own file: pyarrow and
 * pandas are not installed here).
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { client, file, serve, tables } from 'laminate';
import { tempDirs } from 'laminate/testing';

const BIN = fileURLToPath(new URL('../bin/laminate.mjs', import.meta.url));
const tmp = tempDirs('laminate-tables-clients-', afterAll);

function run(command: string, args: string[], input?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(command, args, { stdio: 'pipe' });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  child.stdin.end(input ?? '');
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('tables() on a served store', () => {
  it('two clients of one server write and read one kv table: last write wins, filters run', async () => {
    const server = await serve(file(tmp()));
    try {
      const first = client(server.address);
      const second = client(server.address);
      const a = tables(first);
      const b = tables(second);
      await a.write('kv', 'users', [
        { id: 'u1', plan: 'free', seats: 1 },
        { id: 'u2', plan: 'pro', seats: 5 },
      ], { index: 'id' });
      await b.write('kv', 'users', [{ id: 'u1', plan: 'pro', seats: 2 }]);
      await b.execute('kv', 'users', 'update', { key: 'u2', expression: 'seats = seats + 1' });
      const read = await a.read('kv', 'users', { filter: 'plan == "pro"', columns: ['id', 'seats'] });
      expect(read.toArray().map((row) => row.toJSON())).toEqual([
        { id: 'u1', seats: 2 },
        { id: 'u2', seats: 6 },
      ]);
      await first.close();
      await second.close();
    } finally {
      await server.close();
    }
  });
});

describe('a table read from Python', () => {
  it('reads a kv table through `laminate read --format csv`, and a csv table from its file', async () => {
    const dir = tmp();
    const store = file(dir);
    const t = tables(store);
    const rows = [
      { city: 'Oslo', temp: -3.5, note: 'cold, "very"' },
      { city: 'São Paulo', temp: 28, note: 'two\nlines' },
    ];
    await t.write('kv', 'weather', rows, { index: 'city' });
    await t.write('csv', 'weather', rows);
    await store.close();
    const script = [
      'import csv, io, json, subprocess, sys',
      'node, bin, spec, path = sys.argv[1:5]',
      "out = subprocess.run([node, bin, 'read', spec, 'kv', 'weather', '--format', 'csv'], check=True, capture_output=True).stdout.decode('utf-8')",
      "kv = [dict(r, temp=float(r['temp'])) for r in csv.DictReader(io.StringIO(out, newline=''))]",
      "with open(path, newline='', encoding='utf-8') as f: own = [dict(r, temp=float(r['temp'])) for r in csv.DictReader(f)]",
      "print(json.dumps({'kv': kv, 'csv': own}))",
    ].join('\n');
    const result = await run('/usr/bin/python3', ['-c', script, process.execPath, BIN, `file(${dir})`, join(dir, 'csv%d', 'weather')]);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ kv: rows, csv: rows });
  }, 300_000);
});
