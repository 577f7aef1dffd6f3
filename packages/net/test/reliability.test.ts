import { DictStore, buffer, dict, file, msgpack, zstd } from '@laminate/core';
import { rejection } from '@laminate/core/testing';
import { client, serve } from '@laminate/net';
import { describe, expect, it } from 'vitest';
import { checkProducers, harness, sleep } from './fixtures/harness.js';
import { CuttingProxy } from './fixtures/proxy.js';
import { GatedDict } from './fixtures/stores.js';

const { tempDir, later, startedServer, producer } = harness();

type Item = { p: number; i: number };

async function proxied(target: string): Promise<CuttingProxy> {
  const proxy = await CuttingProxy.start(target);
  later(() => proxy.close());
  return proxy;
}

/** A served dict, a proxy in front of its server, and msgpack(client()) through the proxy. */
async function throughProxy() {
  const served = new DictStore();
  const server = await startedServer(served);
  const proxy = await proxied(server.address);
  const store = msgpack<Item>(client(proxy.address));
  later(() => store.close());
  return { served, server, proxy, store };
}

/** Values a key of the served dict holds, read straight from the store. */
async function count(store: DictStore, keys: string[]): Promise<number> {
  let n = 0;
  for (const list of await msgpack<Item>(store).getMany(keys)) n += list.length;
  return n;
}

describe('client() across dropped connections', () => {
  it('applies every append exactly once when the connection drops after the server received them', async () => {
    const { served, server, proxy, store } = await throughProxy();
    await store.append({ warm: [{ p: 0, i: -1 }] });

    // The server applies these, but the proxy swallows every reply: the client hears nothing.
    proxy.swallow = true;
    const keys = Array.from({ length: 10 }, (_, k) => `k${k}`);
    const calls = Array.from({ length: 500 }, (_, i) => store.append({ [`k${i % 10}`]: [{ p: 0, i }] }));
    while ((await count(served, keys)) < 500) await sleep(5);

    proxy.swallow = false;
    proxy.cut();
    await Promise.all(calls);
    expect(proxy.connections).toBeGreaterThanOrEqual(2);
    // Without deduplication each of the 500 would now be there twice.
    expect(server.stats().duplicates).toBe(500);
    const seen = checkProducers(await store.getMany(keys), 1);
    expect(seen[0].size).toBe(500);
  });

  it('keeps every append once and in order while the connection is cut again and again', async () => {
    const { proxy, store } = await throughProxy();
    const keys = Array.from({ length: 7 }, (_, k) => `k${k}`);
    let cutting = true;
    const cutter = (async () => {
      while (cutting) {
        await sleep(15);
        proxy.cut();
      }
    })();
    const running = new Set<Promise<void>>();
    for (let i = 0; i < 5000; i++) {
      const call = store.append({ [`k${i % 7}`]: [{ p: 0, i }] });
      running.add(call);
      void call.then(() => running.delete(call));
      if (running.size >= 64) await Promise.race(running);
    }
    await Promise.all(running);
    cutting = false;
    await cutter;
    expect(proxy.connections).toBeGreaterThan(3);
    const seen = checkProducers(await store.getMany(keys), 1);
    expect(seen[0].size).toBe(5000);
  });

  it('applies a change once when the ack moved up to it while it was still unanswered, then the connection was cut', async () => {
    // The ack a client sends is its oldest unanswered id: "everything below has been answered". The
    // server must keep the outcome of that oldest change itself, or a resent copy is applied again.
    const served = new GatedDict();
    const server = await startedServer(served);
    const proxy = await proxied(server.address);
    const store = client(proxy.address);
    later(() => store.close());
    await store.append({ 'steady-warm': Buffer.from('w') });

    served.shut();
    // Sent together: the late change goes out with ack = the first one's id, below its own.
    const first = store.append({ 'steady-first': Buffer.from('f') });
    // The store holds this change: the server has it, the client has no answer.
    const late = store.append({ late: Buffer.from('x') });
    await first;
    // Sent with ack = the late change's id (the oldest unanswered); answered at once (steady- keys pass the gate).
    await store.append({ 'steady-next': Buffer.from('n') });
    proxy.cut();
    // The client resends the late change on a new connection while the first copy is still at the gate.
    while (proxy.connections < 2) await sleep(5);
    await sleep(50);
    served.open();
    await late;

    expect(Buffer.from(await served.get('late')).toString()).toBe('x');
    expect(server.stats().duplicates).toBe(1);
  });

  it('retries reads whose replies were lost', async () => {
    const server = await startedServer(dict());
    const proxy = await proxied(server.address);
    const store = client(proxy.address);
    later(() => store.close());
    await store.append({ a: Buffer.from('alpha'), b: Buffer.from('beta') });
    proxy.swallow = true;
    const reads = Promise.all([store.get('a'), store.keys(), store.iget('nothing')]);
    await sleep(50);
    proxy.swallow = false;
    proxy.cut();
    const [a, keys, nothing] = await reads;
    expect(Buffer.from(a).toString()).toBe('alpha');
    expect(keys.sort()).toEqual(['a', 'b']);
    expect(nothing.byteLength).toBe(0);
  });

  it('fails with ERR_CONNECTION after connectTimeoutMs when the server stays away', async () => {
    const served = dict();
    const server = await serve(served, { listen: `unix://${tempDir()}/s.sock` });
    const store = client(server.address, { connectTimeoutMs: 300 });
    later(() => store.close(), () => served.close());
    await store.append({ k: Buffer.from('1') });
    await server.close();
    const started = performance.now();
    const error = await rejection(store.append({ k: Buffer.from('2') }));
    expect(error.code).toBe('ERR_CONNECTION');
    expect(error.message).toContain(server.address);
    expect(performance.now() - started).toBeGreaterThanOrEqual(250);
    expect(Buffer.from(await served.get('k')).toString()).toBe('1');
  });

  it('carries on through a server restarted on the same address, losing no acknowledged append', async () => {
    const served = file(tempDir());
    later(() => served.close());
    const address = `unix://${tempDir()}/s.sock`;
    let server = await serve(served, { listen: address });
    const store = msgpack<Item>(client(address, { connectTimeoutMs: 20_000 }));
    later(() => store.close());
    const acknowledged: number[] = [];
    const running = new Set<Promise<void>>();
    const producing = (async () => {
      for (let i = 0; i < 3000; i++) {
        const call = store.append({ [`k${i % 5}`]: [{ p: 0, i }] }).then(() => void acknowledged.push(i));
        running.add(call);
        void call.then(() => running.delete(call));
        if (running.size >= 32) await Promise.race(running);
      }
      await Promise.all(running);
    })();
    while (acknowledged.length < 500) await sleep(2);
    await server.close();
    const atClose = acknowledged.length;
    // Every append acknowledged before the server went away is on disk.
    const direct = msgpack<Item>(served);
    const stored = new Set((await direct.getMany(['k0', 'k1', 'k2', 'k3', 'k4'])).flat().map(({ i }) => i));
    for (const i of acknowledged.slice(0, atClose)) expect(stored.has(i)).toBe(true);
    await sleep(100);
    server = await serve(served, { listen: address });
    later(() => server.close());
    await producing;
    expect(acknowledged.length).toBe(3000);
    const seen = checkProducers(await direct.getMany(['k0', 'k1', 'k2', 'k3', 'k4']), 1);
    expect(seen[0].size).toBe(3000);
  });
});

describe('flow control', () => {
  it('makes a producer faster than the store wait, and bounds the bytes the server holds', async () => {
    const slow = new GatedDict();
    const server = await startedServer(slow, { maxConnectionBytes: 1 << 20, maxTotalBytes: 2 << 20 });
    const store = client(server.address, { maxBytesInFlight: 64 << 20 });
    later(() => store.close());
    slow.shut();
    const value = Buffer.alloc(64 << 10, 7);
    let acknowledged = 0;
    const calls = Array.from({ length: 200 }, (_, i) => store.append({ [`k${i % 4}`]: value }).then(() => void acknowledged++));
    await sleep(300);
    // Nothing is acknowledged while the store does not take appends, and the server stopped reading
    // far short of the 12.5 MiB the client tried to send.
    expect(acknowledged).toBe(0);
    const held = server.stats();
    expect(held.bytesInFlight).toBeGreaterThan(0);
    expect(held.peakBytesInFlight).toBeLessThan((1 << 20) + 2 * (64 << 10) + (1 << 20));
    slow.open();
    await Promise.all(calls);
    expect(acknowledged).toBe(200);
    expect(slow.appended).toBe(200);
    expect(server.stats().peakBytesInFlight).toBeLessThan(3 << 20);
    // Everything the server counted in flight was let go once answered.
    while (server.stats().bytesInFlight > 0) await sleep(5);
    const lengths = (await store.getMany(['k0', 'k1', 'k2', 'k3'])).map((v) => v.byteLength);
    expect(lengths).toEqual(new Array(4).fill(50 * (64 << 10)));
  });

  it('keeps the client-side window: no more than maxBytesInFlight is sent before replies come', async () => {
    const slow = new GatedDict();
    const server = await startedServer(slow);
    const store = client(server.address, { maxBytesInFlight: 256 << 10 });
    later(() => store.close());
    slow.shut();
    const calls = Array.from({ length: 50 }, (_, i) => store.append({ [`k${i}`]: Buffer.alloc(64 << 10) }));
    await sleep(200);
    // 256 KiB of 64 KiB values: four requests went out, the rest wait in the client.
    expect(server.stats().peakBytesInFlight).toBeLessThan(5 * (64 << 10));
    slow.open();
    await Promise.all(calls);
    expect((await store.keys()).length).toBe(50);
  });

  it('serves the lock holder even when other connections fill the server', async () => {
    const slow = new GatedDict();
    const server = await startedServer(slow, { maxConnectionBytes: 64 << 10, maxTotalBytes: 128 << 10 });
    const holder = client(server.address);
    const others = [client(server.address), client(server.address)];
    later(() => holder.close(), ...others.map((o) => () => o.close()));
    const appended = holder.withLock(async () => {
      // Others queue behind the lock and fill the server's budget; the holder still gets through.
      const waiting = others.map((other, n) => Promise.all(Array.from({ length: 20 }, (_, i) => other.append({ [`o${n}`]: Buffer.alloc(16 << 10, i) }))));
      await sleep(100);
      await holder.append({ h: Buffer.from('held') });
      return waiting;
    });
    const waiting = await appended;
    await waiting;
    expect(Buffer.from(await holder.get('h')).toString()).toBe('held');
    expect((await holder.get('o0')).byteLength).toBe(20 * (16 << 10));
  });
});

describe('iter over the network', () => {
  it('streams a key larger than one message, chunk by chunk, and stops early on request', async () => {
    const server = await startedServer(dict(), { maxMessageBytes: 256 << 10 });
    const store = client(server.address);
    later(() => store.close());
    for (let i = 0; i < 40; i++) await store.append({ big: Buffer.alloc(100 << 10, i) });
    // 4 MB: too large for one reply, so get() is refused and iter() streams it.
    expect((await rejection(store.get('big'))).code).toBe('ERR_TOO_LARGE');
    const chunks: number[] = [];
    for await (const chunk of store.iter('big')) {
      expect(chunk.byteLength).toBe(100 << 10);
      chunks.push(chunk[0]);
    }
    expect(chunks).toEqual(Array.from({ length: 40 }, (_, i) => i));
    let taken = 0;
    for await (const _ of store.iter('big')) if (++taken === 3) break;
    expect(taken).toBe(3);
    // The connection is still good after a cursor was abandoned.
    await store.append({ small: Buffer.from('x') });
    expect(Buffer.from(await store.get('small')).toString()).toBe('x');
  });
});

describe('many producer processes', () => {
  it('8 processes × 10,000 values through msgpack(zstd(client())) into 100 keys: every value once, each producer in order', async () => {
    const served = buffer(dict(), file(tempDir()), { availableMemory: 1 << 20 });
    const server = await startedServer(served);
    const producers = 8;
    const count = 10_000;
    const keys = 100;
    const results = await Promise.all(Array.from({ length: producers }, (_, p) => producer(server.address, p, count, { keys, inFlight: 64, stack: 'zstd' }).exited));
    for (const result of results) {
      expect(result.err).toBe('');
      expect(result.code).toBe(0);
      expect(result.out.trim()).toBe('done');
    }
    const reader = msgpack<Item>(zstd(client(server.address)));
    later(() => reader.close());
    const seen = checkProducers(await reader.getMany(Array.from({ length: keys }, (_, k) => `k${k}`)), producers);
    for (const set of seen) expect(set.size).toBe(count);
  }, 120_000);
});
