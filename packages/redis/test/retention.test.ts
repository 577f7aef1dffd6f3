/**
 * Retention over redis(), on a single server and on a 3-master cluster:
 * consumer positions kept in Redis, trimming a key (split into segments)
 * from the front in one script, positions that stay absolute, ERR_TRIMMED,
 * and a consumer that trims as it commits while a producer process appends.
 */
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { rejection } from '@laminate/core/testing';
import { type RedisStore, type RedisStoreOptions, redis } from '@laminate/redis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { spawnFixture } from '../../core/test/fixtures/spawn.js';
import { type Servers, cluster, singleServer } from './fixtures/servers.js';

const STREAMER = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'streamer.ts');

const [single, masters] = await Promise.all([singleServer(), cluster(3)]);
afterAll(async () => {
  await Promise.all([single.stop(), masters.stop()]);
});

const stores: RedisStore[] = [];
const children: ChildProcess[] = [];
afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const store of stores.splice(0)) await store.close();
});

const targets: [string, Servers, (namespace: string, opts: RedisStoreOptions) => RedisStore][] = [
  ['one server', single, (namespace, opts) => redis(`${single.url}/${namespace}`, opts)],
  ['a 3-master cluster', masters, (namespace, opts) => redis({ cluster: masters.urls, namespace }, opts)],
];

const text = (bytes: Uint8Array) => Buffer.from(bytes).toString();

for (const [name, servers, open] of targets) {
  describe(`redis() retention on ${name}`, () => {
    function store(namespace: string = randomUUID(), opts: RedisStoreOptions = {}): RedisStore {
      const made = open(namespace, opts);
      stores.push(made);
      return made;
    }
    /** The names of key `k`'s segments in Redis, wherever its slot is. */
    function segments(ns: string): string[] {
      return servers.nodes.flatMap((node) => node.cli('--scan', '--pattern', `lam:${ns}:{kk}:d*`).trim().split('\n').filter(Boolean)).sort();
    }

    it('keeps consumers’ positions in Redis: commits only move forward, none past the end; forget removes one', async () => {
      const s = store();
      await s.append({ k: Buffer.from('0123456789') });
      await s.commit('k', 'indexer', 4);
      await s.commit('k', 'indexer', 2);
      await s.commit('k', 'archiver', 10);
      const other = store(s.settings.namespace);
      expect(await other.consumers('k')).toEqual([
        { consumer: 'archiver', position: 10 },
        { consumer: 'indexer', position: 4 },
      ]);
      const error = await rejection(other.commit('k', 'indexer', 11));
      expect(error.code).toBe('ERR_INVALID_OPTION');
      expect(error.message).toContain('past the end');
      await other.forget('k', 'archiver');
      expect(await s.consumers('k')).toEqual([{ consumer: 'indexer', position: 4 }]);
    });

    it('trims a key split into segments from the front in one script: positions stay absolute, get() returns what is left', async () => {
      const s = store(undefined, { segmentBytes: 10 });
      const ns = s.settings.namespace;
      const all = 'abcdefghijklmnopqrstuvwxyz0123456789';
      await s.append({ k: Buffer.from(all.slice(0, 20)) });
      await s.append({ k: Buffer.from(all.slice(20)) });
      expect(segments(ns)).toHaveLength(4);
      // Two whole segments and part of the third go: the rest is renamed down and the first kept one rewritten.
      await s.trim('k', 23);
      expect(await s.startOf('k')).toBe(23);
      expect(text(await s.get('k'))).toBe(all.slice(23));
      expect(segments(ns)).toHaveLength(2);
      expect(text((await s.readRanges([{ key: 'k', offset: 2, length: 5 }]))[0])).toBe(all.slice(25, 30));
      // Followers count positions from the key's first byte ever: from 30 reads what follows 30.
      const from30 = s.follow('k', { from: 30, idleTimeoutMs: 50 });
      const pieces: string[] = [];
      for await (const piece of from30) pieces.push(text(piece));
      expect(pieces.join('')).toBe(all.slice(30));
      expect(from30.position).toBe(36);
      // A follower from the start begins at the start; one from before it is ERR_TRIMMED, which names the start.
      const fromStart = s.follow('k', { idleTimeoutMs: 50 });
      const again: string[] = [];
      for await (const piece of fromStart) again.push(text(piece));
      expect(again.join('')).toBe(all.slice(23));
      const trimmed = await rejection((async () => {
        for await (const _ of s.follow('k', { from: 5 })) void _;
      })());
      expect(trimmed.code).toBe('ERR_TRIMMED');
      expect((trimmed as unknown as { start: number }).start).toBe(23);
      // A follower from the end starts at the end as a position; appends go on after a trim, and the seal is a position too.
      const fromEnd = s.follow('k', { from: 'end' });
      const late = (async () => {
        for await (const piece of fromEnd) return text(piece);
      })();
      // The follower knows where the end is once it has started reading.
      while (fromEnd.position === undefined) await new Promise((resolve) => setTimeout(resolve, 5));
      expect(fromEnd.position).toBe(36);
      await s.append({ k: Buffer.from('!') });
      expect(await late).toBe('!');
      expect(fromEnd.position).toBe(37);
      await s.seal('k');
      expect(await s.sealedId('k')).toBe(37);
      // Trimming everything keeps the key listed, empty, at its position.
      await s.trim('k', 37);
      expect(text(await s.get('k'))).toBe('');
      expect(await s.keys()).toEqual(['k']);
      expect(await s.startOf('k')).toBe(37);
      // Past the end is refused, and so is a position before the start (nothing to do there).
      expect((await rejection(s.trim('k', 38))).code).toBe('ERR_INVALID_OPTION');
      await s.trim('k', 10);
      expect(await s.startOf('k')).toBe(37);
    });

    it('trim() without a position goes to the lowest committed position, never past a registered consumer; delete() forgets start and consumers', async () => {
      const s = store();
      await s.append({ k: Buffer.from('0123456789') });
      await s.trim('k');
      expect(await s.startOf('k')).toBe(0);
      await s.commit('k', 'a', 6);
      await s.commit('k', 'b', 3);
      await s.trim('k');
      expect(await s.startOf('k')).toBe(3);
      const refused = await rejection(s.trim('k', 5));
      expect(refused.code).toBe('ERR_INVALID_OPTION');
      expect(refused.message).toContain('"b" at 3');
      expect(text(await s.get('k'))).toBe('3456789');
      await s.delete(['k']);
      expect(await s.startOf('k')).toBe(0);
      expect(await s.consumers('k')).toEqual([]);
      await s.append({ k: Buffer.from('new') });
      expect(text(await s.get('k'))).toBe('new');
    });

    it('a consumer that trims as it commits, while a producer process appends: every value once and in order, and the key stays short', async () => {
      const s = store(undefined, { segmentBytes: 64 });
      const producer = spawnFixture(STREAMER, ['produce', JSON.stringify(s.describe()), 'stream', 'p', '600'], children);
      const follower = s.follow('stream', { consumer: 'reader', trim: true });
      let seen = '';
      for await (const piece of follower) {
        seen += text(piece);
        await follower.commit();
      }
      await producer.ended;
      expect(seen).toBe(Array.from({ length: 600 }, (_, i) => `p:${i}|`).join(''));
      expect(follower.endedBy).toBe('sealed');
      expect(await s.consumers('stream')).toEqual([{ consumer: 'reader', position: seen.length }]);
      expect(await s.startOf('stream')).toBe(seen.length);
      expect((await s.get('stream')).byteLength).toBe(0);
      // A consumer resumes from its committed position: nothing is left to read.
      const resumed = s.follow('stream', { consumer: 'reader' });
      for await (const piece of resumed) throw new Error(`read ${text(piece)} again`);
      expect(resumed.endedBy).toBe('sealed');
    }, 120_000);

    it('a consumer process killed with SIGKILL is resumed by another from its committed position: every value once, in order', async () => {
      const s = store();
      const spec = JSON.stringify(s.describe());
      const value = (i: number) => Buffer.from(`p:${i}|`);
      for (let i = 0; i < 400; i++) await s.append({ stream: value(i) });
      // The first consumer takes one piece, commits it (and so trims), then holds still until killed.
      const first = spawnFixture(STREAMER, ['consume', spec, 'stream', 'reader', '1'], children);
      for (;;) {
        const piece = first.lines.find((l) => l.startsWith('piece '));
        // Committed, then trimmed to the lowest commit (its own): the key's start is where it stands.
        if (piece !== undefined && (await s.startOf('stream')) === Number(piece.split(' ')[1])) break;
        if (first.process.exitCode !== null) throw new Error(`the first consumer ended: ${first.stderr()}`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      first.process.kill('SIGKILL');
      await first.done;
      const before = first.lines.filter((l) => l.startsWith('piece ')).map((l) => l.split(' ')[2]);
      expect(await s.consumers('stream')).toEqual([{ consumer: 'reader', position: await s.startOf('stream') }]);
      for (let i = 400; i < 800; i++) await s.append({ stream: value(i) });
      await s.seal('stream');
      const second = spawnFixture(STREAMER, ['consume', spec, 'stream', 'reader'], children);
      const lines = await second.ended;
      const after = lines.filter((l) => l.startsWith('piece ')).map((l) => l.split(' ')[2]);
      expect([...before, ...after].join('')).toBe(Array.from({ length: 800 }, (_, i) => `p:${i}|`).join(''));
      expect(lines.at(-1)).toBe(`end sealed ${(await s.sealedId('stream'))!}`);
    }, 120_000);
  });
}
