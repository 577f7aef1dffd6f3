import { statSync } from 'node:fs';
import { type Socket, connect } from 'node:net';
import { join } from 'node:path';
import { type BaseStore, DictStore, LaminateError, dict, file, msgpack, open } from '@laminate/core';
import { bytesValues, conformance, recordValues, rejection } from '@laminate/core/testing';
import { client, encodeFrame, serve } from '@laminate/net';
import { describe, expect, it } from 'vitest';
import { checkProducers, harness, sleep } from './fixtures/harness.js';

const { tempDir, later, startedServer, servedOnSocket, producer } = harness();

// The data lives in the server, so a new client on the same address finds it ("reopen").
// file() reads a key back whole, so iter over client(serve(file)) would not keep chunks; msgpack frames do.
conformance('client(serve(dict))', { make: () => client(servedOnSocket(dict())), values: bytesValues });
conformance('msgpack(client(serve(file)))', { make: () => msgpack(client(servedOnSocket(file(tempDir())))), values: recordValues });

/** Collects what the server sends on a raw socket until it closes the connection. */
function rawSession(address: string, send: Buffer[]): Promise<{ received: Buffer; closed: boolean }> {
  const port = Number(new URL(address).port);
  return new Promise((resolve, reject) => {
    const socket: Socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ received: Buffer.concat(chunks), closed: false });
    }, 5000);
    socket.on('connect', () => {
      for (const buffer of send) socket.write(buffer);
    });
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ received: Buffer.concat(chunks), closed: true });
    });
  });
}

describe('serve() and client()', () => {
  it('shares a store over TCP, with the bound port and a short-form spec', async () => {
    const server = await startedServer(dict());
    expect(server.address).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+$/);
    expect(server.address).not.toMatch(/:0$/);
    const a = open(`client(${server.address})`) as BaseStore<Uint8Array>;
    later(() => a.close());
    expect(a.describe()).toEqual({ type: 'client', address: server.address });
    await a.append({ x: Buffer.from('hello ') });
    const b = client(server.address);
    later(() => b.close());
    await b.append({ x: Buffer.from('world') });
    expect(Buffer.from(await a.get('x')).toString()).toBe('hello world');
  });

  it('reads byte ranges through the served store, which reads only those bytes where it can', async () => {
    const dir = tempDir();
    const served = file(dir);
    const asked: unknown[] = [];
    const spy = Object.assign(Object.create(served), {
      readRangeIds(ranges: unknown[]) {
        asked.push(ranges);
        return served.readRangeIds(ranges as never);
      },
    });
    const server = await startedServer(spy);
    const store = client(server.address);
    later(() => store.close(), () => served.close());
    await store.append({ a: Buffer.from('0123456789'), b: Buffer.from('abc') });
    const parts = await store.readRanges([
      { key: 'a', offset: 2, length: 3 },
      { key: 'a', offset: 8, length: 100 },
      { key: 'b', offset: 1, length: Infinity },
      { key: 'missing', offset: 0, length: 4 },
    ]);
    expect(parts.map((p) => Buffer.from(p).toString())).toEqual(['234', '89', 'bc', '']);
    expect(asked).toEqual([[{ id: 'a', offset: 2, length: 3 }, { id: 'a', offset: 8, length: 100 }, { id: 'b', offset: 1, length: Infinity }, { id: 'missing', offset: 0, length: 4 }]]);
    expect((await rejection(store.readRanges([{ key: 'a', offset: -1, length: 1 }]))).code).toBe('ERR_INVALID_OPTION');
  });

  it('refuses a wrong or missing token with ERR_AUTH and closes that connection', async () => {
    const server = await startedServer(dict(), { token: 's3cret' });
    const good = client(server.address, { token: 's3cret' });
    const wrong = client(server.address, { token: 's3creT' });
    const none = client(server.address, { token: undefined });
    later(() => good.close(), () => wrong.close(), () => none.close());
    await good.append({ k: Buffer.from('v') });
    const error = await rejection(wrong.get('k'));
    expect(error.code).toBe('ERR_AUTH');
    expect((await rejection(none.keys())).code).toBe('ERR_AUTH');
    // The server closed the connection: a raw hello with a wrong token gets one reply, then the end.
    const session = await rawSession(server.address, encodeFrame({ id: 1, op: 'hello', version: 1, token: 'nope' }));
    expect(session.closed).toBe(true);
    expect(session.received.toString('latin1')).toContain('ERR_AUTH');
    expect(Buffer.from(await good.get('k')).toString()).toBe('v');
  });

  it('refuses to serve a non-loopback TCP address without a token unless insecure', async () => {
    const error = await rejection(serve(dict(), { listen: 'tcp://0.0.0.0:0' }));
    expect(error.code).toBe('ERR_INVALID_OPTION');
    expect(error.message).toContain('token');
    const insecure = await startedServer(dict(), { listen: 'tcp://0.0.0.0:0', insecure: true });
    expect(insecure.address).toMatch(/^tcp:\/\/0\.0\.0\.0:\d+$/);
    const withToken = await startedServer(dict(), { listen: 'tcp://0.0.0.0:0', token: 't' });
    expect(withToken.address).toMatch(/^tcp:\/\/0\.0\.0\.0:\d+$/);
  });

  it('closes a connection that sends garbage or an oversized frame, and keeps serving the others', async () => {
    const server = await startedServer(dict(), { maxMessageBytes: 1 << 20 });
    const other = client(server.address);
    later(() => other.close());
    await other.append({ k: Buffer.from('a') });

    const garbage = await rawSession(server.address, [Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')]);
    expect(garbage.closed).toBe(true);
    expect(garbage.received.toString('latin1')).toMatch(/ERR_TOO_LARGE|ERR_PROTOCOL/);

    // A small frame whose header is not MessagePack.
    const bad = Buffer.from([8, 0, 0, 0, 4, 0, 0, 0, 0xc1, 0xc1, 0xc1, 0xc1]);
    const malformed = await rawSession(server.address, [bad]);
    expect(malformed.closed).toBe(true);
    expect(malformed.received.toString('latin1')).toContain('ERR_PROTOCOL');

    // A well-formed frame over the limit.
    const big = Buffer.alloc(8);
    big.writeUInt32LE(2 << 20, 0);
    const oversized = await rawSession(server.address, [big]);
    expect(oversized.closed).toBe(true);
    expect(oversized.received.toString('latin1')).toContain('ERR_TOO_LARGE');

    // An unknown op after a good hello.
    const unknown = await rawSession(server.address, [...encodeFrame({ id: 1, op: 'hello', version: 1 }), ...encodeFrame({ id: 2, op: 'explode' })]);
    expect(unknown.closed).toBe(true);
    expect(unknown.received.toString('latin1')).toContain('ERR_PROTOCOL');

    await other.append({ k: Buffer.from('b') });
    expect(Buffer.from(await other.get('k')).toString()).toBe('ab');
  });

  it('refuses a value over the server limit with ERR_TOO_LARGE without losing the connection', async () => {
    const server = await startedServer(dict(), { maxMessageBytes: 64 << 10 });
    const store = client(server.address);
    later(() => store.close());
    expect((await rejection(store.append({ big: Buffer.alloc(100 << 10) }))).code).toBe('ERR_TOO_LARGE');
    await store.append({ small: Buffer.from('ok') });
    expect(Buffer.from(await store.get('small')).toString()).toBe('ok');
    expect(await store.keys()).toEqual(['small']);
  });

  it('creates its Unix socket with mode 0600 and removes it on close', async () => {
    const path = join(tempDir(), 'laminate.sock');
    const server = await serve(dict(), { listen: `unix://${path}` });
    expect(server.address).toBe(`unix://${path}`);
    expect(statSync(path).isSocket()).toBe(true);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const store = client(server.address);
    await store.append({ k: Buffer.from('v') });
    await store.close();
    await server.close();
    expect(() => statSync(path)).toThrow();
  });

  it('finishes requests in flight when the server closes', async () => {
    // A store slow to append, so that requests are still running when close() is called.
    let started = 0;
    class SlowDict extends DictStore {
      override async appendIds(ids: readonly string[], values: readonly Uint8Array[]): Promise<void> {
        started++;
        await new Promise((resolve) => setTimeout(resolve, 50));
        return super.appendIds(ids, values);
      }
    }
    const slow = new SlowDict();
    const server = await startedServer(slow);
    const store = client(server.address, { connectTimeoutMs: 200 });
    later(() => store.close());
    const calls = Array.from({ length: 20 }, (_, i) => store.append({ [`k${i % 4}`]: Buffer.from([i]) }));
    while (started < 20) await new Promise((resolve) => setTimeout(resolve, 2));
    await server.close();
    const results = await Promise.allSettled(calls);
    expect(results.map((result) => result.status)).toEqual(new Array(20).fill('fulfilled'));
    const all = Buffer.concat(await slow.getMany(['k0', 'k1', 'k2', 'k3']));
    expect([...all]).toEqual([0, 4, 8, 12, 16, 1, 5, 9, 13, 17, 2, 6, 10, 14, 18, 3, 7, 11, 15, 19]);
    // No reconnection while the server is gone: the next call fails with ERR_CONNECTION.
    expect((await rejection(store.get('k0'))).code).toBe('ERR_CONNECTION');
  });

  it('keeps a withLock section exclusive across clients', async () => {
    const server = await startedServer(dict());
    const a = client(server.address);
    const b = client(server.address);
    later(() => a.close(), () => b.close());
    const events: string[] = [];
    const section = a.withLock(async () => {
      await a.append({ k: Buffer.from('1') });
      await new Promise((r) => setTimeout(r, 100));
      await a.append({ k: Buffer.from('2') });
      events.push('a done');
    });
    await new Promise((r) => setTimeout(r, 30));
    const other = b.append({ k: Buffer.from('3') }).then(() => void events.push('b done'));
    await Promise.all([section, other]);
    expect(events).toEqual(['a done', 'b done']);
    expect(Buffer.from(await b.get('k')).toString()).toBe('123');
  });

  it('is not disturbed by a producer killed with SIGKILL mid-stream', async () => {
    const server = await startedServer(dict());
    const store = server.store;
    const keys = 10;
    const victim = producer(server.address, 1, 10_000_000, { keys });
    const steady = producer(server.address, 0, 2000, { keys });
    // Kill the victim once the server holds some of its values (read straight from the served dict).
    const direct = msgpack<{ p: number }>(store);
    const deadline = Date.now() + 30_000;
    while (!(await direct.get('k0')).some(({ p }) => p === 1) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    victim.child.kill('SIGKILL');
    expect((await victim.exited).signal).toBe('SIGKILL');
    const result = await steady.exited;
    expect(result.code).toBe(0);
    expect(result.out.trim()).toBe('done');
    const reader = msgpack<{ p: number; i: number }>(client(server.address));
    later(() => reader.close());
    const seen = checkProducers(await reader.getMany(Array.from({ length: keys }, (_, k) => `k${k}`)), 2);
    expect(seen[0].size).toBe(2000);
    // The producers' connections go away, and nothing they sent still counts against the server's budget
    // (the test times out if it never does).
    while (server.stats().connections > 1 || server.stats().bytesInFlight > 0) await sleep(5);
    // The server applies appends in the order they arrive: what it kept of the victim is a whole prefix.
    expect(seen[1].size).toBeGreaterThan(0);
    for (let i = 0; i < seen[1].size; i++) expect(seen[1].has(i)).toBe(true);
  }, 60_000);

  it('takes appends from several processes at once: every value once, each producer in order', async () => {
    const server = await startedServer(dict(), { token: 'tok' });
    const producers = 3;
    const count = 1500;
    const keys = 10;
    const results = await Promise.all(Array.from({ length: producers }, (_, p) => producer(server.address, p, count, { keys, env: { LAMINATE_TOKEN: 'tok' } }).exited));
    for (const result of results) {
      expect(result.err).toBe('');
      expect(result.code).toBe(0);
      expect(result.out.trim()).toBe('done');
    }
    const reader = msgpack<{ p: number; i: number }>(client(server.address, { token: 'tok' }));
    later(() => reader.close());
    const seen = checkProducers(await reader.getMany(Array.from({ length: keys }, (_, k) => `k${k}`)), producers);
    for (const set of seen) expect(set.size).toBe(count);
  }, 60_000);
});

describe('a failure inside the served store', () => {
  it('reaches the client as ERR_SERVER, a LaminateError with the server\'s message', async () => {
    class FailingDict extends DictStore {
      override getIds(): Promise<Uint8Array[]> {
        return Promise.reject(new Error('the disk is on fire'));
      }
    }
    const store = client(servedOnSocket(new FailingDict()));
    later(() => store.close());
    const error = await rejection(store.get('k'));
    expect(error).toBeInstanceOf(LaminateError);
    expect(error.code).toBe('ERR_SERVER');
    expect(error.message).toContain('The server failed: the disk is on fire');
    // The connection goes on: calls the store can answer still work.
    await store.append({ k: Buffer.from('x') });
    expect(await store.keys()).toEqual(['k']);
  });
});
