/**
 * The lock file itself (lock-file.ts), below file(): who may take it, what it
 * records, when a lock left behind is judged dead, the breaker folder that
 * lets one process remove a dead lock at a time, the mark of a waiting
 * process, the refresh of its time, and what is left on disk after a
 * release, a process exit, or a full disk. Locks of "other processes" are
 * files written as those processes would write them, or real child processes.
 */
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { tempDirs } from '@laminate/core/testing';
import { tmpfsMounts } from './fixtures/tmpfs.js';
import { LockFile, lockCompanions, parseOwner, readOwner } from '../src/lock-file.js';
import { spawnFixture } from './fixtures/spawn.js';
import { HOUR_AGO, ME, deadPid, failure } from './fixtures/lock-owners.js';

const here = dirname(fileURLToPath(import.meta.url));
const tempDir = tempDirs('laminate-lock-file-test-', afterAll);
const children: ChildProcess[] = [];
/** Releases of locks a test took, let go of after it whatever its outcome. */
const releases: (() => void)[] = [];

afterEach(() => {
  for (const release of releases.splice(0)) release();
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});
const mountTmpfs = tmpfsMounts(tempDir);

/** A time ahead of the clock: a mark or lock this fresh stays fresh however slow the machine is. */
const AHEAD = () => new Date(Date.now() + 3_600_000);


/** A lock path in a new directory, and a lock on it that records what compromised it. */
function lockAt(staleMs = 600_000) {
  const path = join(tempDir(), '.lock');
  const compromised: Error[] = [];
  const lock = new LockFile(path, staleMs, (error) => compromised.push(error));
  return { path, lock, compromised, wanted: path + '.wanted', breaker: path + '.break' };
}

/** Takes `lock`; the release runs after the test if it did not. */
function take(lock: LockFile, yieldToWaiters?: boolean): () => void {
  const release = lock.take(yieldToWaiters);
  releases.push(release);
  return release;
}

function expectLocked(lock: LockFile, path: string, yieldToWaiters?: boolean): void {
  const error = failure(() => lock.take(yieldToWaiters));
  expect(error.code).toBe('ELOCKED');
  expect(error.message).toBe(`Lock file is already being held: ${path}`);
}

/** A lock file as another process would have left it, with its modification time. */
function leaveLock(path: string, content: string, mtime: Date): void {
  fs.writeFileSync(path, content);
  fs.utimesSync(path, mtime, mtime);
}

describe('LockFile: taking and letting go', () => {
  it('records its owner as one JSON line {pid, host, boot}, which readOwner reads back; the release removes the file, and a second release does nothing', () => {
    const { path, lock } = lockAt();
    const release = take(lock);
    expect(fs.readFileSync(path, 'utf8')).toBe(`${JSON.stringify(ME)}\n`);
    expect(readOwner(path)).toEqual(ME);
    expect(fs.lstatSync(path).isFile()).toBe(true);
    release();
    expect(fs.existsSync(path)).toBe(false);
    // Someone else's lock now stands there: a release already done must not remove it.
    fs.writeFileSync(path, 'other');
    release();
    expect(fs.readFileSync(path, 'utf8')).toBe('other');
  });

  it('a lock held by a live process is refused with ELOCKED and left as it was, however old it is; it can be taken again once let go', () => {
    const { path, lock } = lockAt(2000);
    const release = take(lock);
    const before = fs.readFileSync(path, 'utf8');
    fs.utimesSync(path, HOUR_AGO(), HOUR_AGO());
    const other = new LockFile(path, 2000, () => undefined);
    expectLocked(other, path);
    expect(fs.readFileSync(path, 'utf8')).toBe(before);
    release();
    const again = take(other);
    expect(readOwner(path)).toEqual(ME);
    again();
    expect(fs.existsSync(path)).toBe(false);
  });

  it('does not remove at release a lock file that was replaced since it was taken (taken over as stale)', () => {
    const { path, lock } = lockAt();
    const release = take(lock);
    fs.unlinkSync(path);
    fs.writeFileSync(path, JSON.stringify({ pid: 1, host: 'another', boot: 'x' }));
    release();
    expect(readOwner(path)).toEqual({ pid: 1, host: 'another', boot: 'x' });
  });

  it('release after the lock file is gone (its directory emptied) does not throw', () => {
    const { path, lock } = lockAt();
    const release = take(lock);
    fs.unlinkSync(path);
    release();
    expect(fs.existsSync(path)).toBe(false);
  });
});

describe('LockFile: descriptors and errors', () => {
  it('leaves no descriptor open after taking and letting go, after a refusal, or after reading an owner', () => {
    const { path, lock } = lockAt();
    const fds = () => fs.readdirSync('/proc/self/fd').length;
    take(lock)();
    const before = fds();
    for (let i = 0; i < 20; i++) take(lock)();
    const holder = take(new LockFile(path, 600_000, () => undefined), false);
    for (let i = 0; i < 20; i++) expectLocked(lock, path, false);
    for (let i = 0; i < 20; i++) expect(readOwner(path)).toEqual(ME);
    fs.mkdirSync(`${path}-folder`);
    for (let i = 0; i < 20; i++) expect(readOwner(`${path}-folder`)).toBeUndefined();
    holder();
    expect(fds()).toBe(before);
  });

  it('a directory that is not there is the system\'s ENOENT, not a lock held elsewhere', () => {
    const path = join(tempDir(), 'missing', '.lock');
    expect(failure(() => new LockFile(path, 600_000, () => undefined).take()).code).toBe('ENOENT');
  });
});

describe('LockFile: the exit hook', () => {
  it('removes, when the process exits, the locks it still holds, and not a lock file that replaced one of them', () => {
    const held = lockAt();
    const replaced = lockAt();
    take(held.lock);
    take(replaced.lock);
    fs.unlinkSync(replaced.path);
    fs.writeFileSync(replaced.path, 'taken over');
    // Called as the process's exit would call it; real exits are in "a process that ends holding its lock" below.
    const hooks = process.listeners('exit').filter((listener) => listener.name === 'removeHeldOnExit');
    expect(hooks.length).toBe(1);
    (hooks[0] as () => void)();
    expect(fs.existsSync(held.path)).toBe(false);
    expect(fs.readFileSync(replaced.path, 'utf8')).toBe('taken over');
  });
});

describe('LockFile: a lock left by a process that is gone', () => {
  it('a dead process of this machine and boot: taken over at once, long before staleMs, with the breaker folder gone afterwards', () => {
    const { path, lock, breaker } = lockAt(600_000);
    leaveLock(path, JSON.stringify({ pid: deadPid(), host: ME.host, boot: ME.boot }), AHEAD());
    take(lock);
    expect(readOwner(path)).toEqual(ME);
    expect(fs.existsSync(breaker)).toBe(false);
  });

  it('a live pid recorded by another host, or by another boot of this one, says nothing: judged by age, refused while fresh, taken once older than staleMs', () => {
    for (const owner of [
      { pid: process.pid, host: `not-${ME.host}`, boot: ME.boot },
      { pid: process.pid, host: ME.host, boot: `not-${ME.boot}` },
    ]) {
      const { path, lock } = lockAt(60_000);
      leaveLock(path, JSON.stringify(owner), new Date(Date.now() - 30_000));
      expectLocked(lock, path, false);
      expect(readOwner(path)).toEqual(owner);
      fs.utimesSync(path, new Date(Date.now() - 120_000), new Date(Date.now() - 120_000));
      const release = take(lock, false);
      expect(readOwner(path)).toEqual(ME);
      release();
    }
  });

  it('a dead pid recorded by another host is not taken over while fresh: that pid is another machine\'s', () => {
    const { path, lock } = lockAt(600_000);
    leaveLock(path, JSON.stringify({ pid: deadPid(), host: `not-${ME.host}`, boot: ME.boot }), new Date());
    expectLocked(lock, path, false);
  });

  it('a file whose owner cannot be read (empty, cut short, fields missing or of the wrong type) is judged by its age', () => {
    for (const content of ['', '{"pid":', JSON.stringify({ pid: deadPid(), host: ME.host }), JSON.stringify({ pid: String(deadPid()), host: ME.host, boot: ME.boot })]) {
      const { path, lock } = lockAt(60_000);
      leaveLock(path, content, new Date());
      expectLocked(lock, path, false);
      expect(fs.readFileSync(path, 'utf8')).toBe(content);
      fs.utimesSync(path, HOUR_AGO(), HOUR_AGO());
      take(lock, false)();
      expect(fs.existsSync(path)).toBe(false);
    }
  });

  it('a folder left by the mkdir strategy is judged by its age, and removed once stale', () => {
    const { path, lock } = lockAt(60_000);
    fs.mkdirSync(path);
    expectLocked(lock, path, false);
    expect(fs.lstatSync(path).isDirectory()).toBe(true);
    fs.utimesSync(path, HOUR_AGO(), HOUR_AGO());
    take(lock, false);
    expect(fs.lstatSync(path).isFile()).toBe(true);
    expect(readOwner(path)).toEqual(ME);
  });

  it('a symbolic link at the lock\'s path is never followed nor removed: ELOOP, and readOwner finds no owner through it', () => {
    const { path, lock } = lockAt(60_000);
    const target = join(dirname(path), 'target');
    leaveLock(target, JSON.stringify({ pid: deadPid(), host: ME.host, boot: ME.boot }), HOUR_AGO());
    fs.symlinkSync(target, path);
    expect(failure(() => lock.take(false)).code).toBe('ELOOP');
    expect(fs.lstatSync(path).isSymbolicLink()).toBe(true);
    expect(parseOwner(fs.readFileSync(target, 'utf8'))?.host).toBe(ME.host);
    expect(readOwner(path)).toBeUndefined();
    expect(readOwner(join(dirname(path), 'missing'))).toBeUndefined();
  });

  it('while another process holds the breaker folder, a dead lock is left to it; a breaker folder older than 2 s (its maker was killed) is removed, and the next attempt takes the lock', () => {
    const { path, lock, breaker } = lockAt(600_000);
    const dead = JSON.stringify({ pid: deadPid(), host: ME.host, boot: ME.boot });
    leaveLock(path, dead, new Date());
    fs.mkdirSync(breaker);
    fs.utimesSync(breaker, AHEAD(), AHEAD());
    expectLocked(lock, path, false);
    expect(fs.readFileSync(path, 'utf8')).toBe(dead);
    expect(fs.existsSync(breaker)).toBe(true);

    fs.utimesSync(breaker, HOUR_AGO(), HOUR_AGO());
    expectLocked(lock, path, false);
    expect(fs.existsSync(breaker)).toBe(false);
    expect(fs.readFileSync(path, 'utf8')).toBe(dead);
    take(lock, false);
    expect(readOwner(path)).toEqual(ME);
  });

  it('a file, not a folder, at the breaker\'s path is never removed: the dead lock stays until it is gone', () => {
    const { path, lock, breaker } = lockAt(600_000);
    leaveLock(path, JSON.stringify({ pid: deadPid(), host: ME.host, boot: ME.boot }), new Date());
    leaveLock(breaker, 'not ours', HOUR_AGO());
    expectLocked(lock, path, false);
    expectLocked(lock, path, false);
    expect(fs.readFileSync(breaker, 'utf8')).toBe('not ours');
    fs.unlinkSync(breaker);
    take(lock, false);
    expect(readOwner(path)).toEqual(ME);
  });
});

describe('LockFile: the mark of a waiting process', () => {
  it('a refused take marks the lock as wanted (making the mark, then refreshing its time); the waiter that then gets the lock removes the mark', () => {
    const { path, lock, wanted } = lockAt();
    const release = take(lock);
    const waiter = new LockFile(path, 600_000, () => undefined);
    expect(fs.existsSync(wanted)).toBe(false);
    expectLocked(waiter, path);
    expect(fs.lstatSync(wanted).isFile()).toBe(true);
    fs.utimesSync(wanted, HOUR_AGO(), HOUR_AGO());
    expectLocked(waiter, path);
    expect(Date.now() - fs.lstatSync(wanted).mtimeMs).toBeLessThan(600_000);
    release();
    take(waiter);
    expect(fs.existsSync(wanted)).toBe(false);
  });

  it('a free lock with a fresh mark is left to the waiter (ELOCKED, no lock made) unless the taker does not yield; an old mark is a waiter that gave up, and stays', () => {
    const { path, lock, wanted } = lockAt();
    fs.writeFileSync(wanted, '');
    fs.utimesSync(wanted, AHEAD(), AHEAD());
    expectLocked(lock, path);
    expect(fs.existsSync(path)).toBe(false);
    take(lock, false)();

    fs.utimesSync(wanted, HOUR_AGO(), HOUR_AGO());
    take(lock)();
    // This taker never waited: the mark is not its own to remove.
    expect(fs.existsSync(wanted)).toBe(true);
  });

  it('a process that waited itself is not held back by the mark it made', () => {
    const { path, lock, wanted } = lockAt();
    const holder = new LockFile(path, 600_000, () => undefined);
    const release = take(holder);
    expectLocked(lock, path);
    fs.utimesSync(wanted, AHEAD(), AHEAD());
    release();
    // The mark is fresh, and it is this lock's own: it takes the lock and removes the mark.
    const mine = take(lock);
    expect(fs.existsSync(wanted)).toBe(false);
    mine();
    // Its wait is over: a mark another waiter makes now holds it back like any other taker.
    fs.writeFileSync(wanted, '');
    fs.utimesSync(wanted, AHEAD(), AHEAD());
    expectLocked(lock, path);
    expect(fs.existsSync(path)).toBe(false);
  });

  it('a mark that cannot be made (a dangling link in its place) does not stop the waiting, and nothing is created through the link', () => {
    const { path, lock, wanted } = lockAt();
    const target = join(dirname(path), 'elsewhere');
    fs.symlinkSync(target, wanted);
    const release = take(new LockFile(path, 600_000, () => undefined), false);
    expectLocked(lock, path, false);
    expect(fs.existsSync(target)).toBe(false);
    release();
    take(lock);
    expect(readOwner(path)).toEqual(ME);
  });

  it('a link planted at the mark\'s path is not followed: what it points to keeps its times', () => {
    const { path, lock, wanted } = lockAt();
    const target = join(dirname(path), 'precious');
    leaveLock(target, 'outside', HOUR_AGO());
    const before = fs.statSync(target).mtimeMs;
    fs.symlinkSync(target, wanted);
    take(new LockFile(path, 600_000, () => undefined), false);
    expectLocked(lock, path, false);
    expect(fs.statSync(target).mtimeMs).toBe(before);
    expect(fs.readFileSync(target, 'utf8')).toBe('outside');
  });

  it('parseOwner() takes a record only with a numeric pid and string host and boot', () => {
    expect(parseOwner(JSON.stringify(ME))).toEqual(ME);
    expect(parseOwner(`${JSON.stringify(ME)}\n`)).toEqual(ME);
    for (const broken of [{ ...ME, pid: String(ME.pid) }, { ...ME, host: 1 }, { ...ME, boot: null }, { host: ME.host, boot: ME.boot }, { pid: ME.pid, boot: ME.boot }, { pid: ME.pid, host: ME.host }]) {
      expect(parseOwner(JSON.stringify(broken))).toBeUndefined();
    }
    expect(parseOwner('')).toBeUndefined();
    expect(parseOwner('{"pid": 1, "host": "h", "bo')).toBeUndefined();
  });

  it('names the breaker folder and the wanted mark after the lock', () => {
    expect(lockCompanions('.laminate.lock')).toEqual({ breaker: '.laminate.lock.break', wanted: '.laminate.lock.wanted' });
  });
});

describe('LockFile: refresh while held', () => {
  it('keeps the lock\'s time fresh every staleMs / 2, so that other hosts do not judge it dead', async () => {
    const { path, lock, compromised } = lockAt(200);
    take(lock);
    fs.utimesSync(path, HOUR_AGO(), HOUR_AGO());
    await vi.waitFor(() => expect(Date.now() - fs.lstatSync(path).mtimeMs).toBeLessThan(60_000), { timeout: 20_000, interval: 20 });
    // Refreshed again after that, not once only.
    fs.utimesSync(path, HOUR_AGO(), HOUR_AGO());
    await vi.waitFor(() => expect(Date.now() - fs.lstatSync(path).mtimeMs).toBeLessThan(60_000), { timeout: 20_000, interval: 20 });
    expect(compromised).toEqual([]);
  });

  it('tells the holder when its lock file was removed, or taken over by another process', async () => {
    const removed = lockAt(200);
    take(removed.lock);
    fs.unlinkSync(removed.path);
    await vi.waitFor(() => expect(removed.compromised.map((e) => e.message)).toEqual([`the lock file ${removed.path} was removed`]), { timeout: 20_000, interval: 20 });

    const replaced = lockAt(200);
    take(replaced.lock);
    fs.unlinkSync(replaced.path);
    fs.writeFileSync(replaced.path, JSON.stringify(ME));
    await vi.waitFor(() => expect(replaced.compromised.map((e) => e.message)).toEqual([`the lock file ${replaced.path} was taken over by another process`]), { timeout: 20_000, interval: 20 });
    // Told once: the refresh stops with the lock lost. A lock taken now with the same period is the clock: once it
    // was refreshed twice, the lost lock's timer, started earlier, would have fired again too.
    const clock = lockAt(200);
    take(clock.lock);
    for (let tick = 0; tick < 2; tick++) {
      fs.utimesSync(clock.path, HOUR_AGO(), HOUR_AGO());
      await vi.waitFor(() => expect(Date.now() - fs.lstatSync(clock.path).mtimeMs).toBeLessThan(60_000), { timeout: 20_000, interval: 20 });
    }
    expect(replaced.compromised.length).toBe(1);
    expect(removed.compromised.length).toBe(1);
  });
});

describe('LockFile: a process that ends holding its lock', () => {
  it('one that exits (even with its lock held) removes it; the refresh timer does not keep it alive', async () => {
    const path = join(tempDir(), '.lock');
    const child = spawnFixture(join(here, 'fixtures', 'lock-file-exit.ts'), [path, 'exit'], children);
    const lines = await child.ended;
    expect(lines).toEqual([`held ${child.process.pid}`]);
    expect(fs.existsSync(path)).toBe(false);
  });

  it('leaves a lock file that replaced its own (a takeover) in place', async () => {
    const path = join(tempDir(), '.lock');
    const child = spawnFixture(join(here, 'fixtures', 'lock-file-exit.ts'), [path, 'replaced'], children);
    await child.ended;
    expect(fs.readFileSync(path, 'utf8')).toBe('someone else');
  });
});


describe('LockFile: a full disk', () => {
  it('when not even the owner record fits, the take fails with ENOSPC and leaves no lock file behind', () => {
    const dir = mountTmpfs('size=64k');
    // Fill it: the lock file can still be created (an inode), but not written (a block).
    const fill = fs.openSync(join(dir, 'fill'), 'w');
    try {
      for (;;) fs.writeSync(fill, Buffer.alloc(4096));
    } catch (error) {
      expect((error as NodeJS.ErrnoException).code).toBe('ENOSPC');
    } finally {
      fs.closeSync(fill);
    }
    const path = join(dir, '.lock');
    const lock = new LockFile(path, 600_000, () => undefined);
    expect(failure(() => lock.take()).code).toBe('ENOSPC');
    expect(fs.existsSync(path)).toBe(false);
    fs.unlinkSync(join(dir, 'fill'));
    take(lock)();
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('with no inode left, a dead lock cannot be taken over (no breaker folder can be made): ENOSPC, and the dead lock stays', () => {
    const dir = mountTmpfs('size=1m,nr_inodes=8');
    const path = join(dir, '.lock');
    const dead = JSON.stringify({ pid: deadPid(), host: ME.host, boot: ME.boot });
    fs.writeFileSync(path, dead);
    try {
      for (let i = 0; ; i++) fs.writeFileSync(join(dir, `f${i}`), '');
    } catch (error) {
      expect((error as NodeJS.ErrnoException).code).toBe('ENOSPC');
    }
    const lock = new LockFile(path, 600_000, () => undefined);
    expect(failure(() => lock.take(false)).code).toBe('ENOSPC');
    expect(fs.readFileSync(path, 'utf8')).toBe(dead);
    fs.unlinkSync(join(dir, 'f0'));
    take(lock, false);
    expect(readOwner(path)).toEqual(ME);
  });
});
