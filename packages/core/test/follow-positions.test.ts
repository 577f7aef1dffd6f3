/**
 * follow()'s loop over a bytes store, against a store whose bytes, seal and
 * watch the test holds in hand: where a follower starts ('start', 'end', a
 * position), the pieces and positions it yields, that it stops at the sealed
 * length (learned before or while it waits), idle and aborted ends, the frames
 * decoded from pieces that split them, the in-process change watch, memory
 * seals, and the server's one-step read (nextPiece). Options are checked
 * before anything is read.
 */
import { describe, expect, it } from 'vitest';
import { frame } from '../src/framing.js';
import { rejection, thrown } from '@laminate/core/testing';
import {
  FOLLOW_PIECE,
  type ChangeWatch,
  type FollowRequest,
  type FollowableBytes,
  type Followed,
  Follower,
  abortedError,
  changed,
  checkFollowOptions,
  followBytes,
  followFrames,
  nextPiece,
  notFollowable,
  pollingWatch,
  sealInMemory,
  sealedInMemory,
  throwIfAborted,
  unsealInMemory,
} from '../src/follow.js';
import { promiseState as state } from './fixtures/promise-state.js';

const text = (value: Uint8Array) => Buffer.from(value).toString();


/**
 * A bytes store in the test's hands: `bytes` is the key's content, `sealed`
 * its seal; appending and sealing wake the followers through changed(), as
 * the real stores do. Every read, length asked and watch opened is counted.
 */
class HeldBytes implements FollowableBytes {
  bytes = Buffer.alloc(0);
  sealed: number | undefined;
  closed = false;
  reads: { offset: number; max: number }[] = [];
  watches = 0;
  openWatches = 0;
  waits: number[] = [];
  lengthAsked = 0;

  append(text: string | Uint8Array): void {
    this.bytes = Buffer.concat([this.bytes, typeof text === 'string' ? Buffer.from(text) : text]);
    changed();
  }
  seal(at = this.bytes.byteLength): void {
    this.sealed ??= at;
    changed();
  }
  assertOpen(): void {
    if (this.closed) throw new Error('closed');
  }
  async readFollowedId(_id: string, offset: number, max: number): Promise<Uint8Array> {
    this.reads.push({ offset, max });
    return this.bytes.subarray(offset, offset + max);
  }
  watchId(_id: string, pollMs?: number): ChangeWatch {
    this.watches++;
    this.openWatches++;
    // A long poll unless the test asks: only changed() wakes the follower.
    const inner = pollingWatch(pollMs ?? 2 ** 31 - 1);
    return {
      next: (ms, signal) => {
        this.waits.push(ms);
        return inner.next(ms, signal);
      },
      close: () => {
        this.openWatches--;
        inner.close();
      },
    };
  }
  async sealedId(): Promise<number | undefined> {
    return this.sealed;
  }
  async lengthId(): Promise<number> {
    this.lengthAsked++;
    return this.bytes.byteLength;
  }
}

function request(from: FollowRequest['from'] = 0, more: Partial<FollowRequest> = {}): FollowRequest {
  return { from, idleTimeoutMs: Infinity, ...more };
}

async function collect<V>(iterable: AsyncIterable<V>): Promise<V[]> {
  const out: V[] = [];
  for await (const value of iterable) out.push(value);
  return out;
}

describe('follow() options', () => {
  it('fills in the defaults: from the start, never idle, the layer\'s own poll', () => {
    expect(checkFollowOptions(undefined)).toEqual({ from: 0, idleTimeoutMs: Infinity });
    expect(checkFollowOptions({})).toEqual({ from: 0, signal: undefined, idleTimeoutMs: Infinity, pollMs: undefined });
    expect(checkFollowOptions({ from: 'start' }).from).toBe(0);
    expect(checkFollowOptions({ from: 'end' }).from).toBe('end');
    const signal = new AbortController().signal;
    expect(checkFollowOptions({ from: 12, signal, idleTimeoutMs: 5, pollMs: 1 })).toEqual({ from: 12, signal, idleTimeoutMs: 5, pollMs: 1 });
    expect(checkFollowOptions({ from: 0, pollMs: 2 ** 31 - 1 }).pollMs).toBe(2 ** 31 - 1);
    expect(checkFollowOptions({ from: Number.MAX_SAFE_INTEGER }).from).toBe(Number.MAX_SAFE_INTEGER);
    expect(checkFollowOptions({ idleTimeoutMs: 0.5 }).idleTimeoutMs).toBe(0.5);
  });

  it('refuses what is not an option, each with ERR_INVALID_OPTION and a message naming the option', () => {
    const refused: [unknown, string][] = [
      [null, 'options must be an object'],
      ['start', 'options must be an object'],
      [5, 'options must be an object'],
      [{ from: -1 }, 'from must be'],
      [{ from: 1.5 }, 'from must be'],
      [{ from: Number.NaN }, 'from must be'],
      [{ from: 2 ** 53 }, 'from must be'],
      [{ from: '3' }, 'from must be'],
      [{ from: 'middle' }, 'from must be'],
      [{ signal: {} }, 'signal must be an AbortSignal'],
      [{ signal: null }, 'signal must be an AbortSignal'],
      [{ idleTimeoutMs: 0 }, 'idleTimeoutMs must be'],
      [{ idleTimeoutMs: -5 }, 'idleTimeoutMs must be'],
      [{ idleTimeoutMs: '100' }, 'idleTimeoutMs must be'],
      [{ idleTimeoutMs: null }, 'idleTimeoutMs must be'],
      [{ pollMs: 0 }, 'pollMs must be'],
      [{ pollMs: 0.5 }, 'pollMs must be'],
      [{ pollMs: 2 ** 31 }, 'pollMs must be'],
      [{ pollMs: '20' }, 'pollMs must be'],
      [{ pollMs: null }, 'pollMs must be'],
    ];
    for (const [options, message] of refused) {
      const error = thrown(() => checkFollowOptions(options as never));
      expect(error.code, JSON.stringify(options)).toBe('ERR_INVALID_OPTION');
      expect(error).toBeInstanceOf(TypeError);
      expect(error.message).toContain(message);
    }
  });

  it('says what aborted, what is not supported, and ends a call whose signal has aborted', () => {
    const controller = new AbortController();
    expect(() => throwIfAborted(undefined)).not.toThrow();
    expect(() => throwIfAborted(controller.signal)).not.toThrow();
    controller.abort(new Error('because'));
    const error = thrown(() => throwIfAborted(controller.signal));
    expect(error.code).toBe('ERR_ABORTED');
    expect((error.cause as Error).message).toBe('because');
    expect(abortedError(controller.signal).message).toContain('resumes from its position');
    const refused = notFollowable('redis', 'seal keys');
    expect(refused.code).toBe('ERR_NOT_SUPPORTED');
    expect(refused.message).toMatch(/^redis\(\) cannot seal keys\. /);
  });
});

describe('follow() over a bytes store', () => {
  it('yields the stored bytes, then each append, each with the position after it, until the seal', async () => {
    const store = new HeldBytes();
    store.append('ab');
    const req = request(0);
    const seen: Followed<Uint8Array>[] = [];
    let started: number | undefined;
    req.started = (position) => (started = position);
    for await (const piece of followBytes(store, 'k', req)) {
      seen.push(piece);
      if (seen.length === 1) store.append('cde');
      else if (seen.length === 2) store.append('f'), store.seal();
    }
    expect(started).toBe(0);
    expect(seen.map(({ value, position }) => [text(value), position])).toEqual([
      ['ab', 2],
      ['cde', 5],
      ['f', 6],
    ]);
    expect(req.endedBy).toBe('sealed');
    expect(store.openWatches).toBe(0);
    expect(store.lengthAsked).toBe(0);
  });

  it("from 'end' starts at the length the key has then; from a position, there", async () => {
    const store = new HeldBytes();
    store.append('stored');
    const req = request('end');
    let started: number | undefined;
    req.started = (position) => (started = position);
    const following = collect(followBytes(store, 'k', req));
    while (store.waits.length === 0) await new Promise((resolve) => setImmediate(resolve));
    store.seal();
    // Nothing was there past the end: the follower waited, and a seal at the same length ended it.
    expect(await following).toEqual([]);
    expect(started).toBe(6);
    expect(req.endedBy).toBe('sealed');

    const resumed = new HeldBytes();
    resumed.append('0123456789');
    resumed.seal();
    const from = request(4);
    from.started = (position) => (started = position);
    expect((await collect(followBytes(resumed, 'k', from))).map(({ value, position }) => `${text(value)}@${position}`)).toEqual(['456789@10']);
    expect(started).toBe(4);
    expect(resumed.reads[0]).toEqual({ offset: 4, max: 6 });
  });

  it('reads no byte past the sealed length, and ends at once when it starts at or past it', async () => {
    const store = new HeldBytes();
    store.append('abcdefgh');
    store.seal(5);
    const req = request(0);
    expect((await collect(followBytes(store, 'k', req))).map(({ value }) => text(value))).toEqual(['abcde']);
    expect(req.endedBy).toBe('sealed');
    expect(store.reads.every(({ offset, max }) => offset + max <= 5)).toBe(true);

    for (const from of [5, 7]) {
      const past = request(from);
      store.reads = [];
      expect(await collect(followBytes(store, 'k', past))).toEqual([]);
      expect(past.endedBy).toBe('sealed');
      // No read of what lies past the seal.
      expect(store.reads).toEqual([]);
    }
  });

  it('learns of a seal made while it waits, and stops at its length', async () => {
    const store = new HeldBytes();
    store.append('one');
    const req = request(0);
    const seen: string[] = [];
    for await (const { value } of followBytes(store, 'k', req)) {
      seen.push(text(value));
      if (seen.length === 1) store.append('tw');
      else store.seal();
    }
    expect(seen).toEqual(['one', 'tw']);
    expect(req.endedBy).toBe('sealed');
  });

  it('waits for bytes a seal names but the store does not show yet, and ends at the sealed length', async () => {
    // A seal at an explicit length (as buffer() over log() writes one) may land before the bytes it counts are readable.
    const store = new HeldBytes();
    store.append('abc');
    store.seal(6);
    const req = request(0);
    const seen: string[] = [];
    const following = (async () => {
      for await (const { value } of followBytes(store, 'k', req)) seen.push(text(value));
    })();
    while (store.waits.length === 0) await new Promise((resolve) => setImmediate(resolve));
    expect(seen).toEqual(['abc']);
    expect(req.endedBy).toBeUndefined();
    store.append('def');
    await following;
    expect(seen).toEqual(['abc', 'def']);
    expect(req.endedBy).toBe('sealed');
  });

  it('reads a large key in pieces of at most FOLLOW_PIECE bytes', async () => {
    const store = new HeldBytes();
    store.append(Buffer.alloc(FOLLOW_PIECE + 10, 1));
    store.seal();
    const pieces = await collect(followBytes(store, 'k', request(0)));
    expect(pieces.map(({ value, position }) => [value.byteLength, position])).toEqual([
      [FOLLOW_PIECE, FOLLOW_PIECE],
      [10, FOLLOW_PIECE + 10],
    ]);
    expect(store.reads[0].max).toBe(FOLLOW_PIECE);
    expect(FOLLOW_PIECE).toBe(4 * 1024 * 1024);

    const unsealed = new HeldBytes();
    unsealed.append('a');
    const req = request(0, { idleTimeoutMs: 1 });
    await collect(followBytes(unsealed, 'k', req));
    expect(unsealed.reads[0]).toEqual({ offset: 0, max: FOLLOW_PIECE });
  });

  it('ends as idle when nothing arrives within idleTimeoutMs, after yielding what there was, and waits no longer than what is left', async () => {
    const store = new HeldBytes();
    store.append('x');
    const req = request(0, { idleTimeoutMs: 50 });
    const seen = await collect(followBytes(store, 'k', req));
    expect(seen.map(({ value }) => text(value))).toEqual(['x']);
    expect(req.endedBy).toBe('idle');
    expect(store.waits.length).toBeGreaterThan(0);
    expect(store.waits.every((ms) => ms > 0 && ms <= 50)).toBe(true);
    expect(store.openWatches).toBe(0);

    // Never idle: the wait is the longest a timer takes.
    const forever = new HeldBytes();
    const controller = new AbortController();
    const waiting = collect(followBytes(forever, 'k', request(0, { signal: controller.signal })));
    while (forever.waits.length === 0) await new Promise((resolve) => setImmediate(resolve));
    expect(forever.waits[0]).toBe(2 ** 31 - 1);
    controller.abort();
    expect((await rejection(waiting)).code).toBe('ERR_ABORTED');
    expect(forever.openWatches).toBe(0);
  });

  it('ends with ERR_ABORTED before reading when the signal has aborted already, and closes its watch', async () => {
    const store = new HeldBytes();
    store.append('never read');
    const controller = new AbortController();
    controller.abort();
    const error = await rejection(collect(followBytes(store, 'k', request(0, { signal: controller.signal }))));
    expect(error.code).toBe('ERR_ABORTED');
    expect(store.reads).toEqual([]);
    expect(store.watches).toBe(0);
  });

  it('ends with ERR_ABORTED between values when the consumer aborts, and with the store\'s error once it is closed', async () => {
    const store = new HeldBytes();
    store.append('a');
    const controller = new AbortController();
    const seen: string[] = [];
    const error = await rejection(
      (async () => {
        for await (const { value } of followBytes(store, 'k', request(0, { signal: controller.signal }))) {
          seen.push(text(value));
          store.append('b');
          controller.abort();
        }
      })(),
    );
    expect(error.code).toBe('ERR_ABORTED');
    expect(seen).toEqual(['a']);
    expect(store.openWatches).toBe(0);

    const closing = new HeldBytes();
    closing.append('a');
    const closed = await rejection(
      (async () => {
        for await (const _ of followBytes(closing, 'k', request(0))) {
          closing.closed = true;
          closing.append('b');
        }
      })(),
    );
    expect(closed.message).toBe('closed');
    expect(closing.reads).toHaveLength(1);
  });
});

describe('follow(): frames from pieces', () => {
  async function* pieces(list: [Uint8Array, number][]): AsyncIterable<Followed<Uint8Array>> {
    for (const [value, position] of list) yield { value, position };
  }
  const frames = (...texts: string[]) => Buffer.concat(texts.map((t) => frame(Buffer.from(t))));

  it('decodes each whole frame, carrying a split one to the next piece, with the position just after it', async () => {
    const all = frames('alpha', '', 'be', 'gamma!');
    // Split inside a header, inside a payload, and right at a frame's end.
    const cuts = [3, 15, 21, 30, all.byteLength];
    const list: [Uint8Array, number][] = [];
    let last = 0;
    for (const cut of cuts) {
      list.push([all.subarray(last, cut), 100 + cut]);
      last = cut;
    }
    const req = request(100);
    const out = await collect(followFrames(pieces(list), 'k', { decode: (payload: Uint8Array) => text(payload) }, req, true));
    expect(out).toEqual([
      { value: 'alpha', position: 100 + 13 },
      { value: '', position: 100 + 21 },
      { value: 'be', position: 100 + 31 },
      { value: 'gamma!', position: 100 + 45 },
    ]);
    expect(all.byteLength).toBe(45);
  });

  it('decodes an empty frame that ends the bytes, and keeps a partial header for the next piece', async () => {
    const out = await collect(followFrames(pieces([[frames('a', ''), 17]]), 'k', { decode: text }, request(0), true));
    expect(out).toEqual([
      { value: 'a', position: 9 },
      { value: '', position: 17 },
    ]);
    // A piece in a buffer of its own, ending 3 bytes into a header: nothing is read past it.
    const whole = frames('a', 'bc');
    const first = Uint8Array.from(whole.subarray(0, 12));
    const rest = Uint8Array.from(whole.subarray(12));
    const split = await collect(followFrames(pieces([[first, 12], [rest, whole.byteLength]]), 'k', { decode: text }, request(0), true));
    expect(split).toEqual([
      { value: 'a', position: 9 },
      { value: 'bc', position: 19 },
    ]);
  });

  it('over another decoding layer gives every frame of a piece that piece\'s position', async () => {
    const out = await collect(followFrames(pieces([[frames('a', 'b'), 7], [frames('c'), 9]]), 'k', { decode: text }, request(0), false));
    expect(out).toEqual([
      { value: 'a', position: 7 },
      { value: 'b', position: 7 },
      { value: 'c', position: 9 },
    ]);
  });

  it('reports a partial frame left at the sealed end as ERR_CORRUPT_FRAME, and keeps quiet about one at an idle end', async () => {
    const torn = Buffer.concat([frames('whole'), frames('torn').subarray(0, 10)]);
    const sealed = request(0);
    sealed.endedBy = 'sealed';
    const seen: string[] = [];
    const error = await rejection(
      (async () => {
        for await (const { value } of followFrames(pieces([[torn, torn.byteLength]]), 'k', { decode: text }, sealed, true)) seen.push(value);
      })(),
    );
    expect(error.code).toBe('ERR_CORRUPT_FRAME');
    expect(seen).toEqual(['whole']);

    const idle = request(0);
    idle.endedBy = 'idle';
    expect((await collect(followFrames(pieces([[torn, torn.byteLength]]), 'k', { decode: text }, idle, true))).map(({ value }) => value)).toEqual(['whole']);
  });

  it('a frame that does not decode is ERR_CORRUPT_FRAME, as get() says it', async () => {
    const reader = {
      layer: 'test',
      decode: (payload: Uint8Array) => {
        if (text(payload) === 'bad') throw new Error('not a value');
        return text(payload);
      },
    };
    const error = await rejection(collect(followFrames(pieces([[frames('good', 'bad'), 20]]), 'k', reader, request(0), true)));
    expect(error.code).toBe('ERR_CORRUPT_FRAME');
  });
});

describe('Follower', () => {
  it('knows its position from a number at once, from the end once started, and keeps the first it learns', async () => {
    const store = new HeldBytes();
    store.append('abc');
    store.seal();
    const source = (req: FollowRequest) => followBytes(store, 'k', req);
    const numbered = new Follower(source, request(1));
    expect(numbered.position).toBe(1);
    expect(numbered.endedBy).toBeUndefined();
    expect((await collect(numbered)).map(text)).toEqual(['bc']);
    expect(numbered.position).toBe(3);
    expect(numbered.endedBy).toBe('sealed');

    const fromEnd = new Follower(source, request('end'));
    expect(fromEnd.position).toBeUndefined();
    expect(await collect(fromEnd.entries())).toEqual([]);
    expect(fromEnd.position).toBe(3);

    // started() fills in a position only when none is known.
    const req = request(2);
    const kept = new Follower(source, req);
    req.started!(0);
    expect(kept.position).toBe(2);
  });

  it('has no position to commit without a consumer: commit() is ERR_INVALID_OPTION naming the option', async () => {
    const store = new HeldBytes();
    const follower = new Follower((req) => followBytes(store, 'k', req), request(0));
    const error = await rejection(follower.commit(3));
    expect(error.code).toBe('ERR_INVALID_OPTION');
    expect(error.message).toContain("follow(key, { consumer: 'name' })");
    expect((await rejection(follower.commit())).code).toBe('ERR_INVALID_OPTION');
  });

  it('is read once: a second iteration is ERR_INVALID_OPTION', async () => {
    const store = new HeldBytes();
    store.seal(0);
    const follower = new Follower((req) => followBytes(store, 'k', req), request(0));
    await collect(follower);
    const error = await rejection(collect(follower));
    expect(error.code).toBe('ERR_INVALID_OPTION');
    expect(error.message).toContain('follower.position');
  });
});

describe('the in-process change watch', () => {
  it('resolves at once for a change that came before the call, then waits for the next', async () => {
    const watch = pollingWatch(2 ** 31 - 1);
    const end = new AbortController();
    try {
      changed();
      expect(await state(watch.next(2 ** 31 - 1))).toBe('resolved');
      const next = watch.next(2 ** 31 - 1);
      expect(await state(next)).toBe('pending');
      changed();
      expect(await state(next)).toBe('resolved');
      // The change that woke it is used up.
      const after = watch.next(2 ** 31 - 1, end.signal);
      expect(await state(after)).toBe('pending');
      end.abort();
      expect((await rejection(after)).code).toBe('ERR_ABORTED');
    } finally {
      watch.close();
    }
  });

  it('resolves after the shorter of the wait asked and its poll', async () => {
    const longPoll = pollingWatch(2 ** 31 - 1);
    const shortPoll = pollingWatch(1);
    try {
      // Either would hang if it waited for the longer of the two.
      await longPoll.next(1);
      await shortPoll.next(2 ** 31 - 1);
    } finally {
      longPoll.close();
      shortPoll.close();
    }
  });

  it('rejects with ERR_ABORTED on abort, at once for a signal aborted before the call', async () => {
    const watch = pollingWatch(2 ** 31 - 1);
    try {
      const controller = new AbortController();
      const waiting = watch.next(2 ** 31 - 1, controller.signal);
      expect(await state(waiting)).toBe('pending');
      controller.abort();
      expect((await rejection(waiting)).code).toBe('ERR_ABORTED');
      expect((await rejection(watch.next(2 ** 31 - 1, controller.signal))).code).toBe('ERR_ABORTED');
    } finally {
      watch.close();
    }
  });

  it('starts the layer\'s own source of news with its wake function, and stops it and stops listening on close', async () => {
    let wakeFromLayer: (() => void) | undefined;
    let stopped = 0;
    const watch = pollingWatch(2 ** 31 - 1, (wake) => {
      wakeFromLayer = wake;
      return () => stopped++;
    });
    const waiting = watch.next(2 ** 31 - 1);
    expect(await state(waiting)).toBe('pending');
    wakeFromLayer!();
    expect(await state(waiting)).toBe('resolved');
    watch.close();
    expect(stopped).toBe(1);
    // Closed: changes in this process no longer count as news for it.
    changed();
    const end = new AbortController();
    const after = watch.next(2 ** 31 - 1, end.signal);
    expect(await state(after)).toBe('pending');
    end.abort();
    expect((await rejection(after)).code).toBe('ERR_ABORTED');
  });
});

describe('seals kept in memory', () => {
  it('keeps the first seal per store and key, and forgets one key\'s or all on delete and drop', () => {
    const store = {};
    const other = {};
    expect(sealedInMemory(store, 'a')).toBeUndefined();
    unsealInMemory(store, ['a']);
    unsealInMemory(store);
    sealInMemory(store, 'a', 3);
    sealInMemory(store, 'a', 9);
    sealInMemory(store, 'b', 0);
    expect(sealedInMemory(store, 'a')).toBe(3);
    expect(sealedInMemory(store, 'b')).toBe(0);
    expect(sealedInMemory(other, 'a')).toBeUndefined();
    unsealInMemory(store, ['a']);
    expect(sealedInMemory(store, 'a')).toBeUndefined();
    expect(sealedInMemory(store, 'b')).toBe(0);
    sealInMemory(store, 'a', 4);
    unsealInMemory(store);
    expect(sealedInMemory(store, 'a')).toBeUndefined();
    expect(sealedInMemory(store, 'b')).toBeUndefined();
  });
});

describe('nextPiece: one step of a remote follower', () => {
  it('returns what is there at once, at most max bytes and never past the seal', async () => {
    const store = new HeldBytes();
    store.append('abcdef');
    expect(await nextPiece(store, 'k', 1, 3, 2 ** 31 - 1)).toEqual({ bytes: Buffer.from('bcd'), sealed: undefined });
    store.seal(4);
    const piece = await nextPiece(store, 'k', 1, 10, 2 ** 31 - 1);
    expect(text(piece.bytes)).toBe('bcd');
    expect(store.reads.at(-1)).toEqual({ offset: 1, max: 3 });
    expect(piece.sealed).toBe(4);
    expect(store.openWatches).toBe(0);
  });

  it('returns nothing at once at or past the sealed end, or when the wait is over', async () => {
    const store = new HeldBytes();
    store.append('ab');
    store.seal();
    for (const offset of [2, 5]) {
      store.reads = [];
      const piece = await nextPiece(store, 'k', offset, 10, 2 ** 31 - 1);
      expect(piece.bytes.byteLength).toBe(0);
      expect(piece.sealed).toBe(2);
      expect(store.reads).toEqual([]);
    }
    const unsealed = new HeldBytes();
    const piece = await nextPiece(unsealed, 'k', 0, 10, 0);
    expect(piece.bytes.byteLength).toBe(0);
    expect(piece.sealed).toBeUndefined();
  });

  it('waits for bytes a seal names but the store does not show yet', async () => {
    const store = new HeldBytes();
    store.append('abc');
    store.seal(6);
    const waiting = nextPiece(store, 'k', 3, 10, 2 ** 31 - 1);
    expect(await state(waiting)).toBe('pending');
    store.append('def');
    const piece = await waiting;
    expect(text(piece.bytes)).toBe('def');
    expect(piece.sealed).toBe(6);
  });

  it('waits for bytes to land, and passes on an abort', async () => {
    const store = new HeldBytes();
    const waiting = nextPiece(store, 'k', 0, 10, 2 ** 31 - 1);
    expect(await state(waiting)).toBe('pending');
    store.append('late');
    expect(text((await waiting).bytes)).toBe('late');

    const controller = new AbortController();
    const aborted = nextPiece(store, 'k', 4, 10, 2 ** 31 - 1, controller.signal);
    expect(await state(aborted)).toBe('pending');
    controller.abort();
    expect((await rejection(aborted)).code).toBe('ERR_ABORTED');
    expect(store.openWatches).toBe(0);
  });
});
