/**
 * file()'s folder watch when it is refused, fails or says little
 * (follow-file.ts): a follower then finds every value by polling, the watch
 * is let go and its error thrown nowhere, a notification that names no file
 * wakes the follower, an idle watch keeps no process alive, and the poll
 * intervals are the documented ones (250 ms beside a watch, 20 ms without),
 * or the follower's own pollMs. Intervals are checked on a fake clock; the
 * faults are made by a FolderWatch that stands in for fs.watch.
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { tempDirs } from '@laminate/core/testing';
import { type FolderWatch, readSeal, sealPaths, watchKeyFile, writeSeal } from '../src/follow-file.js';
import { type ChangeWatch, type FollowableBytes, checkFollowOptions, followBytes } from '../src/follow.js';
import { KeyPaths, escapedLayout } from '../src/key-paths.js';
import { readFromPosition, trimPaths } from '../src/retention-file.js';
import { promiseState as state } from './fixtures/promise-state.js';

const tempDir = tempDirs('laminate-follow-file-watch-faults-test-', afterAll);
const FOREVER = 2 ** 31 - 1;

afterEach(() => {
  vi.useRealTimers();
});


/** A folder watch the system refuses, as when no inotify watch is left. */
const refused: FolderWatch = () => {
  throw Object.assign(new Error('ENOSPC: System limit for number of file watchers reached'), { code: 'ENOSPC', syscall: 'watch' });
};

/** The system's watch, kept at hand: the watcher and the listener it calls, and whether the watcher was closed. */
function recordedWatch(): { watch: FolderWatch; watcher(): fs.FSWatcher; notify(changed: string | null): void; closed(): boolean } {
  let watcher: fs.FSWatcher | undefined;
  let listener: ((event: string, changed: string | null) => void) | undefined;
  let closed = false;
  return {
    watch(folder, options, onChange) {
      listener = onChange;
      watcher = fs.watch(folder, options, onChange);
      watcher.on('close', () => (closed = true));
      return watcher;
    },
    watcher: () => watcher!,
    notify: (changed) => listener!('rename', changed),
    closed: () => closed,
  };
}

/** Lets the close event of a watcher (emitted on the next tick) land. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

/** A follower of key `k` in `dir`, reading as file() reads a followed key, but watching the folder through `watch`. */
function follower(dir: string, watch: FolderWatch, pollMs?: number): AsyncIterator<{ value: Uint8Array; position: number }> {
  const data = new KeyPaths(dir, escapedLayout);
  const seals = sealPaths(dir);
  const store: FollowableBytes = {
    assertOpen: () => undefined,
    readFollowedId: (id, offset, max) => readFromPosition(data, trimPaths(dir), id, offset, max),
    watchId: (id, ms) => watchKeyFile(data.of(id), dir, ms, watch),
    sealedId: async (id) => readSeal(seals, id),
    lengthId: async (id) => data.stat(id)?.size ?? 0,
  };
  return followBytes(store, 'k', checkFollowOptions(pollMs === undefined ? {} : { pollMs }))[Symbol.asyncIterator]();
}

/**
 * Appends each value to `dir`'s key `k` by hand (no store in this process says
 * so: only the watch or the poll can find it) once the follower has taken the
 * one before, then seals the key; returns what the follower read.
 */
async function feed(dir: string, reader: AsyncIterator<{ value: Uint8Array }>, values: string[], between?: (index: number) => Promise<void> | void): Promise<{ read: string[]; done: boolean }> {
  const read: string[] = [];
  for (let i = 0; i < values.length; i++) {
    await between?.(i);
    fs.appendFileSync(join(dir, 'k'), values[i]);
    let got = '';
    while (got.length < values[i].length) {
      const next = await reader.next();
      expect(next.done).toBe(false);
      got += Buffer.from(next.value.value).toString();
    }
    read.push(got);
  }
  writeSeal(sealPaths(dir), 'k', values.join('').length, false);
  const last = await reader.next();
  return { read, done: last.done === true };
}

describe('file(): a follower whose folder watch is refused or fails', () => {
  it('gets every value by polling, with no pollMs given, when the system refuses to watch the folder', async () => {
    const dir = tempDir();
    fs.writeFileSync(join(dir, 'k'), '');
    const values = ['first', 'second', 'third'];
    expect(await feed(dir, follower(dir, refused), values)).toEqual({ read: values, done: true });
  });

  it('lets a watch that fails go (closed, its error thrown nowhere) and gets every later value by polling', async () => {
    const dir = tempDir();
    fs.writeFileSync(join(dir, 'k'), '');
    const recorded = recordedWatch();
    const reader = follower(dir, recorded.watch);
    const values = ['before', 'after the watch failed', 'and again'];
    const result = await feed(dir, reader, values, async (index) => {
      if (index !== 1) return;
      // With no 'error' listener, an emitter throws the error at whoever emitted it.
      expect(() => recorded.watcher().emit('error', Object.assign(new Error('EPERM: watched folder is gone'), { code: 'EPERM' }))).not.toThrow();
      await settle();
      expect(recorded.closed()).toBe(true);
    });
    expect(result).toEqual({ read: values, done: true });
  });

  it('the watch the system refuses leaves nothing to close: close() ends the watch without error', async () => {
    const dir = tempDir();
    const watch = watchKeyFile(join(dir, 'k'), dir, 1, refused);
    await watch.next(FOREVER);
    expect(() => watch.close()).not.toThrow();
  });
});

describe('file(): the folder watch itself', () => {
  it('a notification that names no file (as some systems send) wakes the follower; one naming another file does not', async () => {
    const dir = tempDir();
    const recorded = recordedWatch();
    const watch = watchKeyFile(join(dir, 'k'), dir, FOREVER, recorded.watch);
    const end = new AbortController();
    try {
      const waiting = watch.next(FOREVER, end.signal);
      recorded.notify('other');
      expect(await state(waiting)).toBe('pending');
      recorded.notify(null);
      expect(await state(waiting)).toBe('resolved');
    } finally {
      end.abort();
      watch.close();
    }
  });

  it('close() closes the watcher: no watch is left behind a follower that ended', async () => {
    const dir = tempDir();
    const recorded = recordedWatch();
    const watch = watchKeyFile(join(dir, 'k'), dir, FOREVER, recorded.watch);
    await settle();
    expect(recorded.closed()).toBe(false);
    watch.close();
    await settle();
    expect(recorded.closed()).toBe(true);
  });

  it('keeps no process alive: while a watch is open and no one waits, the system watch is not among the handles that hold the event loop', async () => {
    const dir = tempDir();
    fs.writeFileSync(join(dir, 'k'), '');
    const handles = () => process.getActiveResourcesInfo().filter((kind) => kind === 'FSEventWrap').length;
    const before = handles();
    const recorded = recordedWatch();
    const watch = watchKeyFile(join(dir, 'k'), dir, FOREVER, recorded.watch);
    try {
      expect(handles()).toBe(before);
      // And the watch is live: a change to the key wakes it.
      const waiting = watch.next(FOREVER);
      fs.appendFileSync(join(dir, 'k'), 'x');
      await waiting;
    } finally {
      watch.close();
    }
  });
});

describe('file(): how often a follower looks without news (a fake clock)', () => {
  /** Resolves `watch`'s wait after exactly `ms` on the fake clock, not one millisecond before. */
  async function wakesAfter(watch: ChangeWatch, ms: number): Promise<void> {
    try {
      const waiting = watch.next(FOREVER);
      await vi.advanceTimersByTimeAsync(ms - 1);
      expect(await state(waiting)).toBe('pending');
      await vi.advanceTimersByTimeAsync(1);
      expect(await state(waiting)).toBe('resolved');
    } finally {
      watch.close();
    }
  }

  it('every 250 ms beside a watch of the folder, every 20 ms where the folder is missing or the system refuses the watch', async () => {
    const dir = tempDir();
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    await wakesAfter(watchKeyFile(join(dir, 'k'), dir), 250);
    await wakesAfter(watchKeyFile(join(dir, 'missing%d', 'k'), dir), 20);
    await wakesAfter(watchKeyFile(join(dir, 'k'), dir, undefined, refused), 20);
  });

  it("every pollMs when the follower gives one, watched or not", async () => {
    const dir = tempDir();
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    await wakesAfter(watchKeyFile(join(dir, 'k'), dir, 1000), 1000);
    await wakesAfter(watchKeyFile(join(dir, 'missing%d', 'k'), dir, 1000), 1000);
    await wakesAfter(watchKeyFile(join(dir, 'k'), dir, 1000, refused), 1000);
  });
});
