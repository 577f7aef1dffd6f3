import { type BaseStore, buffer, dict, file, zstd } from '@laminate/core';
import { rejection } from '@laminate/core/testing';
import { client, encodeFrame, serve } from '@laminate/net';
import { describe, expect, it } from 'vitest';
import { harness, sleep } from './fixtures/harness.js';
import { RawPeer, until, wellBehaved } from './fixtures/raw-peer.js';
import { CountingDict, GatedDict } from './fixtures/stores.js';

const { later, startedServer, tempDir } = harness();

const KiB = 1 << 10;
const MiB = 1 << 20;

/** A peer that has said hello and had it accepted. */
async function greeted(address: string, opts: { read?: boolean; token?: string } = {}): Promise<RawPeer> {
  const peer = await RawPeer.connect(address, { read: opts.read ?? true });
  peer.hello(opts.token);
  if (opts.read ?? true) expect(await peer.errorCode(1)).toBeUndefined();
  return peer;
}

/** Keeps a well-behaved client busy until the test ends, and checks it was served throughout. */
function servedThroughout(address: string, opts: { token?: string } = {}): { check(): Promise<void> } {
  const steady = wellBehaved(address, opts);
  let checked = false;
  later(async () => {
    if (!checked) await steady.stop().catch(() => undefined);
  });
  return {
    async check() {
      checked = true;
      expect(await steady.stop()).toBeGreaterThan(0);
    },
  };
}

describe('reads are bounded by the flow-control limits', () => {
  for (const { name, make } of [
    { name: 'a store that tells sizes (dict)', make: (inner: CountingDict) => inner as BaseStore<Uint8Array> },
    { name: 'a store that cannot tell sizes (zstd over dict)', make: (inner: CountingDict) => zstd(inner) },
  ]) {
    it(`stops serving a client that pipelines gets and never takes the replies, over ${name}`, async () => {
      const inner = new CountingDict();
      const store = make(inner);
      await store.append({ big: Buffer.alloc(2 * MiB, 1) });
      const server = await startedServer(store, { maxConnectionBytes: 4 * MiB });
      const steady = servedThroughout(server.address);
      const greedy = await greeted(server.address, { read: false });
      for (let id = 2; id < 42; id++) greedy.send({ id, op: 'get', keys: ['big'] });

      // The server reads a few values, as far as the socket takes them and the bound allows, then waits.
      let reads = -1;
      await until(
        () => {
          const stalled = inner.bigReads === reads && inner.bigReads > 0;
          reads = inner.bigReads;
          return stalled;
        },
        5000,
        'the server to stop reading',
      ).catch(() => undefined);
      await sleep(200);
      expect(inner.bigReads).toBe(reads);
      expect(inner.bigReads).toBeLessThan(10);
      // Before: 40 replies of 2 MiB in flight at once (80 MiB, less what the kernel took).
      expect(server.stats().peakBytesInFlight).toBeLessThan(4 * MiB + 2 * MiB);

      // Once the client reads, every reply comes, and nothing stays counted.
      greedy.read();
      for (let id = 2; id < 42; id++) expect((await greedy.reply(id)).payloads[0].byteLength).toBe(2 * MiB);
      expect(inner.bigReads).toBe(40);
      await steady.check();
      await until(() => server.stats().bytesInFlight === 0);
    });
  }

  it('keeps the total bound across several clients that never take their replies', async () => {
    const store = new CountingDict();
    await store.append({ big: Buffer.alloc(MiB, 1) });
    const server = await startedServer(store, { maxConnectionBytes: 16 * MiB, maxTotalBytes: 4 * MiB });
    const steady = servedThroughout(server.address);
    const greedy = await Promise.all([1, 2, 3].map(() => greeted(server.address, { read: false })));
    for (const peer of greedy) for (let id = 2; id < 32; id++) peer.send({ id, op: 'get', keys: ['big'] });
    await sleep(500);
    // Each connection may start one read while it has nothing under way; beyond that the total holds.
    // Before: 90 replies of 1 MiB in flight.
    expect(server.stats().peakBytesInFlight).toBeLessThan(4 * MiB + 3 * MiB + 256 * KiB);
    expect(store.bigReads).toBeLessThan(40);
    await steady.check();
    for (const peer of greedy) peer.read();
    for (const peer of greedy) expect((await peer.reply(31)).payloads[0].byteLength).toBe(MiB);
    expect(store.bigReads).toBe(90);
  });

  /** One 330-byte request naming a 4 MiB key 60 times (240 MiB of reply), as get and as ranges: refused from the key's size. */
  async function refusesOversizedReads(store: BaseStore<Uint8Array>) {
    await store.append({ big: Buffer.alloc(4 * MiB, 2) });
    const server = await startedServer(store);
    const steady = servedThroughout(server.address);
    const peer = await greeted(server.address);
    peer.send({ id: 2, op: 'get', keys: new Array(60).fill('big') });
    expect(await peer.errorCode(2)).toBe('ERR_TOO_LARGE');
    peer.send({ id: 3, op: 'ranges', ranges: new Array(60).fill(['big', 0, null]) });
    expect(await peer.errorCode(3)).toBe('ERR_TOO_LARGE');
    const message = ((await peer.reply(3)).header.error as { message: string }).message;
    expect(message).toContain('maxMessageBytes');
    expect(message).toContain('iter()');
    expect(server.stats().refusedReads).toBe(2);
    expect(server.stats().peakBytesInFlight).toBeLessThan(MiB);
    return { server, steady, peer };
  }

  it('refuses a get or ranges whose reply would be too large before the store reads a byte', async () => {
    const store = new CountingDict();
    const { steady, peer } = await refusesOversizedReads(store);
    // Before: the store read the key 60 times, then the reply was found too large.
    expect(store.bigReads).toBe(0);
    // The connection goes on: a reply that fits is read and sent.
    peer.send({ id: 4, op: 'ranges', ranges: new Array(60).fill(['big', 10, 100]) });
    expect((await peer.reply(4)).payloads.map((p) => p.byteLength)).toEqual(new Array(60).fill(100));
    await steady.check();
  });

  it("over file(), refuses the same get and ranges from the key's size on disk, holding nothing", async () => {
    const { steady } = await refusesOversizedReads(file(tempDir()));
    await steady.check();
  });

  it('refuses a pop whose value cannot be sent, and keeps the value', async () => {
    const served = new CountingDict();
    await served.append({ big: Buffer.alloc(2 * MiB, 3) });
    const server = await startedServer(served, { maxMessageBytes: MiB });
    const store = client(server.address);
    later(() => store.close());
    const error = await rejection(store.pop('big'));
    expect(error.code).toBe('ERR_TOO_LARGE');
    // Before: the key was deleted, then its value could not be sent: lost.
    expect(served.sizeOf('big')).toBe(2 * MiB);
    expect((await rejection(store.getMany(['big']))).code).toBe('ERR_TOO_LARGE');
    expect(served.bigReads).toBe(0);
    expect(server.stats().refusedReads).toBe(2);
  });

  it('tells sizes through buffer(), spilled part and memory part alike; a store that cannot is refused after reading', async () => {
    const served = buffer(dict(), dict(), { availableMemory: 3 * MiB });
    await served.append({ big: Buffer.alloc(2 * MiB, 4) });
    await served.append({ other: Buffer.alloc(2 * MiB, 5) }); // spills the largest keys
    await served.append({ big: Buffer.alloc(MiB, 6) });
    expect(await served.sizeIds(['big', 'other', 'none'])).toEqual([3 * MiB, 2 * MiB, 0]);
    const server = await startedServer(served, { maxMessageBytes: 4 * MiB });
    const store = client(server.address);
    later(() => store.close());
    expect((await rejection(store.getMany(['big', 'big']))).code).toBe('ERR_TOO_LARGE');
    expect(server.stats().refusedReads).toBe(1);
    expect((await store.get('big')).byteLength).toBe(3 * MiB);

    const unsized = zstd(dict());
    await unsized.append({ big: Buffer.alloc(3 * MiB, 7) });
    const other = await startedServer(unsized, { maxMessageBytes: 4 * MiB });
    const reader = client(other.address);
    later(() => reader.close());
    expect((await rejection(reader.getMany(['big', 'big']))).code).toBe('ERR_TOO_LARGE');
    expect(other.stats().refusedReads).toBe(0);
  });
});

describe('iter cursors', () => {
  it('caps the cursors a connection may open, and reads nothing ahead for a cursor left open', async () => {
    const store = new CountingDict();
    for (let i = 0; i < 3; i++) await store.append({ big: Buffer.alloc(MiB, i) });
    const server = await startedServer(store, { maxCursors: 4 });
    const steady = servedThroughout(server.address);
    const peer = await greeted(server.address);
    for (let id = 2; id < 8; id++) peer.send({ id, op: 'iter', key: 'big' });
    const cursors: number[] = [];
    for (let id = 2; id < 6; id++) {
      const { header, payloads } = await peer.reply(id);
      expect(payloads.map((p) => p.byteLength)).toEqual([MiB]);
      cursors.push(header.cursor as number);
    }
    for (const id of [6, 7]) {
      expect(await peer.errorCode(id)).toBe('ERR_TOO_LARGE');
      expect(((await peer.reply(id)).header.error as { message: string }).message).toContain('maxCursors');
    }
    expect(server.stats().cursors).toBe(4);
    // One chunk per cursor, the one sent: before, each cursor also held the next one.
    expect(store.chunks).toBe(4);

    peer.send({ id: 8, op: 'iter', cursor: cursors[0], cancel: true });
    expect(await peer.errorCode(8)).toBeUndefined();
    expect(server.stats().cursors).toBe(3);
    peer.send({ id: 9, op: 'iter', key: 'big' });
    expect(await peer.errorCode(9)).toBeUndefined();
    // A cursor read to its end: the batch that fills up carries the cursor, and the key may end with an empty batch.
    const sizes: number[] = [];
    let cursor: unknown = cursors[1];
    for (let id = 10; cursor !== undefined; id++) {
      peer.send({ id, op: 'iter', cursor });
      const { header, payloads } = await peer.reply(id);
      sizes.push(...payloads.map((p) => p.byteLength));
      cursor = header.cursor;
    }
    expect(sizes).toEqual([MiB, MiB]);
    expect(server.stats().cursors).toBe(3);
    await steady.check();
    // Each open cursor counts its last batch, which the store's iterator may still hold.
    await until(() => server.stats().bytesInFlight === 3 * MiB);
    peer.destroy();
    await until(() => server.stats().cursors === 0 && server.stats().bytesInFlight === 0);
  });

  it('opens no cursor while the open ones keep maxConnectionBytes', async () => {
    const store = new CountingDict();
    for (let i = 0; i < 3; i++) await store.append({ big: Buffer.alloc(MiB, i) });
    const server = await startedServer(store, { maxConnectionBytes: 2 * MiB });
    const steady = servedThroughout(server.address);
    const peer = await greeted(server.address);
    for (let id = 2; id < 5; id++) peer.send({ id, op: 'iter', key: 'big' });
    const { cursor } = (await peer.reply(2)).header;
    expect(await peer.errorCode(3)).toBeUndefined();
    expect(await peer.errorCode(4)).toBe('ERR_TOO_LARGE');
    expect(((await peer.reply(4)).header.error as { message: string }).message).toContain('maxConnectionBytes');
    expect(server.stats().cursors).toBe(2);
    // Cancelling one lets the next open.
    peer.send({ id: 5, op: 'iter', cursor, cancel: true });
    peer.send({ id: 6, op: 'iter', key: 'big' });
    expect(await peer.errorCode(6)).toBeUndefined();
    await steady.check();
  });

  it('refuses an iter() beyond maxCursors to a client, and lets it iterate again once one ends', async () => {
    const served = dict();
    for (let i = 0; i < 3; i++) await served.append({ big: Buffer.alloc(MiB, i) });
    const server = await startedServer(served, { maxCursors: 2 });
    const store = client(server.address);
    later(() => store.close());
    const iterators = [1, 2, 3].map(() => store.iter('big')[Symbol.asyncIterator]());
    const first = await Promise.allSettled(iterators.map((iterator) => iterator.next()));
    expect(first.map((result) => result.status)).toEqual(['fulfilled', 'fulfilled', 'rejected']);
    expect(((first[2] as PromiseRejectedResult).reason as { code: string }).code).toBe('ERR_TOO_LARGE');
    await iterators[0].return!();
    await until(() => server.stats().cursors === 1);
    let chunks = 0;
    for await (const _ of store.iter('big')) chunks++;
    expect(chunks).toBe(3);
  });

  it("counts a cursor's last batch and pending chunk against its connection", async () => {
    const store = new CountingDict();
    for (let i = 0; i < 3; i++) await store.append({ big: Buffer.alloc(600 * KiB, i) });
    const server = await startedServer(store, { maxMessageBytes: MiB });
    const steady = servedThroughout(server.address);
    const peer = await greeted(server.address);
    peer.send({ id: 2, op: 'iter', key: 'big' });
    const { header, payloads } = await peer.reply(2);
    // Two chunks do not fit one frame: the second waits for the next batch, and counts meanwhile, with the batch sent.
    expect(payloads.map((p) => p.byteLength)).toEqual([600 * KiB]);
    await steady.check();
    await until(() => server.stats().bytesInFlight === 1200 * KiB, 2000, 'the pending chunk to be counted');
    peer.send({ id: 3, op: 'iter', cursor: header.cursor });
    expect((await peer.reply(3)).payloads.map((p) => p.byteLength)).toEqual([600 * KiB]);
    await until(() => server.stats().bytesInFlight === 1200 * KiB);
    peer.send({ id: 4, op: 'iter', cursor: header.cursor });
    const last = await peer.reply(4);
    expect(last.payloads.map((p) => p.byteLength)).toEqual([600 * KiB]);
    expect(last.header.cursor).toBeUndefined();
    await until(() => server.stats().bytesInFlight === 0);
  });
});

describe('connections that have not said hello', () => {
  it('closes a connection whose first frame is over 4 KiB at once, on a server that requires a token', async () => {
    const server = await startedServer(dict(), { token: 'tok' });
    const steady = servedThroughout(server.address, { token: 'tok' });
    const prefix = Buffer.alloc(4);
    prefix.writeUInt32LE(60 * MiB, 0);
    const peers = await Promise.all(Array.from({ length: 6 }, () => RawPeer.connect(server.address)));
    for (const peer of peers) {
      peer.sendBytes(prefix);
      peer.sendBytes(Buffer.alloc(MiB));
    }
    // Before: each connection was kept, reading its 60 MiB frame, counted nowhere.
    await Promise.race([Promise.all(peers.map((peer) => peer.closed)), sleep(3000).then(() => Promise.reject(new Error('the connections were not closed')))]);
    for (const peer of peers) {
      const error = peer.replies[0].header.error as { code: string; message: string };
      expect(error.code).toBe('ERR_TOO_LARGE');
      expect(error.message).toContain('hello');
    }
    await until(() => server.stats().connections === 1);
    expect(server.stats().peakBytesInFlight).toBeLessThan(MiB);
    await steady.check();
  });

  it('counts the bytes of a hello being received', async () => {
    const server = await startedServer(dict(), { token: 'tok' });
    const steady = servedThroughout(server.address, { token: 'tok' });
    const peer = await RawPeer.connect(server.address);
    const hello = Buffer.concat(encodeFrame({ id: 1, op: 'hello', version: 1, token: 'tok', note: 'x'.repeat(3000) }));
    peer.sendBytes(hello.subarray(0, 2000));
    await until(() => server.stats().awaitingHello === 1 && server.stats().bytesInFlight >= 2000, 2000, 'the partial hello to be counted');
    peer.sendBytes(hello.subarray(2000));
    expect(await peer.errorCode(1)).toBeUndefined();
    expect(server.stats().awaitingHello).toBe(0);
    await steady.check();
  });

  it('closes a connection that has not said hello within helloTimeoutMs, however it trickles bytes', async () => {
    const server = await startedServer(dict(), { token: 'tok', helloTimeoutMs: 400 });
    expect(server.limits.helloTimeoutMs).toBe(400);
    const steady = servedThroughout(server.address, { token: 'tok' });
    const started = performance.now();
    const silent = await RawPeer.connect(server.address);
    const trickle = await RawPeer.connect(server.address);
    const hello = Buffer.concat(encodeFrame({ id: 1, op: 'hello', version: 1, token: 'tok' }));
    let sent = 0;
    const dribble = setInterval(() => sent < hello.length && trickle.sendBytes(hello.subarray(sent, ++sent)), 40);
    later(() => clearInterval(dribble));
    // A hello that comes in pieces but in time is accepted.
    const punctual = await RawPeer.connect(server.address);
    for (let i = 0; i < 3; i++) {
      punctual.sendBytes(hello.subarray((i * hello.length) / 3, ((i + 1) * hello.length) / 3));
      await sleep(50);
    }
    await Promise.race([Promise.all([silent.closed, trickle.closed]), sleep(3000).then(() => Promise.reject(new Error('the connections were not closed')))]);
    const elapsed = performance.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(350);
    expect(elapsed).toBeLessThan(2000);
    for (const peer of [silent, trickle]) {
      expect(peer.replies.map((reply) => reply.header.id)).toEqual([0]);
      const error = peer.replies[0].header.error as { code: string; message: string };
      expect(error.code).toBe('ERR_CONNECTION');
      expect(error.message).toContain('helloTimeoutMs');
    }
    expect(sent).toBeLessThan(hello.length);
    expect(await punctual.errorCode(1)).toBeUndefined();
    expect(punctual.isClosed).toBe(false);
    expect(server.stats().timedOut).toBe(2);
    await until(() => server.stats().awaitingHello === 0);
    await steady.check();
  });
});

describe('serve() options for the limits', () => {
  it('takes the limits and timeouts, with their defaults, and refuses a token too long for a hello', async () => {
    const server = await startedServer(dict());
    expect(server.limits).toMatchObject({ helloTimeoutMs: 3000, idleTimeoutMs: 0, maxCursors: 16, maxConnectionBytes: 32 * MiB, maxTotalBytes: 256 * MiB });
    for (const opts of [{ token: 'x'.repeat(1025) }, { helloTimeoutMs: 0 }, { idleTimeoutMs: -1 }, { maxCursors: 1.5 }]) {
      const error = await rejection(serve(dict(), opts));
      expect(error.code).toBe('ERR_INVALID_OPTION');
      expect(error.message).toContain(Object.keys(opts)[0]);
    }
    const token = 'é'.repeat(512); // 1024 bytes: the longest allowed
    const tokened = await startedServer(dict(), { token });
    const store = client(tokened.address, { token });
    later(() => store.close());
    await store.append({ k: Buffer.from('v') });
    expect(Buffer.from(await store.get('k')).toString()).toBe('v');
  });
});

describe('idle connections', () => {
  it('closes a connection idle for idleTimeoutMs, but not one that holds the lock, a cursor or a running request', async () => {
    const served = new GatedDict();
    for (let i = 0; i < 3; i++) await served.append({ chunks: Buffer.alloc(MiB, i) });
    const server = await startedServer(served, { idleTimeoutMs: 300 });
    const steady = servedThroughout(server.address);
    const started = performance.now();
    const idle = await greeted(server.address);

    // A cursor left open for longer than the timeout.
    const reading = await greeted(server.address);
    reading.send({ id: 2, op: 'iter', key: 'chunks' });
    const { cursor } = (await reading.reply(2)).header;
    expect(cursor).toBeDefined();

    // A request the store takes longer than the timeout to answer.
    served.shut();
    const waiting = await greeted(server.address);
    waiting.send({ id: 2, op: 'get', keys: ['slow'] });

    // A withLock section that does nothing for longer than the timeout.
    const holder = client(server.address);
    later(() => holder.close());
    const section = holder.withLock(async () => {
      await holder.iset('l', Buffer.from('a'));
      await sleep(800);
      await holder.iset('m', Buffer.from('b'));
    });

    await Promise.race([idle.closed, sleep(3000).then(() => Promise.reject(new Error('the idle connection was not closed')))]);
    expect(performance.now() - started).toBeGreaterThanOrEqual(250);
    const error = idle.replies.find((reply) => reply.header.id === 0)!.header.error as { code: string; message: string };
    expect(error.code).toBe('ERR_CONNECTION');
    expect(error.message).toContain('idleTimeoutMs');

    await section;
    expect(Buffer.from(await holder.iget('m')).toString()).toBe('b');
    expect(performance.now() - started).toBeGreaterThan(800);
    expect(server.stats().timedOut).toBe(1);
    served.open();
    expect(await waiting.errorCode(2)).toBeUndefined();
    reading.send({ id: 3, op: 'iter', cursor });
    expect((await reading.reply(3)).payloads[0].byteLength).toBe(MiB);
    expect([reading.isClosed, waiting.isClosed]).toEqual([false, false]);

    // A client whose connection was closed for idleness connects again for its next call.
    const quiet = client(server.address);
    later(() => quiet.close());
    await quiet.append({ q: Buffer.from('1') });
    await sleep(700);
    await quiet.append({ q: Buffer.from('2') });
    expect(Buffer.from(await quiet.get('q')).toString()).toBe('12');
    expect(server.stats().timedOut).toBeGreaterThanOrEqual(2);
    await steady.check();
  });
});

describe('bytes received after hello', () => {
  it('counts a frame being received, and stops reading a connection over its bound until it drains', async () => {
    const served = new GatedDict();
    const server = await startedServer(served, { maxConnectionBytes: MiB });
    const steady = servedThroughout(server.address);
    const peer = await greeted(server.address);
    const frame = (id: number) => Buffer.concat(encodeFrame({ id, op: 'append', keys: ['k'] }, [Buffer.alloc(512 * KiB, id)]));
    peer.sendBytes(frame(2).subarray(0, 256 * KiB));
    // Before: a partly received frame counted nowhere.
    await until(() => server.stats().bytesInFlight >= 256 * KiB, 2000, 'the partial frame to be counted');
    served.shut();
    peer.sendBytes(frame(2).subarray(256 * KiB));
    for (let id = 3; id < 12; id++) peer.sendBytes(frame(id));
    await until(() => server.stats().pausedConnections === 1, 2000, 'the connection to be paused');
    expect(server.stats().peakBytesInFlight).toBeLessThan(MiB + 128 * KiB);
    served.open();
    for (let id = 2; id < 12; id++) expect(await peer.errorCode(id)).toBeUndefined();
    expect(served.sizeOf('k')).toBe(10 * 512 * KiB);
    await steady.check();
    await until(() => server.stats().bytesInFlight === 0 && server.stats().pausedConnections === 0);
  });
});
