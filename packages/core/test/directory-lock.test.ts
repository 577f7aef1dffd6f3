/**
 * The cross-process side of a file() directory (directory-lock.ts), below
 * file(): the generation counter that tells another store files were
 * removed, the lock taken per call (the wait, its timeout, who holds it) or
 * held by a single owner, a directory removed or replaced under it, and a
 * lock lost while held. Several DirectoryLocks on one directory stand for
 * several processes: the lock file records this process, which is alive, so
 * each excludes the others as another process would.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { isLaminateError } from '@laminate/core';
import { rejection, tempDirs, thrown } from '@laminate/core/testing';
import { tmpfsMounts } from './fixtures/tmpfs.js';
import { DirectoryLock, GENERATION_NAME, LOCK_NAME, type LockSettings, type LockWait } from '../src/directory-lock.js';

const tempDir = tempDirs('laminate-directory-lock-test-');
const mountTmpfs = tmpfsMounts(tempDir);
const opened: DirectoryLock[] = [];

afterEach(() => {
  for (const lock of opened.splice(0)) lock.close();
});

const SETTINGS: LockSettings = { staleMs: 600_000, timeoutMs: 20_000, exclusive: false };

function lockOf(dir: string, settings: Partial<LockSettings> = {}, onWait: (wait: LockWait) => void | (() => void) = () => undefined): DirectoryLock {
  const lock = new DirectoryLock(dir, { ...SETTINGS, ...settings }, onWait);
  opened.push(lock);
  return lock;
}

/** The generation file's count, as another process reads it. */
function generationOnDisk(dir: string): bigint {
  return fs.readFileSync(join(dir, GENERATION_NAME)).readBigUInt64LE(0);
}

describe('DirectoryLock: the generation counter', () => {
  it('is not made by opening or locking, is made empty by the first write, and counts each removal as 8 bytes little-endian', async () => {
    const dir = tempDir();
    const lock = lockOf(dir);
    const call = lock.perCall(() => undefined);
    await call.acquire();
    await call.release();
    expect(fs.readdirSync(dir)).toEqual([]);
    lock.writing();
    expect(fs.readFileSync(join(dir, GENERATION_NAME))).toEqual(Buffer.alloc(0));
    lock.filesRemoved();
    expect(fs.readFileSync(join(dir, GENERATION_NAME))).toEqual(Buffer.from([1, 0, 0, 0, 0, 0, 0, 0]));
    lock.filesRemoved();
    expect(generationOnDisk(dir)).toBe(2n);
    // Counted from what is on disk, not from what this store saw last.
    const buf = Buffer.alloc(8);
    buf.writeBigUInt64LE(300n);
    fs.writeFileSync(join(dir, GENERATION_NAME), buf);
    lock.filesRemoved();
    expect(generationOnDisk(dir)).toBe(301n);
  });

  it('keeps one descriptor on the generation file, however many writes and removals', () => {
    const dir = tempDir();
    const lock = lockOf(dir);
    lock.writing();
    const fds = () => fs.readdirSync('/proc/self/fd').length;
    const before = fds();
    for (let i = 0; i < 20; i++) {
      lock.writing();
      lock.filesRemoved();
    }
    expect(fds()).toBe(before);
    expect(generationOnDisk(dir)).toBe(20n);
  });

  it('another store learns of a removal when it next takes the lock, once per removal; a store opened after it does not', async () => {
    const dir = tempDir();
    const remover = lockOf(dir);
    const removals: string[] = [];
    const other = lockOf(dir);
    const call = other.perCall(() => removals.push('removed'));

    await call.acquire();
    await call.release();
    expect(removals).toEqual([]);

    remover.filesRemoved();
    await call.acquire();
    await call.release();
    expect(removals).toEqual(['removed']);
    await call.acquire();
    await call.release();
    expect(removals).toEqual(['removed']);

    remover.filesRemoved();
    remover.filesRemoved();
    await call.acquire();
    await call.release();
    expect(removals).toEqual(['removed', 'removed']);

    const later: string[] = [];
    const laterCall = lockOf(dir).perCall(() => later.push('removed'));
    await laterCall.acquire();
    await laterCall.release();
    expect(later).toEqual([]);
  });

  it('a generation file shorter than 8 bytes counts as 0', async () => {
    const dir = tempDir();
    fs.writeFileSync(join(dir, GENERATION_NAME), Buffer.from([5, 0, 0]));
    const removals: number[] = [];
    const call = lockOf(dir).perCall(() => removals.push(1));
    await call.acquire();
    await call.release();
    expect(removals).toEqual([]);
    lockOf(dir).filesRemoved();
    expect(generationOnDisk(dir)).toBe(1n);
  });
});

describe('DirectoryLock: the lock taken per call', () => {
  it('is held from acquire to release (valid() says so), and the lock file is gone after', async () => {
    const dir = tempDir();
    const call = lockOf(dir).perCall(() => undefined);
    expect(call.valid!()).toBe(false);
    await call.acquire();
    expect(call.valid!()).toBe(true);
    expect(JSON.parse(fs.readFileSync(join(dir, LOCK_NAME), 'utf8')).pid).toBe(process.pid);
    await call.release();
    expect(call.valid!()).toBe(false);
    expect(fs.existsSync(join(dir, LOCK_NAME))).toBe(false);
    // A second release does nothing.
    await call.release();
  });

  it("a held lock: the waiter is told once who holds it, waits, and gets it when it is let go; the wait's end is told too", async () => {
    const dir = tempDir();
    const holder = lockOf(dir).perCall(() => undefined);
    await holder.acquire();
    const events: unknown[] = [];
    const waiter = lockOf(dir, { timeoutMs: 60_000 }, (wait) => {
      events.push(wait);
      return () => events.push('ended');
    }).perCall(() => undefined);
    const got = waiter.acquire().then(() => events.push('acquired'));
    await vi.waitFor(() => expect(events).toEqual([{ path: dir, timeoutMs: 60_000, holder: { pid: process.pid, host: hostname() } }]), { timeout: 20_000, interval: 10 });
    await holder.release();
    await got;
    expect(events.slice(1)).toEqual(['ended', 'acquired']);
    expect(waiter.valid!()).toBe(true);
    await waiter.release();
  });

  it('gives up after lockTimeoutMs with ERR_LOCKED, naming the holder and the timeout', async () => {
    const dir = tempDir();
    const holder = lockOf(dir).perCall(() => undefined);
    await holder.acquire();
    const ends: string[] = [];
    const waiter = lockOf(dir, { timeoutMs: 150 }, () => () => ends.push('ended')).perCall(() => undefined);
    const error = await rejection(waiter.acquire());
    expect(isLaminateError(error, 'ERR_LOCKED')).toBe(true);
    expect(error.message).toBe(
      `The directory ${dir} stayed locked for lockTimeoutMs (150 ms): another process holds it, perhaps as its single owner ({ exclusive: true }). Close that store, or raise lockTimeoutMs.`,
    );
    expect((error as unknown as { holder: unknown }).holder).toEqual({ pid: process.pid, host: hostname() });
    expect((error.cause as NodeJS.ErrnoException).code).toBe('ELOCKED');
    expect(ends).toEqual(['ended']);
    expect(waiter.valid!()).toBe(false);
    await holder.release();
  });

  it("the mkdir strategy: proper-lockfile's folder at the same path, with no holder to name", async () => {
    const dir = tempDir();
    const call = lockOf(dir, { strategy: 'mkdir' }).perCall(() => undefined);
    await call.acquire();
    expect(fs.lstatSync(join(dir, LOCK_NAME)).isDirectory()).toBe(true);
    const waits: LockWait[] = [];
    const error = await rejection(lockOf(dir, { timeoutMs: 100 }, (wait) => void waits.push(wait)).perCall(() => undefined).acquire());
    expect(isLaminateError(error, 'ERR_LOCKED')).toBe(true);
    expect(waits).toEqual([{ path: dir, timeoutMs: 100 }]);
    expect('holder' in error).toBe(false);
    await call.release();
    expect(fs.existsSync(join(dir, LOCK_NAME))).toBe(false);
  });

  it('a link at the lock\'s path is ERR_SYMLINK at once, without a wait', async () => {
    const dir = tempDir();
    const target = join(tempDir(), 'elsewhere');
    fs.symlinkSync(target, join(dir, LOCK_NAME));
    for (const strategy of ['file', 'mkdir'] as const) {
      const waits: LockWait[] = [];
      const error = await rejection(lockOf(dir, { strategy }, (wait) => void waits.push(wait)).perCall(() => undefined).acquire());
      expect(isLaminateError(error, 'ERR_SYMLINK')).toBe(true);
      expect(error.message).toContain(join(dir, LOCK_NAME));
      expect(waits).toEqual([]);
    }
    expect(fs.existsSync(target)).toBe(false);
  });

  it('lets the event loop turn at each lock taken, so a loop of calls does not starve timers', async () => {
    const dir = tempDir();
    const call = lockOf(dir).perCall(() => undefined);
    let fired = false;
    setTimeout(() => (fired = true), 0);
    for (let i = 0; i < 10_000 && !fired; i++) {
      await call.acquire();
      await call.release();
    }
    expect(fired).toBe(true);
  });
});

describe('DirectoryLock: a directory removed or replaced', () => {
  it('removed: taking the lock is ERR_NOT_FOUND saying so; a folder made again at the path is still not the store\'s', async () => {
    const dir = tempDir();
    const lock = lockOf(dir);
    const call = lock.perCall(() => undefined);
    fs.rmdirSync(dir);
    const error = await rejection(call.acquire());
    expect(isLaminateError(error, 'ERR_NOT_FOUND')).toBe(true);
    expect(error.message).toContain(`The directory ${dir} of this file() store was removed while the store was open`);
    fs.mkdirSync(dir);
    expect(thrown(() => lock.assertPresent()).message).toContain('was removed');
    expect(lock.gone()?.message).toContain('was removed');
    const again = await rejection(call.acquire());
    expect(again.message).toContain('was removed');
    // Nothing is left locked in the folder made anew.
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('assertPresent() without `now` notices a removal too, at most a few milliseconds later, and from then on at once', async () => {
    const dir = tempDir();
    const lock = lockOf(dir);
    lock.assertPresent();
    fs.rmdirSync(dir);
    await vi.waitFor(() => expect(isLaminateError(thrown(() => lock.assertPresent()), 'ERR_NOT_FOUND')).toBe(true), { timeout: 20_000, interval: 1 });
    fs.mkdirSync(dir);
    expect(isLaminateError(thrown(() => lock.assertPresent()), 'ERR_NOT_FOUND')).toBe(true);
  });

  it('checks again once 10 ms have passed since the last check, by the monotonic clock', () => {
    vi.useFakeTimers({ toFake: ['performance'] });
    try {
      const dir = tempDir();
      const lock = lockOf(dir);
      lock.assertPresent();
      fs.rmdirSync(dir);
      vi.advanceTimersByTime(10);
      expect(isLaminateError(thrown(() => lock.assertPresent()), 'ERR_NOT_FOUND')).toBe(true);
    } finally {
      vi.useRealTimers();
    }
  });

  it('replaced by another folder or a file: ERR_NOT_FOUND, and the lock taken in the new folder is let go', async () => {
    const dir = tempDir();
    const lock = lockOf(dir);
    const call = lock.perCall(() => undefined);
    expect(lock.gone()).toBeUndefined();
    lock.assertPresent(true);
    fs.renameSync(dir, `${dir}-moved`);
    fs.mkdirSync(dir);
    const error = await rejection(call.acquire());
    expect(isLaminateError(error, 'ERR_NOT_FOUND')).toBe(true);
    expect(error.message).toContain('was replaced by another directory or file');
    expect(fs.readdirSync(dir)).toEqual([]);
    expect(call.valid!()).toBe(false);
    fs.rmSync(`${dir}-moved`, { recursive: true });

    const other = tempDir();
    const byFile = lockOf(other);
    fs.rmdirSync(other);
    fs.writeFileSync(other, 'a file');
    expect(thrown(() => byFile.assertPresent(true)).message).toContain('was replaced by another directory or file');
    fs.rmSync(other);
    fs.mkdirSync(other);
  });
});

describe('DirectoryLock: when a lock left by another host is stale', () => {
  it('lockStaleMs below 2000 counts as 2000: a lock of another host touched a moment ago is not taken over', async () => {
    const dir = tempDir();
    const path = join(dir, LOCK_NAME);
    fs.writeFileSync(path, JSON.stringify({ pid: 1, host: `not-${hostname()}`, boot: 'x' }));
    const justNow = new Date(Date.now() - 1);
    fs.utimesSync(path, justNow, justNow);
    const error = await rejection(lockOf(dir, { staleMs: 0, timeoutMs: 200 }).perCall(() => undefined).acquire());
    expect(isLaminateError(error, 'ERR_LOCKED')).toBe(true);
    expect((error as unknown as { holder: unknown }).holder).toEqual({ pid: 1, host: `not-${hostname()}` });
    expect(JSON.parse(fs.readFileSync(path, 'utf8')).pid).toBe(1);
  });

  it("mkdir strategy: a lock folder is taken over once older than lockStaleMs, not before", async () => {
    const dir = tempDir();
    const path = join(dir, LOCK_NAME);
    fs.mkdirSync(path);
    const minuteAgo = new Date(Date.now() - 60_000);
    fs.utimesSync(path, minuteAgo, minuteAgo);
    const call = lockOf(dir, { strategy: 'mkdir', staleMs: 600_000, timeoutMs: 200 }).perCall(() => undefined);
    expect(isLaminateError(await rejection(call.acquire()), 'ERR_LOCKED')).toBe(true);
    const hourAgo = new Date(Date.now() - 3_600_000);
    fs.utimesSync(path, hourAgo, hourAgo);
    await call.acquire();
    expect(Date.now() - fs.lstatSync(path).mtimeMs).toBeLessThan(60_000);
    await call.release();
    expect(fs.existsSync(path)).toBe(false);
  });
});

describe('DirectoryLock: the system refusing the lock', () => {
  it('no inode left for the lock file: ERR_DISK_FULL, not a wait', async () => {
    const dir = mountTmpfs('size=1m,nr_inodes=8');
    try {
      const lock = new DirectoryLock(dir, SETTINGS, () => undefined);
      try {
        for (let i = 0; ; i++) fs.writeFileSync(join(dir, `f${i}`), '');
      } catch (error) {
        expect((error as NodeJS.ErrnoException).code).toBe('ENOSPC');
      }
      const waits: LockWait[] = [];
      const error = await rejection(new DirectoryLock(dir, SETTINGS, (wait) => void waits.push(wait)).perCall(() => undefined).acquire());
      expect(isLaminateError(error, 'ERR_DISK_FULL')).toBe(true);
      expect(waits).toEqual([]);
      expect(isLaminateError(thrown(() => new DirectoryLock(dir, { ...SETTINGS, exclusive: true }, () => undefined).own()), 'ERR_DISK_FULL')).toBe(true);
      lock.close();
    } finally {
      // Now, not after the file's tests: this file's folders are removed after each test.
      spawnSync('umount', ['-l', dir]);
    }
  });
});

describe('DirectoryLock: single owner', () => {
  it('own() takes the lock at once and keeps it until close(); a second owner, or a call, gets ERR_LOCKED naming the holder', async () => {
    const dir = tempDir();
    const owner = lockOf(dir, { exclusive: true });
    owner.own();
    expect(JSON.parse(fs.readFileSync(join(dir, LOCK_NAME), 'utf8')).pid).toBe(process.pid);
    const error = thrown(() => lockOf(dir, { exclusive: true }).own());
    expect(isLaminateError(error, 'ERR_LOCKED')).toBe(true);
    expect(error.message).toBe(`The directory ${dir} is locked by another store or process. Close it there, or open this one without { exclusive: true } to share it.`);
    expect((error as unknown as { holder: unknown }).holder).toEqual({ pid: process.pid, host: hostname() });
    expect((error.cause as NodeJS.ErrnoException).code).toBe('ELOCKED');
    owner.close();
    expect(fs.existsSync(join(dir, LOCK_NAME))).toBe(false);
    // Closing twice, or after the lock went with its directory, is no error.
    owner.close();
    const again = lockOf(dir, { exclusive: true });
    again.own();
    fs.rmSync(dir, { recursive: true });
    again.close();
  });

  it('own() takes a free lock even while a waiter\'s mark is fresh: it does not wait, so it cannot yield', () => {
    const dir = tempDir();
    const wanted = join(dir, `${LOCK_NAME}.wanted`);
    fs.writeFileSync(wanted, '');
    const ahead = new Date(Date.now() + 3_600_000);
    fs.utimesSync(wanted, ahead, ahead);
    const owner = lockOf(dir, { exclusive: true });
    owner.own();
    expect(JSON.parse(fs.readFileSync(join(dir, LOCK_NAME), 'utf8')).pid).toBe(process.pid);
  });

  it('with the mkdir strategy too', () => {
    const dir = tempDir();
    const owner = lockOf(dir, { exclusive: true, strategy: 'mkdir' });
    owner.own();
    expect(fs.lstatSync(join(dir, LOCK_NAME)).isDirectory()).toBe(true);
    expect(isLaminateError(thrown(() => lockOf(dir, { exclusive: true, strategy: 'mkdir' }).own()), 'ERR_LOCKED')).toBe(true);
    owner.close();
    expect(fs.existsSync(join(dir, LOCK_NAME))).toBe(false);
  });

  it('an own() that fails closes the generation file it opened', () => {
    const dir = tempDir();
    lockOf(dir).writing();
    const owner = lockOf(dir, { exclusive: true });
    owner.own();
    const fds = () => fs.readdirSync('/proc/self/fd').length;
    const before = fds();
    for (let i = 0; i < 20; i++) expect(isLaminateError(thrown(() => new DirectoryLock(dir, { ...SETTINGS, exclusive: true }, () => undefined).own()), 'ERR_LOCKED')).toBe(true);
    expect(fds()).toBe(before);
  });
});

describe('DirectoryLock: a lock lost while held', () => {
  it('a lock file removed under the holder: valid() turns false, assertHeld() throws ERR_LOCKED once, and the next acquire holds it again', async () => {
    const dir = tempDir();
    const lock = lockOf(dir, { staleMs: 0 });
    const call = lock.perCall(() => undefined);
    await call.acquire();
    lock.assertHeld();
    fs.unlinkSync(join(dir, LOCK_NAME));
    // The refresh, every 1 s (staleMs is at least 2000), finds it gone.
    await vi.waitFor(() => expect(call.valid!()).toBe(false), { timeout: 20_000, interval: 20 });
    const error = thrown(() => lock.assertHeld());
    expect(isLaminateError(error, 'ERR_LOCKED')).toBe(true);
    expect(error.message).toBe(`The lock on ${dir} was lost (the lock file ${join(dir, LOCK_NAME)} was removed); the last call was not applied. Retry it.`);
    expect((error.cause as Error).message).toBe(`the lock file ${join(dir, LOCK_NAME)} was removed`);
    lock.assertHeld();
    await call.release();
    await call.acquire();
    expect(call.valid!()).toBe(true);
    await call.release();
  });

  it('lost, then the directory removed right after a check: assertHeld() still checks at once and says the directory is gone', async () => {
    const dir = tempDir();
    const lock = lockOf(dir, { staleMs: 2000 });
    const call = lock.perCall(() => undefined);
    await call.acquire();
    fs.unlinkSync(join(dir, LOCK_NAME));
    await vi.waitFor(() => expect(call.valid!()).toBe(false), { timeout: 20_000, interval: 20 });
    vi.useFakeTimers({ toFake: ['performance'] });
    try {
      lock.assertPresent();
      fs.rmdirSync(dir);
      expect(isLaminateError(thrown(() => lock.assertHeld()), 'ERR_NOT_FOUND')).toBe(true);
    } finally {
      vi.useRealTimers();
    }
    await call.release();
  });

  it("mkdir strategy: a lock folder removed under the holder is noticed too (proper-lockfile's refresh)", async () => {
    const dir = tempDir();
    const lock = lockOf(dir, { strategy: 'mkdir', staleMs: 2000 });
    const call = lock.perCall(() => undefined);
    await call.acquire();
    fs.rmdirSync(join(dir, LOCK_NAME));
    await vi.waitFor(() => expect(call.valid!()).toBe(false), { timeout: 20_000, interval: 20 });
    expect(isLaminateError(thrown(() => lock.assertHeld()), 'ERR_LOCKED')).toBe(true);
    await call.release();
  });

  it('lost because the directory was removed: assertHeld() says the directory is gone', async () => {
    const dir = tempDir();
    const lock = lockOf(dir, { staleMs: 2000 });
    const call = lock.perCall(() => undefined);
    await call.acquire();
    fs.rmSync(dir, { recursive: true });
    await vi.waitFor(() => expect(call.valid!()).toBe(false), { timeout: 20_000, interval: 20 });
    expect(isLaminateError(thrown(() => lock.assertHeld()), 'ERR_NOT_FOUND')).toBe(true);
    await call.release();
  });
});
