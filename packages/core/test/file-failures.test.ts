/**
 * file() when the system fails it: a directory deleted or replaced under an
 * open store, a read-only filesystem, a full disk (no space, no inodes), a
 * key too long for a path, a lock held elsewhere at close; and the
 * temporary directories of processes killed with SIGKILL.
 *
 * Nothing is mocked. Full and read-only disks are real tmpfs mounts, which
 * need root: those tests fail (they are not skipped) when run without it,
 * saying so. Other processes are real `node` children.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { type FileStore, type Key, type StoreSpec, buffer, dict, file, open, zlib } from '@laminate/core';
import { rejection } from '@laminate/core/testing';

const here = dirname(fileURLToPath(import.meta.url));
const ROOT = join(here, '..', '..', '..');

const scratch: string[] = [];
const mounts: string[] = [];
const children: ChildProcess[] = [];

afterAll(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  // Lazily: a store a failed test left open would keep the mount busy.
  for (const dir of mounts) spawnSync('umount', ['-l', dir]);
  for (const dir of scratch) fs.rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = fs.mkdtempSync(join(tmpdir(), 'laminate-failures-test-'));
  scratch.push(dir);
  return dir;
}

/** Fails the test, loudly, unless it runs as root: it mounts filesystems or gives files away. */
function requireRoot(what: string): void {
  if (process.getuid?.() !== 0) {
    throw new Error(`This test ${what}, which needs root. Run the suite as root (CI does); it fails rather than skips, so that a run without root cannot pass by testing nothing.`);
  }
}

/** A fresh tmpfs mounted with `options` (size=…, nr_inodes=…), unmounted after the tests. */
function mountTmpfs(options: string): string {
  requireRoot('mounts a tmpfs filesystem (a real full or read-only disk)');
  const dir = tempDir();
  execFileSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir], { stdio: 'pipe' });
  mounts.push(dir);
  return dir;
}

const bytes = (text: string) => Buffer.from(text);
const text = (value: Uint8Array) => Buffer.from(value).toString();
const sortedJson = (keys: readonly Key[]) => keys.map((k) => JSON.stringify(k)).sort();

/** Every file and folder under `dir` (links not followed), with file sizes; the lock's folder, there only while a call holds it, is left out. */
function tree(dir: string): Record<string, number | 'folder'> {
  const found: Record<string, number | 'folder'> = {};
  for (const name of fs.readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort()) {
    if (basename(name) === '.laminate.lock') continue;
    const stat = fs.lstatSync(join(dir, name));
    found[name] = stat.isDirectory() ? 'folder' : stat.size;
  }
  return found;
}

/** What a failed call must never leave: an empty file (but the generation file), an empty folder (but .iset and the lock), a value written aside. */
function leftovers(dir: string): string[] {
  return Object.entries(tree(dir))
    .filter(([name, size]) => {
      if (name === '.laminate.gen' || name === '.iset') return false;
      if (basename(name).startsWith('.tmp-')) return true;
      return size === 0 || (size === 'folder' && fs.readdirSync(join(dir, name)).length === 0);
    })
    .map(([name]) => name);
}

/** Fills the filesystem at `mount` with a file, then frees `free` bytes of it; returns the file. */
function fillLeaving(mount: string, free: number): string {
  const filler = join(mount, 'filler');
  const fd = fs.openSync(filler, 'w');
  const block = Buffer.alloc(64 << 10, 7);
  try {
    for (;;) fs.writeSync(fd, block);
  } catch (error) {
    expect((error as NodeJS.ErrnoException).code).toBe('ENOSPC');
  }
  fs.ftruncateSync(fd, Math.max(0, fs.fstatSync(fd).size - free));
  fs.closeSync(fd);
  return filler;
}

/** A child process running fixtures/temporary-owner.ts: a temporary store, its describe() once ready. */
class TemporaryOwner {
  readonly process: ChildProcess;
  private readonly lines: string[] = [];
  private readonly waiting: (() => void)[] = [];
  readonly exited: Promise<void>;

  constructor(env: NodeJS.ProcessEnv = process.env) {
    this.process = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', join(here, 'fixtures', 'temporary-owner.ts')], { cwd: ROOT, env, stdio: 'pipe' });
    children.push(this.process);
    let stderr = '';
    this.process.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    createInterface({ input: this.process.stdout! }).on('line', (line) => {
      this.lines.push(line);
      for (const wake of this.waiting.splice(0)) wake();
    });
    this.exited = new Promise((resolve) => this.process.on('close', () => resolve()));
    void this.exited.then(() => {
      if (this.process.exitCode) throw new Error(`temporary-owner.ts failed:\n${stderr}`);
    });
  }

  get pid(): number {
    return this.process.pid!;
  }

  async line(wanted: string): Promise<void> {
    while (!this.lines.includes(wanted)) await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  /** The store's describe(), once it is ready. */
  async spec(): Promise<StoreSpec & { path: string }> {
    await this.line('ready');
    return JSON.parse(this.lines[0]);
  }

  send(line: string): void {
    this.process.stdin!.write(`${line}\n`);
  }
}

/** Runs `fn` with $TMPDIR set to `dir` (os.tmpdir() reads it on each call). */
function withTmpdir<T>(dir: string, fn: () => T): T {
  const before = process.env.TMPDIR;
  process.env.TMPDIR = dir;
  try {
    return fn();
  } finally {
    if (before === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = before;
  }
}

/** Longer than the 10 ms within which a call notices that its directory is gone (directory-lock.ts). */
const PAST_PRESENCE_CHECK = () => new Promise((resolve) => setTimeout(resolve, 30));

// ---------------------------------------------------------------- the directory removed under an open store

describe('file(): its directory removed or replaced while the store is open', () => {
  const cases = [
    { mode: 'shared', exclusive: false, after: PAST_PRESENCE_CHECK },
    { mode: 'exclusive', exclusive: true, after: PAST_PRESENCE_CHECK },
    // The lock's refresh (every lockStaleMs / 2) has failed by then: not "the lock was lost", and close() does not throw ERELEASED.
    { mode: 'exclusive, once its lock is found lost', exclusive: true, lockStaleMs: 2000, after: () => new Promise((resolve) => setTimeout(resolve, 1500)) },
  ];
  for (const { mode, after, ...opts } of cases) {
    it(`every call is ERR_NOT_FOUND saying so, none resolves into a file no one can read, and close() works (${mode})`, async () => {
      const dir = tempDir();
      const store = file(dir, opts);
      await store.append({ a: bytes('kept') });
      fs.rmSync(dir, { recursive: true });
      await after();
      const calls: [string, () => Promise<unknown>][] = [
        ['append to a key with an open file', () => store.append({ a: bytes('lost') })],
        ['append to a new key', () => store.append({ b: bytes('lost') })],
        ['get', () => store.get('a')],
        ['keys', () => store.keys()],
        ['iset', () => store.iset('m', bytes('x'))],
        ['delete', () => store.delete(['a'])],
      ];
      for (const [what, call] of calls) {
        const error = await rejection(call());
        expect(error.code, what).toBe('ERR_NOT_FOUND');
        expect(error.message, what).toContain(`The directory ${dir} of this file() store was removed while the store was open`);
      }
      // Nothing made the directory again to write into it.
      expect(fs.existsSync(dir)).toBe(false);
      await store.close();
    });
  }

  it('a directory made anew at the path is not the store\'s: ERR_NOT_FOUND, and nothing is written into it', async () => {
    const dir = tempDir();
    const store = file(dir);
    await store.append({ a: bytes('kept') });
    fs.rmSync(dir, { recursive: true });
    fs.mkdirSync(dir);
    await PAST_PRESENCE_CHECK();
    const error = await rejection(store.append({ a: bytes('lost') }));
    expect(error.code).toBe('ERR_NOT_FOUND');
    expect(error.message).toContain('was replaced by another directory');
    expect(fs.readdirSync(dir)).toEqual([]);
    await store.close();
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('a key found missing right after the directory was removed is ERR_NOT_FOUND, not an empty value, even within the presence check interval', async () => {
    const dir = tempDir();
    // Single-owner mode holds the lock throughout, so no lock taken per call notices the removal first.
    const store = file(dir, { exclusive: true });
    await store.append({ a: bytes('kept') });
    fs.rmSync(dir, { recursive: true });
    for (const read of [() => store.get('never-written'), () => store.getView('never-written'), () => store.readRanges([{ key: 'a', offset: 0, length: 2 }])]) {
      const error = await rejection(read());
      expect(error.code).toBe('ERR_NOT_FOUND');
      expect(error.message).toContain('was removed while the store was open');
    }
    await store.close();
    expect(fs.existsSync(dir)).toBe(false);
  });

  it('another process closing the temporary store whose directory this one uses: ERR_NOT_FOUND at once, not ERR_LOCKED after lockTimeoutMs', async () => {
    const owner = new TemporaryOwner();
    const spec = await owner.spec();
    const user = open(spec) as FileStore;
    expect(text(await user.get('made'))).toBe('by the owner');
    await user.append({ mine: bytes('x') });
    owner.send('close');
    await owner.line('closed');
    expect(fs.existsSync(spec.path)).toBe(false);
    const started = performance.now();
    const error = await rejection(user.get('made'));
    expect(error.code).toBe('ERR_NOT_FOUND');
    expect(error.message).toContain('was removed while the store was open');
    await user.close();
    expect(performance.now() - started).toBeLessThan(2000);
    // Closing the user's store removed nothing: it did not make the directory.
    expect(fs.existsSync(spec.path)).toBe(false);
  });
});

// ---------------------------------------------------------------- close() after ERR_LOCKED

describe('file(): close() does not wait for the directory lock', () => {
  it('a store that got ERR_LOCKED closes at once, without waiting lockTimeoutMs again', async () => {
    const dir = tempDir();
    const owner = file(dir, { exclusive: true });
    await owner.append({ a: bytes('1') });
    const other = file(dir, { lockTimeoutMs: 600 });
    expect((await rejection(other.get('a'))).code).toBe('ERR_LOCKED');
    const started = performance.now();
    await other.close();
    expect(performance.now() - started).toBeLessThan(300);
    // The owner's lock and data are untouched.
    expect(text(await owner.get('a'))).toBe('1');
    await owner.close();
  });
});

// ---------------------------------------------------------------- keys too long for a path

describe('file(): a key whose path would be too long for the system', () => {
  for (const layout of ['escaped', 'partd'] as const) {
    it(`is ERR_INVALID_KEY before anything of the call is written (layout ${layout})`, async () => {
      const dir = tempDir();
      const store = file(dir, { layout });
      await store.append({ before: bytes('x') });
      const before = tree(dir);
      const long = Array.from({ length: 2000 }, (_, i) => `p${i}`);
      const error = await rejection(store.append([['ok', bytes('y')], [long, bytes('z')]]));
      expect(error.code).toBe('ERR_INVALID_KEY');
      expect(error).toBeInstanceOf(TypeError);
      expect(error.message).toContain('is too long for file()');
      expect(tree(dir)).toEqual(before);
      for (const call of [() => store.get(long), () => store.iset(long, bytes('m')), () => store.delete([long])]) {
        expect((await rejection(call())).code).toBe('ERR_INVALID_KEY');
      }
      expect(tree(dir)).toEqual(before);
      // A long tuple that fits is stored as ever.
      const fits = long.slice(0, 300);
      await store.append([[fits, bytes('fits')]]);
      expect(text(await store.get(fits))).toBe('fits');
      expect(sortedJson(await store.keys())).toEqual(sortedJson(['before', fits]));
      await store.close();
    });
  }
});

// ---------------------------------------------------------------- a read-only filesystem

describe('file() on a read-only filesystem', () => {
  it('opens read-only: get, getMany, keys, iter, iget and readRanges work; writes are ERR_READ_ONLY and change nothing', async () => {
    const mount = mountTmpfs('size=1m');
    const dir = join(mount, 'store');
    const writer = file(dir);
    await writer.append([['a', bytes('alpha')], [['t', 1], bytes('tuple')]]);
    await writer.append({ a: bytes('+more') });
    await writer.iset('meta', bytes('m'));
    await writer.close();
    const framed = zlib(file(join(mount, 'framed')));
    await framed.append({ z: bytes('compressed') });
    await framed.close();
    execFileSync('mount', ['-o', 'remount,ro', mount], { stdio: 'pipe' });
    const before = tree(mount);

    for (const exclusive of [false, true]) {
      const store = file(dir, { exclusive });
      expect(store.readOnly).toBe(true);
      expect(text(await store.get('a'))).toBe('alpha+more');
      expect((await store.getMany(['a', ['t', 1], 'missing'])).map(text)).toEqual(['alpha+more', 'tuple', '']);
      expect(sortedJson(await store.keys())).toEqual(sortedJson(['a', ['t', '1']]));
      const pieces: string[] = [];
      for await (const piece of store.iter('a')) pieces.push(text(piece));
      expect(pieces.join('')).toBe('alpha+more');
      expect(text(await store.iget('meta'))).toBe('m');
      expect((await store.readRanges([{ key: 'a', offset: 2, length: 3 }])).map(text)).toEqual(['pha']);
      const writes: [string, () => Promise<unknown>][] = [
        ['append', () => store.append({ a: bytes('x') })],
        ['iset', () => store.iset('other', bytes('x'))],
        ['delete', () => store.delete(['a'])],
        ['drop', () => store.drop()],
      ];
      for (const [what, write] of writes) {
        const error = await rejection(write());
        expect(error.code, what).toBe('ERR_READ_ONLY');
        expect(error.message, what).toContain('read-only filesystem, so this file() store opened read-only');
      }
      await store.close();
    }
    const again = zlib(file(join(mount, 'framed')));
    expect(text(await again.get('z'))).toBe('compressed');
    await again.close();
    expect(tree(mount)).toEqual(before);

    // A store that is not there cannot be made: ERR_READ_ONLY, not a raw ENOENT or EROFS.
    const missing = (() => {
      try {
        file(join(mount, 'missing', 'store'));
      } catch (error) {
        return error as { code?: string; message: string };
      }
    })();
    expect(missing?.code).toBe('ERR_READ_ONLY');
    expect(missing?.message).toContain('read-only filesystem');
  });
});

// ---------------------------------------------------------------- a full disk

describe('file() on a full disk: a call is stored whole or not at all', () => {
  it('an append that does not fit stores none of its values: ERR_DISK_FULL names the key, keys hold what they held, no empty file, folder or torn value is left', async () => {
    const mount = mountTmpfs('size=512k');
    const dir = join(mount, 'store');
    const store = file(dir);
    await store.append({ a: bytes('first') });
    const big = Buffer.alloc(64 << 10, 1);
    // Room for the tuple key's small value and part of the big one.
    const filler = fillLeaving(mount, 5 * 4096);
    const call: [Key, Uint8Array][] = [
      ['a', bytes('second')],
      [['t', 'u'], bytes('x')],
      ['b', big],
    ];
    const error = await rejection(store.append(call));
    expect(error.code).toBe('ERR_DISK_FULL');
    expect(error.key).toBe('"b"');
    expect((error as { appended?: number }).appended).toBe(0);
    expect(error.message).toContain('key "b" did not fit. Nothing of this append call was stored');
    expect(text(await store.get('a'))).toBe('first');
    expect(fs.readFileSync(join(dir, 'a'), 'utf8')).toBe('first');
    expect(sortedJson(await store.keys())).toEqual(sortedJson(['a']));
    expect(leftovers(dir)).toEqual([]);
    expect(fs.existsSync(join(dir, 'b'))).toBe(false);

    // Free space, and the same call is stored whole.
    fs.rmSync(filler);
    await store.append(call);
    expect(text(await store.get('a'))).toBe('firstsecond');
    expect(text(await store.get(['t', 'u']))).toBe('x');
    expect(Buffer.compare(Buffer.from(await store.get('b')), big)).toBe(0);
    await store.close();
  });

  it('a long key whose name does not fit leaves no sidecar cut short, which would name it wrongly once stored', async () => {
    const mount = mountTmpfs('size=256k');
    const dir = join(mount, 'store');
    const store = file(dir);
    await store.append({ a: bytes('1') });
    const long = 'x'.repeat(300); // too long for a file name: hashed, its name kept in a sidecar
    const filler = fillLeaving(mount, 0);
    expect((await rejection(store.append({ [long]: bytes('v') }))).code).toBe('ERR_DISK_FULL');
    expect(leftovers(dir)).toEqual([]);
    fs.rmSync(filler);
    await store.append({ [long]: bytes('v') });
    expect(sortedJson(await store.keys())).toEqual(sortedJson(['a', long]));
    expect(text(await store.get(long))).toBe('v');
    await store.close();
  });

  it('under buffer(), a spill that does not fit keeps every value in memory, and none is written twice once there is room', async () => {
    const mount = mountTmpfs('size=512k');
    const disk = file(join(mount, 'store'));
    const store = buffer(dict(), disk, { availableMemory: 40 << 10 });
    await store.append({ small: bytes('s') });
    const filler = fillLeaving(mount, 3 * 4096);
    const big = Buffer.alloc(48 << 10, 2);
    expect((await rejection(store.append({ big, small: bytes('t') }))).code).toBe('ERR_DISK_FULL');
    expect(leftovers(disk.path)).toEqual([]);
    fs.rmSync(filler);
    await store.flush();
    expect(text(await disk.get('small'))).toBe('st');
    expect(Buffer.compare(Buffer.from(await disk.get('big')), big)).toBe(0);
    await store.close();
  });

  it('iset that does not fit is ERR_DISK_FULL and leaves no value aside; it works once there is room', async () => {
    const mount = mountTmpfs('size=256k');
    const dir = join(mount, 'store');
    const store = file(dir);
    await store.append({ a: bytes('1') });
    const filler = fillLeaving(mount, 0);
    const error = await rejection(store.iset('schema', Buffer.alloc(16 << 10, 3)));
    expect(error.code).toBe('ERR_DISK_FULL');
    expect(error.message).toContain('Free space and retry');
    expect(leftovers(dir)).toEqual([]);
    expect((await store.iget('schema')).byteLength).toBe(0);
    fs.rmSync(filler);
    await store.iset('schema', bytes('v1'));
    expect(text(await store.iget('schema'))).toBe('v1');
    await store.close();
  });

  it('when inodes run out, calls fail with ERR_DISK_FULL, every acknowledged call reads back whole and no half of a call is left', async () => {
    for (const layout of ['escaped', 'partd'] as const) {
      const dir = join(mountTmpfs('size=4m,nr_inodes=48'), layout);
      const store = file(dir, { layout });
      const stored: number[] = [];
      let error: { code?: string; appended?: number } | undefined;
      for (let i = 0; i < 100 && error === undefined; i++) {
        // Each call makes a file, a folder and a file in it: three inodes, besides the lock's folder.
        await store.append([[`k${i}`, bytes(`v${i}`)], [[`g${i}`, 'x'], bytes(`w${i}`)]]).then(
          () => stored.push(i),
          (e: { code?: string; appended?: number }) => (error = e),
        );
      }
      expect(error?.code, layout).toBe('ERR_DISK_FULL');
      expect(stored.length, layout).toBeGreaterThan(0);
      expect(leftovers(dir), layout).toEqual([]);
      const expected = stored.flatMap((i) => [`k${i}`, [`g${i}`, 'x']] as Key[]);
      expect(sortedJson(await store.keys()), layout).toEqual(sortedJson(expected));
      for (const i of stored) expect((await store.getMany([`k${i}`, [`g${i}`, 'x']])).map(text), layout).toEqual([`v${i}`, `w${i}`]);
      await store.close();
    }
  });
});

// ---------------------------------------------------------------- temporary directories

/** This process's start time, field 22 of /proc/self/stat (counted after the command's closing parenthesis). */
function startTime(pid: number | 'self'): string {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
}
/** Where this process's pid means it, as temporary folders name it: pid namespace, then boot id without dashes. */
const place = () => `${/\d+/.exec(fs.readlinkSync('/proc/self/ns/pid'))![0]}.${fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim().replaceAll('-', '')}`;

describe('file() with no path: temporary directories left by dead processes', () => {
  it('lives in $TMPDIR/laminate-<uid>/<pid>.…; a folder left by a process killed with SIGKILL is swept by the next temporary store, a live owner\'s is kept', async () => {
    const tmp = tempDir();
    const env = { ...process.env, TMPDIR: tmp };
    const killed = new TemporaryOwner(env);
    const live = new TemporaryOwner(env);
    const [killedSpec, liveSpec] = await Promise.all([killed.spec(), live.spec()]);
    const parent = join(tmp, `laminate-${process.getuid!()}`);
    expect(dirname(killedSpec.path)).toBe(parent);
    expect(fs.statSync(parent).mode & 0o777).toBe(0o700);
    expect(basename(killedSpec.path)).toMatch(new RegExp(`^${killed.pid}\\.${startTime(killed.pid)}\\.${place().replace('.', '\\.')}-[A-Za-z0-9]{6}$`));
    expect(basename(liveSpec.path).startsWith(`${live.pid}.`)).toBe(true);

    killed.process.kill('SIGKILL');
    await killed.exited;
    // Nothing could remove it: SIGKILL runs no handler.
    expect(fs.existsSync(killedSpec.path)).toBe(true);

    const store = withTmpdir(tmp, () => file());
    expect(dirname(store.path)).toBe(parent);
    expect(fs.existsSync(killedSpec.path)).toBe(false);
    expect(fs.readFileSync(join(liveSpec.path, 'made'), 'utf8')).toBe('by the owner');
    await store.close();

    live.send('close');
    await live.exited;
    expect(fs.readdirSync(parent)).toEqual([]);
  });

  it('sweeps only folders laminate names so, owned by this user, whose owner is gone (pid reuse included); never a link, a file, another user\'s, another pid namespace\'s or another machine\'s', async () => {
    requireRoot('gives a folder to another user (chown)');
    const tmp = tempDir();
    const parent = join(tmp, `laminate-${process.getuid!()}`);
    fs.mkdirSync(parent, { mode: 0o700 });
    const dead = Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout);
    const here = place();
    const [ns, boot] = here.split('.');
    const folder = (name: string) => {
      fs.mkdirSync(join(parent, name));
      fs.writeFileSync(join(parent, name, 'k'), 'v');
      return name;
    };
    const outside = tempDir();
    fs.writeFileSync(join(outside, 'precious'), 'not laminate\'s');

    const swept = [folder(`${dead}.1.${here}-AAAAAA`), folder(`${process.pid}.1.${here}-BBBBBB`)]; // dead; this pid, but another process's start time
    const kept = [
      folder(`${process.pid}.${startTime('self')}.${here}-CCCCCC`), // this very process
      folder(`${dead}.1.1.${boot}-DDDDDD`), // another pid namespace: its pids say nothing here
      folder(`${dead}.1.${ns}.${'0'.repeat(32)}-IIIIII`), // another machine sharing $TMPDIR (or a boot before)
      folder('not-laminate'),
      folder(`${dead}-EEEEEE`),
      folder(`${dead}.1.${here}-FFFFFF`), // given to another user below
      `${dead}.1.${here}-GGGGGG`, // a link, to a folder elsewhere
      `${dead}.1.${here}-HHHHHH`, // a file
    ];
    fs.chownSync(join(parent, kept[5]), 4242, 4242);
    fs.symlinkSync(outside, join(parent, kept[6]));
    fs.writeFileSync(join(parent, kept[7]), 'a file');

    const store = withTmpdir(tmp, () => file());
    for (const name of swept) expect(fs.existsSync(join(parent, name)), name).toBe(false);
    for (const name of kept) expect(fs.lstatSync(join(parent, name), { throwIfNoEntry: false }), name).toBeDefined();
    expect(fs.readFileSync(join(outside, 'precious'), 'utf8')).toBe('not laminate\'s');
    await store.close();

    // A parent that is not a folder of this user's (a link planted in a shared /tmp) is neither filled nor swept.
    const planted = tempDir();
    fs.symlinkSync(outside, join(planted, `laminate-${process.getuid!()}`));
    const elsewhere = withTmpdir(planted, () => file());
    expect(dirname(elsewhere.path)).toBe(planted);
    expect(fs.readdirSync(outside)).toEqual(['precious']);
    await elsewhere.close();
    expect(fs.readdirSync(planted)).toEqual([`laminate-${process.getuid!()}`]);
  });
});
