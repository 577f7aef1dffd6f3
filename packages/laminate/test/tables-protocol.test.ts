/**
 * Tables served over laminate's protocol (serve(store, { ops: tableOps() })):
 * a Node client through client().request(), and a Python client that speaks
 * the protocol with socket + msgpack and reads the tables as CSV and as an
 * Arrow IPC stream decoded with numpy (pyarrow is not installed here).
 */
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { LaminateError } from '@laminate/core';
import { client, decodeFrame, encodeFrame, serve } from '@laminate/net';
import { arrowBytes, arrowTable, csvTable, jsonlTable, tableOps, tables } from '@laminate/tables';
import { file } from 'laminate';
import { tempDirs } from 'laminate/testing';

const tmp = tempDirs('laminate-tables-protocol-', afterAll);
const CLIENT = fileURLToPath(new URL('./fixtures/tables_client.py', import.meta.url));
const BIN = fileURLToPath(new URL('../bin/laminate.mjs', import.meta.url));

const weather = [
  { city: 'Oslo', temp: -3.5, rain: 2 },
  { city: 'São Paulo', temp: 28.25, rain: 0 },
  { city: 'Lima', temp: 19, rain: 1 },
];

function rowsOf(table: { toArray(): { toJSON(): object }[] }): object[] {
  return table.toArray().map((row) => ({ ...row.toJSON() }));
}

/** Rows by city: a kv table's row order is not what these tests are about. */
function byCity(rows: object[]): object[] {
  return [...rows].sort((a, b) => String((a as { city: string }).city).localeCompare(String((b as { city: string }).city)));
}

async function rejection(promise: Promise<unknown>): Promise<LaminateError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(LaminateError);
  return error as LaminateError;
}

/** A connection that speaks the protocol frame by frame, as a client in another language would. */
function rawConnection(address: string) {
  const socket = connect(Number(new URL(address).port), '127.0.0.1');
  const headers: Record<string, unknown>[] = [];
  const waiting: (() => void)[] = [];
  let pending = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    pending = Buffer.concat([pending, chunk]);
    while (pending.length >= 4 && pending.length >= pending.readUInt32LE(0) + 4) {
      const length = pending.readUInt32LE(0);
      headers.push(decodeFrame(pending.subarray(4, 4 + length)).header);
      pending = pending.subarray(4 + length);
      for (const wake of waiting.splice(0)) wake();
    }
  });
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  return {
    socket,
    headers,
    closed,
    send(header: { id: number; [field: string]: unknown }, payloads: Uint8Array[] = []): void {
      for (const buffer of encodeFrame(header, payloads)) socket.write(buffer);
    },
    async replies(n: number): Promise<void> {
      while (headers.length < n) await new Promise<void>((resolve) => waiting.push(resolve));
    },
  };
}

describe('tables ops from a Node client', () => {
  it('writes an Arrow IPC body, reads it back as Arrow, CSV and JSON lines, deletes and runs commands', async () => {
    const store = file(tmp());
    const server = await serve(store, { ops: tableOps() });
    const remote = client(server.address);
    try {
      const body = arrowBytes(jsonlTable(weather.map((row) => JSON.stringify(row)).join('\n'), 'weather'));
      const written = await remote.request('tables.write', { backend: 'kv', table: 'weather', options: { index: 'city' } }, [body]);
      expect(written.header).toEqual({ rows: 3 });

      const arrow = await remote.request('tables.read', { backend: 'kv', table: 'weather', options: { columns: ['city', 'temp'], filter: 'rain > 0' } });
      expect(arrow.header).toEqual({ rows: 2, format: 'arrow' });
      expect(byCity(rowsOf(arrowTable(arrow.payloads[0], 'reply')))).toEqual([
        { city: 'Lima', temp: 19 },
        { city: 'Oslo', temp: -3.5 },
      ]);
      const csv = await remote.request('tables.read', { backend: 'kv', table: 'weather', format: 'csv' });
      expect(rowsOf(csvTable(csv.payloads[0], 'reply'))).toEqual(rowsOf(await tables(store).read('kv', 'weather')));

      const updated = await remote.request('tables.execute', { backend: 'kv', table: 'weather', command: 'update', options: { key: 'Lima', expression: 'rain = rain + 10' } });
      expect(updated.header).toEqual({ result: { updated: true } });
      await remote.request('tables.delete', { backend: 'kv', table: 'weather', options: { filter: 'temp > 20' } });
      // What went over the wire is what the store holds, read in-process.
      expect(byCity(rowsOf(await tables(store).read('kv', 'weather', { columns: ['city', 'rain'] })))).toEqual([
        { city: 'Lima', rain: 11 },
        { city: 'Oslo', rain: 2 },
      ]);

      await remote.request('tables.create', { backend: 'stream', table: 'events', options: { shards: 1 } });
      await remote.request('tables.write', { backend: 'stream', table: 'events', format: 'jsonl' }, [Buffer.from('{"data":"start"}\n{"data":"stop"}\n')]);
      const events = await remote.request('tables.read', { backend: 'stream', table: 'events', format: 'jsonl' });
      const records = Buffer.from(events.payloads[0]).toString('utf8').trim().split('\n').map((line) => JSON.parse(line));
      expect(records.map((record) => [record.sequence, record.data])).toEqual([
        [0, 'start'],
        [1, 'stop'],
      ]);
      expect(server.stats().bytesInFlight).toBe(0);
    } finally {
      await remote.close();
      await server.close();
      await store.close();
    }
  }, 120_000);

  it('answers bad requests with coded errors and keeps the connection; a reply past maxMessageBytes is ERR_TOO_LARGE', async () => {
    const store = file(tmp());
    const server = await serve(store, { ops: tableOps(), maxMessageBytes: 4096 });
    const remote = client(server.address, { maxMessageBytes: 4096 });
    try {
      expect((await rejection(remote.request('tables.read', { backend: 'sql', table: 't' }))).code).toBe('ERR_INVALID_OPTION');
      expect((await rejection(remote.request('tables.read', { backend: 'kv', table: '' }))).code).toBe('ERR_INVALID_KEY');
      expect((await rejection(remote.request('tables.read', { backend: 'kv', table: 'none' }))).code).toBe('ERR_NOT_FOUND');
      expect((await rejection(remote.request('tables.read', { backend: 'kv', table: 't', format: 'parquet' }))).code).toBe('ERR_INVALID_OPTION');
      expect((await rejection(remote.request('tables.read', { backend: 'kv', table: 't', options: [1] }))).code).toBe('ERR_INVALID_OPTION');
      expect((await rejection(remote.request('tables.write', { backend: 'kv', table: 't' }, []))).code).toBe('ERR_INVALID_OPTION');
      expect((await rejection(remote.request('tables.write', { backend: 'kv', table: 't' }, [Buffer.from('not arrow')]))).code).toBe('ERR_CORRUPT_FRAME');
      expect((await rejection(remote.request('tables.execute', { backend: 'kv', table: 't' }))).code).toBe('ERR_INVALID_OPTION');

      // 200 rows of 40 characters is about 8 KiB of CSV: more than one 4 KiB message holds.
      const rows = Array.from({ length: 200 }, (_, i) => ({ id: i, text: 'x'.repeat(40) }));
      await tables(store).write('kv', 'big', rows, { index: 'id' });
      expect((await rejection(remote.request('tables.read', { backend: 'kv', table: 'big', format: 'csv' }))).code).toBe('ERR_TOO_LARGE');
      // The same connection still answers, and the refused reply left nothing counted.
      const few = await remote.request('tables.read', { backend: 'kv', table: 'big', format: 'csv', options: { filter: 'id < 3', columns: ['id'] } });
      expect(Buffer.from(few.payloads[0]).toString('utf8')).toBe('id\n0\n1\n2\n');
      expect(server.stats().bytesInFlight).toBe(0);
    } finally {
      await remote.close();
      await server.close();
      await store.close();
    }
  }, 120_000);

  it('a server without tableOps() refuses tables ops as unknown (ERR_PROTOCOL), and serve() refuses an op name without a dot', async () => {
    const store = file(tmp());
    await expect(serve(store, { ops: { read: tableOps()['tables.read'] } as never })).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION' });
    const server = await serve(store);
    try {
      const raw = rawConnection(server.address);
      raw.send({ id: 0, op: 'hello', version: 1 });
      raw.send({ id: 1, op: 'tables.read', backend: 'kv', table: 't' });
      await raw.closed;
      expect(raw.headers[0]).toMatchObject({ id: 0, ok: true });
      expect(raw.headers[1]).toMatchObject({ id: 1, error: { code: 'ERR_PROTOCOL', message: expect.stringContaining('laminate serve --tables') } });
    } finally {
      await server.close();
      await store.close();
    }
  }, 60_000);

  it('a tables.write sent again by a reconnecting client is answered from memory, not applied twice', async () => {
    const store = file(tmp());
    const server = await serve(store, { ops: tableOps() });
    try {
      const write = { id: 1, ack: 1, op: 'tables.write', backend: 'csv', table: 'log', format: 'csv' };
      const body = Buffer.from('event\nstart\nstop\n');
      const first = rawConnection(server.address);
      first.send({ id: 0, op: 'hello', version: 1, client: 'python-7f3a' });
      first.send(write, [body]);
      await first.replies(2);
      first.socket.destroy();
      const again = rawConnection(server.address);
      again.send({ id: 0, op: 'hello', version: 1, client: 'python-7f3a' });
      again.send(write, [body]);
      await again.replies(2);
      again.socket.destroy();
      expect(first.headers[1]).toMatchObject({ id: 1, ok: true, rows: 2 });
      expect(again.headers[1]).toMatchObject({ id: 1, ok: true, rows: 2 });
      expect(server.stats().duplicates).toBe(1);
      expect(rowsOf(await tables(store).read('csv', 'log'))).toEqual([{ event: 'start' }, { event: 'stop' }]);
    } finally {
      await server.close();
      await store.close();
    }
  }, 60_000);
});

function python(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn('/usr/bin/python3', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('tables ops from a Python client', () => {
  it('Python writes a csv table from CSV text and reads a kv table as CSV and as an Arrow IPC stream decoded with numpy', async () => {
    const store = file(tmp());
    await tables(store).write('kv', 'weather', weather, { index: 'city' });
    const server = await serve(store, { ops: tableOps() });
    try {
      const { port } = new URL(server.address);
      const result = await python([CLIENT, '127.0.0.1', port]);
      expect(result.code, result.stderr).toBe(0);
      const out = JSON.parse(result.stdout);
      expect(out.written).toBe(2);
      const sorted = [...weather].sort((a, b) => a.city.localeCompare(b.city));
      const inStore = rowsOf(await tables(store).read('kv', 'weather', { columns: ['city', 'temp', 'rain'] }));
      expect(out.csv).toEqual(inStore);
      expect(new Set(out.csv.map((row: { city: string }) => row.city))).toEqual(new Set(sorted.map((row) => row.city)));
      const warm = rowsOf(await tables(store).read('kv', 'weather', { filter: 'temp > 0' }));
      expect(out.arrow.rows).toBe(warm.length);
      const columns = Object.keys(warm[0]);
      expect(Object.keys(out.arrow.columns).sort()).toEqual([...columns].sort());
      for (const name of columns) expect(out.arrow.columns[name]).toEqual(warm.map((row) => (row as Record<string, unknown>)[name]));
      expect(out.missing).toBe('ERR_NOT_FOUND');
      // What Python wrote is in the store.
      expect(rowsOf(await tables(store).read('csv', 'cities'))).toEqual([
        { name: 'Oslo', population: 709000 },
        { name: 'Reykjavík, IS', population: 139000 },
      ]);
      expect(server.stats().bytesInFlight).toBe(0);
    } finally {
      await server.close();
      await store.close();
    }
  }, 120_000);

  it('`laminate serve --tables` in a child process serves the same requests; SIGTERM stops it with exit 0', async () => {
    const dir = tmp();
    const store = file(dir);
    await tables(store).write('kv', 'weather', weather, { index: 'city' });
    await store.close();
    const child = spawn(process.execPath, [BIN, 'serve', '--store', `file(${dir})`, '--tables'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
    try {
      const line = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
          out += chunk;
          if (out.includes('\n')) resolve(out.slice(0, out.indexOf('\n')));
        });
        child.once('close', (code) => reject(new Error(`serve exited ${code} before listening: ${stderr}`)));
      });
      const address = /on (tcp:\S+)$/.exec(line)?.[1];
      expect(address, line).toBeDefined();
      const result = await python([CLIENT, '127.0.0.1', new URL(address!).port]);
      expect(result.code, result.stderr).toBe(0);
      const out = JSON.parse(result.stdout);
      expect(out.written).toBe(2);
      expect(byCity(out.csv)).toEqual(byCity(weather));
      expect(out.arrow.rows).toBe(2);
      expect([...out.arrow.columns.city].sort()).toEqual(['Lima', 'São Paulo']);
      expect([...out.arrow.columns.temp].sort((a, b) => a - b)).toEqual([19, 28.25]);
      expect(out.missing).toBe('ERR_NOT_FOUND');
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited, stderr).toBe(0);
    const reopened = file(dir);
    expect(rowsOf(await tables(reopened).read('csv', 'cities'))).toEqual([
      { name: 'Oslo', population: 709000 },
      { name: 'Reykjavík, IS', population: 139000 },
    ]);
    await reopened.close();
  }, 120_000);
});
