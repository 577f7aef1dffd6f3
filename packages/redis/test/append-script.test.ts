/**
 * redis()'s append script (scripts.ts) called directly, on a real
 * redis-server, with the arguments a store sends: each reply (1 applied, 0
 * applied before, -1 an earlier append has not landed, -2 the key does not
 * know the producer, -3 fenced out) and what the key holds after it. The
 * store's reading of those replies is in append-replies.test.ts.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Connection, withScripts } from '../src/scripts.js';
import { singleServer } from './fixtures/servers.js';

const server = await singleServer();
/** Appends name the fencing counter (a single server's scripts). */
let single: Connection;
/** Appends do not name it (as on a cluster, where a script reaches only its key's slot). */
let slotOnly: Connection;

beforeAll(() => {
  const port = server.nodes[0].port;
  single = withScripts(new Redis({ host: '127.0.0.1', port }), true);
  slotOnly = withScripts(new Redis({ host: '127.0.0.1', port }), false);
});
afterAll(async () => {
  await Promise.all([single?.quit(), slotOnly?.quit()]);
  await server.stop();
});

/** The names of one fresh key, and the namespace's fencing counter. */
function key() {
  const base = `lam:${randomUUID()}:{kk}:`;
  return { meta: `${base}m`, data: `${base}d`, counter: `lam:${randomUUID()}:{lock}:fence` };
}

/** One append as a single server's store sends it: producer, sequence, previous ('' none), segment size, fence ('' none), bytes. */
function append(names: ReturnType<typeof key>, producer: string, sequence: number, after: number | '', pieces: string[], fence: number | '' = '', segmentBytes = 1 << 20): Promise<number> {
  return single.laminateAppend(names.meta, names.data, names.counter, producer, sequence, after, segmentBytes, fence, ...pieces);
}

const cli = (...args: string[]) => server.nodes[0].cli(...args).trim();

describe('the append script', () => {
  it('applies a sequence once: the same command again, or an older one, answers 0 and appends nothing', async () => {
    const names = key();
    expect(await append(names, 'p', 1, '', ['a', 'b'])).toBe(1);
    expect(await append(names, 'p', 1, '', ['a', 'b'])).toBe(0);
    expect(await append(names, 'p', 2, 1, ['c'])).toBe(1);
    expect(await append(names, 'p', 1, '', ['a', 'b'])).toBe(0);
    expect(await append(names, 'p', 2, 1, ['c'])).toBe(0);
    expect(cli('GET', names.data)).toBe('abc');
    expect(cli('HGET', names.meta, 'p:p')).toBe('2');
  });

  it('keeps each producer\'s sequences apart', async () => {
    const names = key();
    expect(await append(names, 'p', 5, '', ['p5'])).toBe(1);
    expect(await append(names, 'q', 1, '', ['q1'])).toBe(1);
    expect(await append(names, 'q', 2, 1, ['q2'])).toBe(1);
    expect(await append(names, 'p', 6, 5, ['p6'])).toBe(1);
    expect(cli('GET', names.data)).toBe('p5q1q2p6');
  });

  it('refuses (-1) an append whose previous one has not landed, and takes it once that one has, in the producer\'s order', async () => {
    const names = key();
    expect(await append(names, 'p', 1, '', ['1'])).toBe(1);
    expect(await append(names, 'p', 3, 2, ['3'])).toBe(-1);
    expect(cli('GET', names.data)).toBe('1');
    expect(cli('HGET', names.meta, 'p:p')).toBe('1');
    expect(await append(names, 'p', 2, 1, ['2'])).toBe(1);
    expect(await append(names, 'p', 3, 2, ['3'])).toBe(1);
    expect(cli('GET', names.data)).toBe('123');
  });

  it('answers -2 when the key has no record of the producer but the append names an earlier one; the same append naming none is applied', async () => {
    const names = key();
    expect(await append(names, 'p', 5, 4, ['x'])).toBe(-2);
    expect(cli('EXISTS', names.data)).toBe('0');
    expect(cli('EXISTS', names.meta)).toBe('0');
    expect(await append(names, 'p', 5, '', ['x'])).toBe(1);
    expect(cli('GET', names.data)).toBe('x');
  });

  it('splits bytes into segments of segmentBytes, carrying on in the last one, and records their count', async () => {
    const names = key();
    expect(await append(names, 'p', 1, '', ['abcdefghij'], '', 4)).toBe(1);
    expect([cli('GET', names.data), cli('GET', `${names.data}:1`), cli('GET', `${names.data}:2`)]).toEqual(['abcd', 'efgh', 'ij']);
    expect(cli('HGET', names.meta, 'n')).toBe('3');
    expect(await append(names, 'p', 2, 1, ['kl', 'mnop', 'q'], '', 4)).toBe(1);
    expect([cli('GET', `${names.data}:2`), cli('GET', `${names.data}:3`), cli('GET', `${names.data}:4`)]).toEqual(['ijkl', 'mnop', 'q']);
    expect(cli('HGET', names.meta, 'n')).toBe('5');
  });

  it('keeps a single segment without recording a count, and an empty value still makes the key', async () => {
    const names = key();
    expect(await append(names, 'p', 1, '', [''])).toBe(1);
    expect(cli('EXISTS', names.data)).toBe('1');
    expect(cli('STRLEN', names.data)).toBe('0');
    expect(await append(names, 'p', 2, 1, ['abcd'], '', 4)).toBe(1);
    expect(cli('GET', names.data)).toBe('abcd');
    expect(cli('HEXISTS', names.meta, 'n')).toBe('0');
  });
});

describe('the append script: fencing', () => {
  it('on a single server, refuses (-3) a token lower than the counter, storing nothing; a token as high applies and becomes the key\'s newest', async () => {
    const names = key();
    cli('SET', names.counter, '5');
    expect(await append(names, 'p', 1, '', ['old'], 4)).toBe(-3);
    expect(cli('EXISTS', names.data)).toBe('0');
    expect(cli('HEXISTS', names.meta, 'p:p')).toBe('0');
    expect(await append(names, 'p', 1, '', ['new'], 5)).toBe(1);
    expect(cli('HGET', names.meta, 'f')).toBe('5');
    // Outside any section: never refused, and the newest token stays.
    expect(await append(names, 'q', 1, '', ['free'])).toBe(1);
    expect(cli('HGET', names.meta, 'f')).toBe('5');
    expect(cli('GET', names.data)).toBe('newfree');
  });

  it('without the counter (a cluster\'s script), refuses a token lower than the newest that wrote the key', async () => {
    const names = key();
    const send = (producer: string, fence: number) => slotOnly.laminateAppend(names.meta, names.data, producer, 1, '', 1 << 20, fence, `${producer}${fence}`);
    // The counter is not read: 9 there does not refuse token 1.
    cli('SET', names.counter, '9');
    expect(await send('a', 1)).toBe(1);
    expect(await send('b', 3)).toBe(1);
    expect(await send('c', 2)).toBe(-3);
    expect(await send('d', 3)).toBe(1);
    expect(cli('GET', names.data)).toBe('a1b3d3');
    expect(cli('HGET', names.meta, 'f')).toBe('3');
  });

  it('answers 0, not -3, to a resent append that landed before its section was overtaken', async () => {
    const names = key();
    cli('SET', names.counter, '1');
    expect(await append(names, 'p', 1, '', ['x'], 1)).toBe(1);
    cli('INCR', names.counter);
    expect(await append(names, 'p', 1, '', ['x'], 1)).toBe(0);
    expect(await append(names, 'p', 2, 1, ['y'], 1)).toBe(-3);
    expect(cli('GET', names.data)).toBe('x');
  });
});

describe('the shared append script (several keys, one server)', () => {
  it('applies each key on its own: one key waits (-1), another already applied answers 0, a third applies', async () => {
    const [a, b, c] = [key(), key(), key()];
    const counter = a.counter;
    expect(await append(a, 'p', 1, '', ['a1'])).toBe(1);
    expect(await append(b, 'p', 1, '', ['b1'])).toBe(1);
    // Names: the counter, then each key's meta and data. Args: producer, fence, segment size, then per key
    // its sequence, previous, the number of byte arguments and those.
    const replies = await single.laminateAppendMany(7, counter, a.meta, a.data, b.meta, b.data, c.meta, c.data, 'p', '', 1 << 20, 3, 2, 1, 'a3', 1, '', 1, 'b1', 4, '', 2, 'c', '4');
    expect(replies).toEqual([-1, 0, 1]);
    expect(cli('GET', a.data)).toBe('a1');
    expect(cli('GET', b.data)).toBe('b1');
    expect(cli('GET', c.data)).toBe('c4');
  });

  it('refuses every key of a section overtaken on the counter', async () => {
    const [a, b] = [key(), key()];
    cli('SET', a.counter, '2');
    const replies = await single.laminateAppendMany(5, a.counter, a.meta, a.data, b.meta, b.data, 'p', 1, 1 << 20, 1, '', 1, 'a', 2, '', 1, 'b');
    expect(replies).toEqual([-3, -3]);
    expect([cli('EXISTS', a.data), cli('EXISTS', b.data)]).toEqual(['0', '0']);
  });
});
