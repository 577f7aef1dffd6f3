/**
 * log() as a stream: seals are records in the log, so every process sees
 * them, they survive a reopen, a SIGKILL once acknowledged, and compaction,
 * and a delete or drop takes them back; the first seal committed wins when
 * processes race; followers in other processes learn of appends from a watch
 * of the commit log (a follower whose poll is an hour still gets every value).
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type LogStore, buffer, dict, log, msgpack } from '@laminate/core';
import { rejection, tempDirs } from '@laminate/core/testing';
import { processScope } from './fixtures/spawn.js';

const tempDir = tempDirs('laminate-log-streams-test-', afterAll);
const { fixture, track } = processScope();

const bytes = (text: string) => Buffer.from(text);
const text = (value: Uint8Array) => Buffer.from(value).toString();
const segments = (dir: string) => fs.readdirSync(dir).filter((name) => name.endsWith('.seg')).sort();

async function collect<V>(iterable: AsyncIterable<V>): Promise<V[]> {
  const out: V[] = [];
  for await (const value of iterable) out.push(value);
  return out;
}

/** Waits for something a child process prints (an observable event, checked every few ms). */
async function until(test: () => boolean): Promise<void> {
  while (!test()) await new Promise((resolve) => setTimeout(resolve, 5));
}

/** Follows `key` of `store` to its sealed end: the bytes, where it ended, and why. */
async function followToEnd(store: LogStore, key: string): Promise<{ text: string; position: number | undefined; endedBy: string | undefined }> {
  const follower = store.follow(key, { idleTimeoutMs: 60_000 });
  const pieces = await collect(follower);
  return { text: pieces.map(text).join(''), position: follower.position, endedBy: follower.endedBy };
}

describe('log(): seals in one process', () => {
  it('seals at the length the key has when the seal is committed; a second seal changes nothing; appends after it are not followed', async () => {
    const store = track(log(tempDir()));
    await store.append({ k: bytes('ab') });
    await store.append({ k: bytes('cd') });
    await store.seal('k');
    await store.append({ k: bytes('ef') });
    await store.seal('k');
    expect(text(await store.get('k'))).toBe('abcdef');
    expect(await followToEnd(store, 'k')).toEqual({ text: 'abcd', position: 4, endedBy: 'sealed' });
    // From a position past the seal, a follower ends at once.
    const late = store.follow('k', { from: 6 });
    expect(await collect(late)).toEqual([]);
    expect(late.endedBy).toBe('sealed');
  });

  it('a key never written can be sealed (at 0); its followers end at once and keys() does not list it', async () => {
    const store = track(log(tempDir()));
    await store.seal('nothing');
    expect(await followToEnd(store, 'nothing')).toEqual({ text: '', position: 0, endedBy: 'sealed' });
    expect(await store.keys()).toEqual([]);
  });

  it('a follower waiting for values ends when another store of the same directory seals the key', async () => {
    const dir = tempDir();
    const reader = track(log(dir));
    const writer = track(log(dir));
    await writer.append({ k: bytes('12') });
    const follower = reader.follow('k', { idleTimeoutMs: 60_000 });
    const pieces = collect(follower);
    await writer.append({ k: bytes('34') });
    await writer.seal('k');
    await writer.append({ k: bytes('56') });
    expect((await pieces).map(text).join('')).toBe('1234');
    expect(follower.endedBy).toBe('sealed');
    expect(follower.position).toBe(4);
  });

  it('delete() takes the seal back, so the key written again is a new stream; drop() takes back every seal', async () => {
    const dir = tempDir();
    const store = track(log(dir));
    const other = track(log(dir));
    await store.append({ a: bytes('old'), b: bytes('bee') });
    await store.seal('a');
    await store.seal('b');
    // Deleted in another store of the directory: a tombstone committed after the seal.
    await other.delete(['a']);
    await store.append({ a: bytes('new') });
    const unsealed = store.follow('a', { idleTimeoutMs: 300 });
    expect((await collect(unsealed)).map(text).join('')).toBe('new');
    expect(unsealed.endedBy).toBe('idle');
    await store.seal('a');
    expect(await followToEnd(store, 'a')).toEqual({ text: 'new', position: 3, endedBy: 'sealed' });
    // A sealed key holding nothing is deleted too: its seal goes.
    await store.seal('empty');
    await store.delete(['empty']);
    await store.append({ empty: bytes('x') });
    const idle = store.follow('empty', { idleTimeoutMs: 300 });
    expect((await collect(idle)).map(text)).toEqual(['x']);
    expect(idle.endedBy).toBe('idle');
    // pop() deletes: the seal goes with the values.
    expect(text(await store.pop('b'))).toBe('bee');
    await store.append({ b: bytes('again') });
    const popped = store.follow('b', { idleTimeoutMs: 300 });
    expect((await collect(popped)).map(text)).toEqual(['again']);
    expect(popped.endedBy).toBe('idle');
    await store.seal('a2');
    await other.drop();
    await store.append({ a: bytes('after drop'), a2: bytes('!') });
    for (const key of ['a', 'a2']) {
      const follower = store.follow(key, { idleTimeoutMs: 300 });
      await collect(follower);
      expect(follower.endedBy).toBe('idle');
    }
    await store.close();
    await other.close();
    // Reopened, the directory remembers the same: no seal on 'a'.
    const reopened = track(log(dir));
    const follower = reopened.follow('a', { idleTimeoutMs: 300 });
    expect((await collect(follower)).map(text)).toEqual(['after drop']);
    expect(follower.endedBy).toBe('idle');
  });

  it('buffer(dict(), log()) keeps its seal in log() at its own length, which a reopened log() finds', async () => {
    const dir = tempDir();
    const spilled = buffer(dict(), log(dir), { availableMemory: 1 << 20 });
    await spilled.append({ k: bytes('in memory') });
    await spilled.seal('k');
    await spilled.close();
    const store = track(log(dir));
    expect(await followToEnd(store, 'k')).toEqual({ text: 'in memory', position: 9, endedBy: 'sealed' });
  });

  it('msgpack(log()) followers decode each value and end at the seal', async () => {
    const store = track(msgpack(log(tempDir())));
    await store.append({ k: [1] });
    const follower = store.follow('k', { idleTimeoutMs: 60_000 });
    const values = collect(follower);
    await store.append({ k: [2] });
    await store.seal('k');
    await store.append({ k: [3] });
    expect(await values).toEqual([[1], [2]]);
    expect(follower.endedBy).toBe('sealed');
  });
});

describe('log(): seals that last', () => {
  it('survive a reopen, a checkpoint, and compaction, which copies the seal out of a segment it removes', async () => {
    const dir = tempDir();
    const writer = track(log(dir));
    await writer.append({ k: bytes('kept;') });
    for (let i = 0; i < 20; i++) await writer.append({ filler: Buffer.alloc(4096, 0x66) });
    await writer.seal('k');
    await writer.append({ k: bytes('after;') });
    await writer.close();
    // A process that stays open across the compaction reads the copies from the commit log, not a checkpoint.
    const watcher = track(log(dir));
    expect(await followToEnd(watcher, 'k')).toEqual({ text: 'kept;', position: 5, endedBy: 'sealed' });
    const compactor = track(log(dir));
    const before = segments(dir);
    await compactor.delete(['filler']);
    const result = await compactor.compact();
    expect(result.removed).toBeGreaterThan(0);
    // The writer's segment, which held the seal's record, is gone from disk.
    expect(segments(dir)).not.toContain(before[0]);
    for (const store of [compactor, watcher]) {
      expect(await followToEnd(store, 'k')).toEqual({ text: 'kept;', position: 5, endedBy: 'sealed' });
      expect(text(await store.get('k'))).toBe('kept;after;');
    }
    await watcher.close();
    await compactor.close();
    const reopened = track(log(dir));
    expect(await followToEnd(reopened, 'k')).toEqual({ text: 'kept;', position: 5, endedBy: 'sealed' });
    await reopened.checkpoint();
    await reopened.close();
    const fromCheckpoint = track(log(dir));
    expect(fromCheckpoint.stats().checkpointPosition).toBeGreaterThan(0);
    expect(await followToEnd(fromCheckpoint, 'k')).toEqual({ text: 'kept;', position: 5, endedBy: 'sealed' });
    // The seal's record is live, as the values' are: 32-byte headers, the key, the values 'kept;' and 'after;'.
    const live = () => fromCheckpoint.stats().segmentBytes - fromCheckpoint.stats().garbageBytes;
    expect(live()).toBe(3 * 33 + 5 + 6);
    // Deleted, the key leaves nothing live: its seal's record is garbage for compact() to give back.
    await fromCheckpoint.delete(['k']);
    expect(live()).toBe(0);
  });

  it('an acknowledged seal survives SIGKILL of its writer, and compaction of the dead writer segment', async () => {
    const dir = tempDir();
    const writer = fixture('log-seal-kill.ts', [dir, '50', '40']);
    await until(() => writer.lines.some((line) => line.startsWith('after 20')));
    writer.process.kill('SIGKILL');
    await rejection(writer.ended);
    const expected = Array.from({ length: 50 }, (_, i) => `${i};`).join('');
    const store = track(log(dir));
    expect(await followToEnd(store, 'k')).toEqual({ text: expected, position: expected.length, endedBy: 'sealed' });
    // The values appended after the seal are stored (get reads them) but are not part of the stream.
    const all = text(await store.get('k'));
    expect(all.startsWith(`${expected}after0;`)).toBe(true);
    const acknowledged = writer.lines.filter((line) => line.startsWith('after ')).length;
    expect(all.split('after').length - 1).toBeGreaterThanOrEqual(acknowledged);
    // The writer is gone: compaction copies its live values and its seal, and removes its segment.
    const [written] = segments(dir);
    await store.delete(['filler']);
    const result = await store.compact();
    expect(result.removed).toBeGreaterThan(0);
    expect(segments(dir)).not.toContain(written);
    await store.close();
    const reopened = track(log(dir));
    expect(await followToEnd(reopened, 'k')).toEqual({ text: expected, position: expected.length, endedBy: 'sealed' });
    expect(text(await reopened.get('k'))).toBe(all);
  }, 120_000);
});

describe('log(): streams across processes', () => {
  it('a producer process appends and seals; followers started early (notified only: its poll is an hour), late, and resumed after SIGKILL each get every value once, in order, and end sealed', async () => {
    const dir = tempDir();
    const count = 2000;
    // The directory exists before the followers open it, so that no process races to make it.
    const store = track(log(dir));
    const producer = fixture('log-stream-producer.ts', [dir, String(count)]);
    const early = fixture('log-stream-follower.ts', [dir, 'start', String(3_600_000)]);
    const killed = fixture('log-stream-follower.ts', [dir, 'start', '-', '300']);
    await until(() => killed.lines.length >= 300);
    killed.process.kill('SIGKILL');
    await rejection(killed.ended);
    const acknowledged = killed.lines.filter((line) => line.startsWith('value '));
    const resumeFrom = acknowledged.at(-1)!.split(' ')[2];
    const resumed = fixture('log-stream-follower.ts', [dir, resumeFrom]);
    await until(() => producer.lines.some((line) => line.startsWith('at 1000')));
    const late = fixture('log-stream-follower.ts', [dir, 'start']);
    await producer.ended;
    const expected = [...Array(count).keys()].map(String);
    const values = (lines: string[]) => lines.filter((line) => line.startsWith('value ')).map((line) => line.split(' ')[1]);
    expect(values(await early.ended)).toEqual(expected);
    expect(values(await late.ended)).toEqual(expected);
    expect([...values(acknowledged), ...values(await resumed.ended)]).toEqual(expected);
    const length = (await store.get('stream')).byteLength;
    for (const follower of [early, late, resumed]) expect(follower.lines.at(-1)).toBe(`end sealed ${length}`);
  }, 180_000);

  it('two processes sealing at once: the first seal committed wins, and every process agrees where the stream ends', async () => {
    const dir = tempDir();
    track(log(dir));
    const go = join(tempDir(), 'go');
    const count = 200;
    const racers = ['a', 'b'].map((letter) => fixture('log-sealer.ts', [dir, letter, String(count), go]));
    await until(() => racers.every((racer) => racer.lines.includes('ready')));
    fs.writeFileSync(go, '');
    const reports = await Promise.all(racers.map(async (racer) => (await racer.ended).find((line) => line.startsWith('sealed '))!));
    // Both saw the same end, reached by the seal.
    expect(reports[0]).toBe(reports[1]);
    const [, position, endedBy] = reports[0].split(' ');
    expect(endedBy).toBe('sealed');
    const store = track(log(dir));
    const all = text(await store.get('race'));
    expect(all.length).toBe(4 * count);
    const stream = await followToEnd(store, 'race');
    expect(stream).toEqual({ text: all.slice(0, Number(position)), position: Number(position), endedBy: 'sealed' });
    // The winner's seal came after all of its own lowercase values and before its uppercase ones:
    // one racer has all its values before the end and none after; nothing after the seal is in the stream.
    const winners = ['a', 'b'].filter((letter) => [...stream.text].filter((c) => c === letter).length === count && !stream.text.includes(letter.toUpperCase()));
    expect(winners.length).toBeGreaterThanOrEqual(1);
    // Whatever the racers' appends were interleaved with, the stream is a prefix of what the key holds.
    expect(all.startsWith(stream.text)).toBe(true);
  }, 120_000);
});
