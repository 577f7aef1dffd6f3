/**
 * follow() over client(): the server answers each piece as it lands, one
 * piece per request, so a stalled follower does not grow the server's memory;
 * a follower keeps its place across dropped connections; seal() travels.
 */
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DictStore, file, msgpack } from '@laminate/core';
import type { KeyId } from '@laminate/core/layer';
import { client } from '@laminate/net';
import { describe, expect, it } from 'vitest';
import { harness, sleep } from './fixtures/harness.js';
import { CuttingProxy } from './fixtures/proxy.js';

const { later, startedServer, tempDir } = harness();
const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '..', '..', '..');
const CORE_FIXTURES = join(ROOT, 'packages', 'core', 'test', 'fixtures');
const MiB = 1 << 20;

/** A dict() that counts the bytes it reads for followers: what the server fetched for them. */
class ReadCountingDict extends DictStore {
  followedBytes = 0;
  override async readFollowedId(id: KeyId, offset: number, max: number): Promise<Uint8Array> {
    const bytes = await super.readFollowedId(id, offset, max);
    this.followedBytes += bytes.byteLength;
    return bytes;
  }
}

async function until(test: () => boolean | Promise<boolean>): Promise<void> {
  while (!(await test())) await sleep(5);
}

describe('follow() over client()', () => {
  it('follows what another process appends to the served file() store, through connections cut again and again, each value once and in order', async () => {
    const dir = tempDir();
    const server = await startedServer(file(dir));
    const proxy = await CuttingProxy.start(server.address);
    later(() => proxy.close());
    const store = msgpack(client(proxy.address));
    later(() => store.close());

    const count = 1000;
    const producer = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', join(CORE_FIXTURES, 'stream-producer.ts'), dir, String(count)], { cwd: ROOT, stdio: 'pipe' });
    later(() => void producer.kill('SIGKILL'));
    let err = '';
    producer.stderr!.on('data', (chunk) => (err += chunk));
    const produced = new Promise<number | null>((resolve) => producer.on('close', resolve));

    const received: number[] = [];
    const follower = store.follow('stream');
    const reading = (async () => {
      for await (const [i] of follower) received.push(i as number);
    })();
    // Cut the connection each time another 100 values have arrived, once the client has connected again
    // (one reply may carry many values, so a threshold can pass while no connection is open).
    let cuts = 0;
    const done = () => received.length >= count;
    while (!done()) {
      await until(() => done() || (received.length >= (cuts + 1) * 100 && proxy.connections > cuts));
      if (done()) break;
      proxy.cut();
      cuts++;
    }
    expect(await produced, err).toBe(0);
    await reading;
    expect(received).toEqual([...Array(count).keys()]);
    expect(follower.endedBy).toBe('sealed');
    expect(cuts).toBeGreaterThanOrEqual(1);
    expect(proxy.connections).toBeGreaterThan(cuts);
  }, 120_000);

  it('a stalled follower does not grow the server: the producer keeps appending, the server holds at most a piece for it', async () => {
    const served = new ReadCountingDict();
    const server = await startedServer(served, { maxConnectionBytes: 8 * MiB, maxTotalBytes: 16 * MiB });
    const consumer = client(server.address);
    const producer = client(server.address);
    later(
      () => consumer.close(),
      () => producer.close(),
    );
    const value = Buffer.alloc(64 << 10, 7);
    await producer.append({ s: value });
    const iterator = consumer.follow('s')[Symbol.asyncIterator]();
    const first = await iterator.next();
    expect(first.value.byteLength).toBe(value.byteLength);

    // The consumer takes nothing more while 48 MiB are appended: three times what the server may hold in all.
    for (let i = 0; i < 768; i++) await producer.append({ s: value });
    await producer.seal('s');
    // The follower asked for one piece ahead of the consumer and no more: the server read the piece taken and at
    // most one more (up to 1 MiB), however much was appended, and it is answered (or waiting) already.
    await until(() => served.followedBytes > value.byteLength);
    expect(served.followedBytes).toBeLessThanOrEqual(value.byteLength + MiB);
    const stats = server.stats();
    expect(stats.peakBytesInFlight).toBeLessThanOrEqual(16 * MiB);
    // Nothing is queued for the stalled follower beyond the one piece it asked for.
    expect(stats.bytesInFlight).toBeLessThanOrEqual(MiB + 4096);
    const readWhileStalled = served.followedBytes;
    await sleep(50);
    expect(served.followedBytes).toBe(readWhileStalled);

    let bytes = first.value.byteLength;
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) bytes += next.value.byteLength;
    expect(bytes).toBe(769 * value.byteLength);
    expect(served.followedBytes).toBe(769 * value.byteLength);
  }, 120_000);

  it("seal() and from: 'end' go to the server; an AbortSignal ends a waiting remote follower", async () => {
    const server = await startedServer(new DictStore());
    const store = msgpack(client(server.address));
    later(() => store.close());
    await store.append({ k: [1] });
    const late = store.follow('k', { from: 'end' });
    const values = (async () => {
      const out: unknown[] = [];
      for await (const value of late) out.push(value);
      return out;
    })();
    await until(() => late.position !== undefined);
    await store.append({ k: [2] });
    await store.seal('k');
    expect(await values).toEqual([[2]]);

    const controller = new AbortController();
    const waiting = (async () => {
      for await (const _ of store.follow('other', { signal: controller.signal })) void _;
    })();
    setTimeout(() => controller.abort(), 20);
    await expect(waiting).rejects.toMatchObject({ code: 'ERR_ABORTED' });
  }, 60_000);
});
