/**
 * The lock file (lock-file.ts) when another process acts in the few
 * microseconds between two of its system calls: the lock let go after the
 * create was refused, the breaker folder removed after it was found, the dead
 * lock let go, replaced or refreshed after it was judged dead, a second dead
 * lock left before the second attempt. `lockFileRaces.between` plays that
 * other process at the exact moment, so each race is run every time. Also: a
 * refresh whose time cannot be written, the refresh period on a fake clock,
 * the exit hook of a freshly loaded module, and the names of the lock's
 * companions as the directory lock loads them.
 *
 * This file imports lock-file.ts and nothing of the package's index, so that
 * it still loads, and fails where it should, when a mutation breaks a module
 * the index loads.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { LockFile, type LockFileMoment, lockCompanions, lockFileRaces, readOwner } from '../src/lock-file.js';
import { HOUR_AGO, ME, deadPid, failure } from './fixtures/lock-owners.js';

const dirs: string[] = [];
/** Files made immutable by a test, made writable again whatever its outcome. */
const immutable: string[] = [];
/** Releases of locks a test took, let go of after it whatever its outcome. */
const releases: (() => void)[] = [];

afterEach(() => {
  lockFileRaces.between = undefined;
  // Writable first, so that the release can remove the file; released before the real timers come back, so
  // that a refresh set on the fake clock is cleared there.
  for (const path of immutable.splice(0)) spawnSync('chattr', ['-i', path]);
  for (const release of releases.splice(0)) release();
  vi.useRealTimers();
});
afterAll(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

/** A whole second an hour ago: a modification time that reads back exactly as it was set. */
const SECOND_HOUR_AGO = () => new Date(Math.floor(Date.now() / 1000) * 1000 - 3_600_000);


/** The owner record of a process of this machine that has exited: its lock is dead at once. */
const deadOwner = () => JSON.stringify({ pid: deadPid(), host: ME.host, boot: ME.boot });

/** A lock path in a new directory, and a lock on it that records what compromised it. */
function lockAt(staleMs = 600_000) {
  const dir = fs.mkdtempSync(join(tmpdir(), 'laminate-lock-races-'));
  dirs.push(dir);
  const path = join(dir, '.lock');
  const compromised: Error[] = [];
  const lock = new LockFile(path, staleMs, (error) => compromised.push(error));
  return { dir, path, lock, compromised, breaker: path + '.break' };
}

/** Takes `lock`; the release runs after the test if it did not. */
function take(lock: LockFile, yieldToWaiters?: boolean): () => void {
  const release = lock.take(yieldToWaiters);
  releases.push(release);
  return release;
}

/** A lock file as another process would have left it, with its modification time. */
function leaveLock(path: string, content: string, mtime: Date): void {
  fs.writeFileSync(path, content);
  fs.utimesSync(path, mtime, mtime);
}

function expectLocked(lock: LockFile, path: string): void {
  const error = failure(() => lock.take(false));
  expect(error.code).toBe('ELOCKED');
  expect(error.message).toBe(`Lock file is already being held: ${path}`);
}

/**
 * Plays another process at `moment` (the first time only, or at its `nth`
 * passing), and records every moment the lock passed through.
 */
function actAt(moment: LockFileMoment, act: (path: string) => void, nth = 1): LockFileMoment[] {
  const passed: LockFileMoment[] = [];
  lockFileRaces.between = (at, path) => {
    passed.push(at);
    if (at === moment && passed.filter((seen) => seen === moment).length === nth) act(path);
  };
  return passed;
}

describe('a lock let go between the refused create and the read of its owner', () => {
  it('is found gone, and taken at the second attempt', () => {
    const { path, lock } = lockAt();
    const holder = new LockFile(path, 600_000, () => undefined);
    const letGo = holder.take(false);
    const passed = actAt('create-refused', () => letGo());
    take(lock, false);
    expect(passed).toEqual(['before-create', 'create-refused', 'before-create']);
    expect(readOwner(path)).toEqual(ME);
    expect(fs.readdirSync(join(path, '..'))).toEqual(['.lock']);
  });
});

describe('the breaker folder removed between the refused mkdir and the look at it', () => {
  it('leaves the dead lock for the next attempt (ELOCKED), which takes it', () => {
    const { path, lock, breaker } = lockAt();
    const dead = deadOwner();
    leaveLock(path, dead, new Date());
    fs.mkdirSync(breaker);
    // The process that made the breaker folder finishes just after this one found it there.
    const passed = actAt('breaker-found', () => fs.rmdirSync(breaker));
    expectLocked(lock, path);
    expect(passed).toEqual(['before-create', 'create-refused', 'breaker-found']);
    expect(fs.readFileSync(path, 'utf8')).toBe(dead);
    expect(fs.existsSync(breaker)).toBe(false);
    lockFileRaces.between = undefined;
    take(lock, false);
    expect(readOwner(path)).toEqual(ME);
  });
});

describe('a lock judged dead, then changed before it is removed', () => {
  it('let go by its owner meanwhile (another host\'s stale lock): the path is free, and the second attempt takes it', () => {
    const { path, lock, breaker } = lockAt(60_000);
    leaveLock(path, JSON.stringify({ pid: 1, host: `not-${ME.host}`, boot: 'x' }), HOUR_AGO());
    const passed = actAt('judged-dead', () => fs.unlinkSync(path));
    take(lock, false);
    expect(passed).toEqual(['before-create', 'create-refused', 'judged-dead', 'before-create']);
    expect(readOwner(path)).toEqual(ME);
    expect(fs.existsSync(breaker)).toBe(false);
  });

  it('taken by a live process meanwhile: that lock is not removed, the taker is refused, and its owner keeps it and lets go of it', () => {
    const { path, lock, breaker } = lockAt();
    // An hour old: the rival's new file differs in its time even where the filesystem gives it the same inode.
    leaveLock(path, deadOwner(), HOUR_AGO());
    const rivalCompromised: Error[] = [];
    const rivalLock = new LockFile(path, 600_000, (error) => rivalCompromised.push(error));
    let rivalRelease: (() => void) | undefined;
    const passed = actAt('judged-dead', () => {
      // The rival removed the dead lock first (it made the breaker folder just before) and took the path.
      fs.unlinkSync(path);
      rivalRelease = rivalLock.take(false);
    });
    expectLocked(lock, path);
    // Refused at once: a lock found changed is not looked at again in the same take. (The rival's own take
    // passed 'before-create' while this one waited at 'judged-dead'.)
    expect(passed).toEqual(['before-create', 'create-refused', 'judged-dead', 'before-create']);
    expect(readOwner(path)).toEqual(ME);
    expect(fs.existsSync(breaker)).toBe(false);
    lockFileRaces.between = undefined;
    expectLocked(lock, path);
    // Still the rival's own file: its release removes it.
    rivalRelease!();
    expect(fs.existsSync(path)).toBe(false);
    expect(rivalCompromised).toEqual([]);
  });

  it('replaced by another file with the same modification time: told apart by its inode, and left in place', () => {
    const { dir, path, lock } = lockAt();
    const mtime = SECOND_HOUR_AGO();
    leaveLock(path, deadOwner(), mtime);
    const fresh = JSON.stringify({ pid: process.pid, host: ME.host, boot: ME.boot });
    const passed = actAt('judged-dead', () => {
      // Made beside it and renamed over it: a new inode, whatever the filesystem reuses.
      leaveLock(join(dir, 'fresh'), fresh, mtime);
      fs.renameSync(join(dir, 'fresh'), path);
      expect(fs.lstatSync(path).mtimeMs).toBe(mtime.getTime());
    });
    expectLocked(lock, path);
    expect(passed).toEqual(['before-create', 'create-refused', 'judged-dead']);
    expect(fs.readFileSync(path, 'utf8')).toBe(fresh);
  });

  it('refreshed by its owner meanwhile (another host\'s lock judged stale by age): the same file, a newer time, left in place', () => {
    const { path, lock } = lockAt(60_000);
    const owner = JSON.stringify({ pid: 1, host: `not-${ME.host}`, boot: 'x' });
    leaveLock(path, owner, HOUR_AGO());
    const inode = fs.lstatSync(path).ino;
    actAt('judged-dead', () => fs.utimesSync(path, new Date(), new Date()));
    expectLocked(lock, path);
    expect(fs.lstatSync(path).ino).toBe(inode);
    expect(fs.readFileSync(path, 'utf8')).toBe(owner);
  });
});

describe('a dead lock left again between the removal and the second attempt', () => {
  it('is removed too, but the take gives up after its two attempts (ELOCKED) rather than loop; the next take gets the lock', () => {
    const { path, lock, breaker } = lockAt();
    leaveLock(path, deadOwner(), new Date());
    const second = deadOwner();
    const passed = actAt('before-create', () => leaveLock(path, second, new Date()), 2);
    expectLocked(lock, path);
    expect(passed).toEqual(['before-create', 'create-refused', 'judged-dead', 'before-create', 'create-refused', 'judged-dead']);
    // Both dead locks were removed; none was taken.
    expect(fs.existsSync(path)).toBe(false);
    expect(fs.existsSync(breaker)).toBe(false);
    take(lock, false);
    expect(readOwner(path)).toEqual(ME);
  });
});

describe('the refresh of a held lock', () => {
  it('tells the holder when the lock\'s time cannot be written (an immutable file: EPERM), once, and stops refreshing', async () => {
    const { path, lock, compromised } = lockAt(200);
    take(lock);
    execFileSync('chattr', ['+i', path]);
    immutable.push(path);
    await vi.waitFor(() => expect(compromised.map((error) => (error as NodeJS.ErrnoException).code)).toEqual(['EPERM']), { timeout: 20_000, interval: 20 });
    // Told once: a lock taken now with the same period is the clock; once it was refreshed twice, a refresh
    // that went on after the failure would have failed again.
    const clock = lockAt(200);
    take(clock.lock);
    for (let tick = 0; tick < 2; tick++) {
      fs.utimesSync(clock.path, HOUR_AGO(), HOUR_AGO());
      await vi.waitFor(() => expect(Date.now() - fs.lstatSync(clock.path).mtimeMs).toBeLessThan(60_000), { timeout: 20_000, interval: 20 });
    }
    expect(compromised.length).toBe(1);
    expect(clock.compromised).toEqual([]);
  });

  it('comes every staleMs / 2 on a fake clock: not before, and again after', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { path, lock, compromised } = lockAt(1000);
    take(lock);
    const old = SECOND_HOUR_AGO();
    for (let round = 0; round < 2; round++) {
      fs.utimesSync(path, old, old);
      vi.advanceTimersByTime(499);
      expect(fs.lstatSync(path).mtimeMs).toBe(old.getTime());
      vi.advanceTimersByTime(1);
      expect(Date.now() - fs.lstatSync(path).mtimeMs).toBeLessThan(60_000);
    }
    expect(compromised).toEqual([]);
  });
});

describe('the exit hook of a freshly loaded lock-file.ts', () => {
  const exitHooks = () => process.listeners('exit').filter((listener) => listener.name === 'removeHeldOnExit');

  it('is installed by the first take, once for all locks, and removes at exit the locks still held', async () => {
    const before = exitHooks();
    vi.resetModules();
    const fresh = await import('../src/lock-file.js');
    expect(exitHooks()).toEqual(before);
    const first = lockAt();
    const second = lockAt();
    releases.push(new fresh.LockFile(first.path, 600_000, () => undefined).take());
    const hook = exitHooks().find((listener) => !before.includes(listener));
    try {
      expect(hook).toBeDefined();
      releases.push(new fresh.LockFile(second.path, 600_000, () => undefined).take());
      expect(exitHooks().length).toBe(before.length + 1);
      // Called as the process's exit would call it.
      (hook as () => void)();
      expect(fs.existsSync(first.path)).toBe(false);
      expect(fs.existsSync(second.path)).toBe(false);
    } finally {
      if (hook) process.off('exit', hook);
    }
  });
});

describe('the lock\'s companions', () => {
  it('are named after the lock, and the directory lock loads with those names for its own', async () => {
    expect(lockCompanions('.lock')).toEqual({ breaker: '.lock.break', wanted: '.lock.wanted' });
    const directoryLock = await import('../src/directory-lock.js');
    expect([directoryLock.LOCK_BREAKER_NAME, directoryLock.LOCK_WANTED_NAME]).toEqual([`${directoryLock.LOCK_NAME}.break`, `${directoryLock.LOCK_NAME}.wanted`]);
  });
});
