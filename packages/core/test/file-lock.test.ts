/**
 * file()'s directory lock: the lock file made with O_EXCL (the default) and
 * proper-lockfile's folder (`lock: 'mkdir'`). Real child processes hold it,
 * some are killed with SIGKILL while they do; what is checked is who gets the
 * lock, the error codes, and what is left on disk.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { file, isLaminateError, open } from '@laminate/core';
import { rejection, tempDirs } from '@laminate/core/testing';

const here = dirname(fileURLToPath(import.meta.url));
const ROOT = join(here, '..', '..', '..');
const tempDir = tempDirs('laminate-file-lock-test-', afterAll);
const LOCK = '.laminate.lock';
const children: ChildProcess[] = [];

afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

/** A child holding `dir`'s lock (fixtures/hold-lock.ts), once it says so. */
async function holder(dir: string, strategy: 'file' | 'mkdir') {
  const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', join(here, 'fixtures', 'hold-lock.ts'), dir, strategy], { cwd: ROOT, stdio: 'pipe' });
  children.push(child);
  let out = '';
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const line = (prefix: string) =>
    new Promise<string>((resolve, reject) => {
      const check = () => {
        const found = out.split('\n').find((l) => l.startsWith(prefix));
        if (found !== undefined) resolve(found);
      };
      child.stdout!.on('data', (d) => {
        out += d;
        check();
      });
      void exited.then(() => {
        check();
        reject(new Error(`hold-lock.ts exited before printing "${prefix}": ${err}`));
      });
      check();
    });
  const pid = Number((await line('held ')).split(' ')[1]);
  return {
    pid,
    kill: async () => {
      child.kill('SIGKILL');
      expect((await exited).signal).toBe('SIGKILL');
    },
    release: async () => {
      const released = line('released');
      child.stdin!.write('release\n');
      await released;
      expect((await exited).code).toBe(0);
    },
  };
}

/** A pid that belonged to a process on this machine which has exited. */
function deadPid(): number {
  const done = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(done.stdout);
}

function bootId(): string {
  try {
    return fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return '';
  }
}

describe("file(): the lock file (the default 'file' strategy)", () => {
  it('records its holder while held, is gone once the call is over, and another store waits and then gets ERR_LOCKED carrying the holder\'s pid and host', async () => {
    const dir = tempDir();
    const held = await holder(dir, 'file');
    const stat = fs.lstatSync(join(dir, LOCK));
    expect(stat.isFile()).toBe(true);
    const owner = JSON.parse(fs.readFileSync(join(dir, LOCK), 'utf8'));
    expect(owner).toEqual({ pid: held.pid, host: hostname(), boot: bootId() });

    // A live holder's lock is never taken, however small lockStaleMs is; onLockWait is told who holds it.
    const waits: unknown[] = [];
    const waiting = file(dir, { lockTimeoutMs: 300, lockStaleMs: 2000, onLockWait: (wait) => void waits.push(wait) });
    const error = await rejection(waiting.append({ k: Buffer.from('x') }));
    expect(waits).toEqual([{ path: dir, timeoutMs: 300, holder: { pid: held.pid, host: hostname() } }]);
    expect(isLaminateError(error, 'ERR_LOCKED')).toBe(true);
    expect((error as unknown as { holder: unknown }).holder).toEqual({ pid: held.pid, host: hostname() });
    expect(fs.existsSync(join(dir, 'k'))).toBe(false);

    // Let go: the waiter gets it, and the lock file is gone after the call.
    await held.release();
    expect(fs.existsSync(join(dir, LOCK))).toBe(false);
    await waiting.append({ k: Buffer.from('x') });
    await waiting.close();
    expect(fs.existsSync(join(dir, LOCK))).toBe(false);
    expect(fs.readFileSync(join(dir, 'k'), 'utf8')).toBe('x');
  });

  it('the lock of a process killed with SIGKILL is taken over as soon as it is found, long before lockStaleMs', async () => {
    const dir = tempDir();
    const held = await holder(dir, 'file');
    await held.kill();
    // The dead process's lock is still there…
    expect(JSON.parse(fs.readFileSync(join(dir, LOCK), 'utf8')).pid).toBe(held.pid);
    // …and a store that would wait 20 s at most, for a lock that ages out only after 10 minutes, gets it.
    const store = file(dir, { lockStaleMs: 600_000, lockTimeoutMs: 20_000 });
    await store.append({ after: Buffer.from('kill') });
    expect(Buffer.from(await store.get('after')).toString()).toBe('kill');
    await store.close();
    expect(fs.readdirSync(dir).sort()).toEqual(['.laminate.gen', 'after']);
  });

  it('an exclusive open takes over a dead process\'s lock too, and refuses a live one\'s', async () => {
    const dir = tempDir();
    fs.writeFileSync(join(dir, LOCK), JSON.stringify({ pid: deadPid(), host: hostname(), boot: bootId() }));
    const owner = file(dir, { exclusive: true, lockStaleMs: 600_000 });
    expect(JSON.parse(fs.readFileSync(join(dir, LOCK), 'utf8')).pid).toBe(process.pid);
    let error: unknown;
    try {
      file(dir, { exclusive: true });
    } catch (caught) {
      error = caught;
    }
    expect(isLaminateError(error, 'ERR_LOCKED')).toBe(true);
    await owner.close();
    expect(fs.existsSync(join(dir, LOCK))).toBe(false);
  });

  it('a lock of another machine (or an unreadable one) is taken over once older than lockStaleMs, and not before', async () => {
    const dir = tempDir();
    const lock = join(dir, LOCK);
    fs.writeFileSync(lock, JSON.stringify({ pid: process.pid, host: `not-${hostname()}`, boot: 'x' }));
    const store = file(dir, { lockStaleMs: 600_000, lockTimeoutMs: 200 });
    expect(isLaminateError(await rejection(store.append({ k: Buffer.from('no') })), 'ERR_LOCKED')).toBe(true);
    expect(fs.existsSync(join(dir, 'k'))).toBe(false);

    const old = new Date(Date.now() - 3_600_000);
    fs.utimesSync(lock, old, old);
    await store.append({ k: Buffer.from('yes') });
    expect(fs.readFileSync(join(dir, 'k'), 'utf8')).toBe('yes');

    // Closing lets go of the lock kept for a call that might have followed.
    await store.close();
    expect(fs.existsSync(lock)).toBe(false);

    // An empty lock file (its maker died before writing its owner) is judged by its age the same way.
    fs.writeFileSync(lock, '');
    const next = file(dir, { lockStaleMs: 600_000, lockTimeoutMs: 200 });
    expect(isLaminateError(await rejection(next.append({ k: Buffer.from('no') })), 'ERR_LOCKED')).toBe(true);
    fs.utimesSync(lock, old, old);
    await next.append({ k: Buffer.from('!') });
    expect(fs.readFileSync(join(dir, 'k'), 'utf8')).toBe('yes!');
    await next.close();
    expect(fs.existsSync(lock)).toBe(false);
  });
});

describe("file(): lock: 'mkdir' (proper-lockfile's folder, for network filesystems)", () => {
  it('holds a folder at the same path, is recorded by describe() and reopens from its spec; an unknown strategy is ERR_INVALID_OPTION', async () => {
    const dir = tempDir();
    const store = file(dir, { lock: 'mkdir' });
    expect(await store.withLock(async () => fs.lstatSync(join(dir, LOCK)).isDirectory())).toBe(true);
    await store.append({ k: Buffer.from('m') });
    expect(store.describe()).toEqual({ type: 'file', path: dir, lock: 'mkdir' });
    expect(file(dir).describe()).toEqual({ type: 'file', path: dir });
    await store.close();
    const again = open(store.describe());
    expect(await again.withLock(async () => fs.lstatSync(join(dir, LOCK)).isDirectory())).toBe(true);
    await again.close();
    let error: unknown;
    try {
      file(dir, { lock: 'flock' as never });
    } catch (caught) {
      error = caught;
    }
    expect(isLaminateError(error, 'ERR_INVALID_OPTION')).toBe(true);
  });

  for (const [holding, waiting] of [['mkdir', 'file'], ['file', 'mkdir']] as const) {
    it(`a process holding the ${holding} lock excludes a store using the ${waiting} lock, which gets the lock once it is let go`, async () => {
      const dir = tempDir();
      const held = await holder(dir, holding);
      const other = file(dir, { lock: waiting, lockTimeoutMs: 300 });
      expect(isLaminateError(await rejection(other.append({ k: Buffer.from('x') })), 'ERR_LOCKED')).toBe(true);
      expect(fs.existsSync(join(dir, 'k'))).toBe(false);
      await held.release();
      await other.append({ k: Buffer.from('x') });
      await other.close();
      expect(fs.readFileSync(join(dir, 'k'), 'utf8')).toBe('x');
      expect(fs.existsSync(join(dir, LOCK))).toBe(false);
    });
  }
});
