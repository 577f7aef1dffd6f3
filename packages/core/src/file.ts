import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { DescriptorCache, defaultMaxOpenFiles } from './descriptor-cache.js';
import { DirectoryLock, LOCK_STRATEGIES, type LockStrategy, type LockWait } from './directory-lock.js';
import { LaminateError, isLaminateError, typeError } from './errors.js';
import { fsyncFolders, fsyncPath } from './fsync.js';
import { KeyPaths, LAYOUTS, type LayoutName, escapedLayout } from './key-paths.js';
import { type Key, type KeyId, keyId, keyParts, showKey } from './keys.js';
import { Mutex } from './mutex.js';
import { ISET_DIR, foreignFilesError, inventory, isetAsideName } from './store-directory.js';
import { APPEND, READ, openOwn, readOwn } from './symlinks.js';
import { readSeal, removeSeal, sealPaths, watchKeyFile, writeSeal } from './follow-file.js';
import { type Consumer, pastEnd, trimTarget } from './retention.js';
import { consumerPaths, openPositioned, readConsumers, readFromPosition, removeConsumer, removeConsumers, removeMarker, rewriteFrom, startUnderLock, trimPaths, writeConsumer } from './retention-file.js';
import type { ChangeWatch } from './follow.js';
import { isSystemError, systemError } from './system-errors.js';
import { makeTemporaryDirectory, removedByStore, removeOnExit } from './temporary.js';
import { BytesStore, EMPTY_BYTES, type IdRange, type StoreSpec, type Supports } from './store.js';
import { registerLayer } from './spec.js';
import { Scratch, checkReadTarget, tooLargeForTarget } from './reused-reads.js';

export { whyNotAStore } from './store-directory.js';
export type { LockStrategy, LockWait } from './directory-lock.js';
export type { LayoutName } from './key-paths.js';

export interface FileOptions {
  /**
   * Single-owner mode: take the directory lock when the store opens and hold it
   * until close. Faster (no lock per call); another process opening the
   * directory meanwhile gets ERR_LOCKED.
   */
  exclusive?: boolean;
  /**
   * fsync every file an append wrote before the append resolves, and the
   * folders of the files it created (so that a new key survives a crash too).
   */
  fsync?: boolean;
  /**
   * How many append file descriptors to keep open (least recently used are
   * closed). Default: an eighth of the process's open-file limit, between 16
   * and 4096 (128 where the limit cannot be read).
   */
  maxOpenFiles?: number;
  /** A lock not refreshed for this long is taken to belong to a dead process (min 2000). */
  lockStaleMs?: number;
  /** How long to wait for the directory lock before ERR_LOCKED. */
  lockTimeoutMs?: number;
  /**
   * How the directory lock is made. 'file' (the default): a lock file
   * created with O_EXCL and removed after the call, recording its owner, so
   * that the lock of a process that died on this machine is taken over at
   * once. 'mkdir': a folder made and removed (proper-lockfile), about ten
   * times the cost, for directories on network filesystems, where an O_EXCL
   * create may not be atomic; there a dead process's lock is taken over once
   * lockStaleMs have passed. Every process sharing a network directory should
   * use 'mkdir'.
   */
  lock?: LockStrategy;
  /**
   * How keys are named on disk. 'escaped' (the default): every character
   * outside [A-Za-z0-9._-] is escaped and a tuple's folders end in `%d`, so any
   * key fits and 'a' and ['a', 'b'] coexist (filenames.ts). 'partd': Python
   * partd's names, a tuple as plain nested folders, so that partd shares tuple
   * keys too; a key part may hold only what partd keeps as it is, and a key
   * and a longer tuple key starting with it exclude each other (partd-layout.ts).
   */
  layout?: LayoutName;
  /**
   * Called when a call finds the directory lock held by another process or
   * store and starts waiting for it (up to lockTimeoutMs), so that a program
   * can say why it stalls; a function it returns is called when that wait
   * ends, with the lock taken or ERR_LOCKED. Not called in exclusive mode,
   * which never waits. Not part of describe(); a store that open() built
   * from a spec takes it as its `onLockWait` property.
   */
  onLockWait?: (wait: LockWait) => void | (() => void);
}

/** FileStore.drop()'s options. */
export interface FileDropOptions {
  /**
   * What drop() does when the directory holds entries file() did not write (a
   * `.git`, notes, a symlink): 'refuse' (the default) throws
   * ERR_FOREIGN_FILES and deletes nothing; 'keep' deletes the store's own
   * files and leaves those, with the folders that hold them.
   */
  foreign?: 'refuse' | 'keep';
}

const READ_PIECE = 4 << 20;

const NOT_REENTRANT = { reentrant: false } as const;

/** The fields describe() may write besides type and path, in the order it writes them. */
const SPEC_OPTIONS = ['exclusive', 'fsync', 'maxOpenFiles', 'lockStaleMs', 'lockTimeoutMs', 'lock', 'layout'] as const;
// maxOpenFiles is recorded whenever it was given: its default depends on the machine.
const DEFAULTS = { lockStaleMs: 10_000, lockTimeoutMs: 60_000, lock: 'file', layout: 'escaped' };

/** Writes all of `bytes`; a write the disk cannot finish is cut back, so that the file ends where it did. */
function writeWhole(fd: number, bytes: Uint8Array): void {
  let done = 0;
  try {
    while (done < bytes.byteLength) done += fs.writeSync(fd, bytes, done, bytes.byteLength - done);
  } catch (error) {
    if (done > 0) fs.ftruncateSync(fd, fs.fstatSync(fd).size - done);
    throw error;
  }
}

/** Reads up to `size` bytes from the start of the file `fd` into `into`; returns how many it read (fewer when the file ends sooner). */
function readAt(fd: number, into: Uint8Array, size: number): number {
  let done = 0;
  while (done < size) {
    const n = fs.readSync(fd, into, done, size - done, done);
    if (n === 0) break;
    done += n;
  }
  return done;
}

/** Cuts `bytes` off the end of the file at `path` (never through a link). */
function cutEnd(path: string, bytes: number): void {
  const fd = fs.openSync(path, fs.constants.O_WRONLY | (fs.constants.O_NOFOLLOW ?? 0));
  try {
    fs.ftruncateSync(fd, fs.fstatSync(fd).size - bytes);
  } finally {
    fs.closeSync(fd);
  }
}

/** Removes the file at `path` if it holds nothing, then each folder above it, up to `root`, that this leaves empty. */
function removeIfEmpty(root: string, path: string): void {
  // Never through a link (symlinks.ts): a key refused for a linked folder made nothing there, and what is there is not ours.
  for (let dir = dirname(path); dir.length > root.length; dir = dirname(dir)) if (!fs.lstatSync(dir, { throwIfNoEntry: false })?.isDirectory()) return;
  const stat = fs.lstatSync(path, { throwIfNoEntry: false });
  if (stat !== undefined && (!stat.isFile() || stat.size > 0)) return;
  if (stat !== undefined) fs.unlinkSync(path);
  for (let dir = dirname(path); dir.length > root.length; dir = dirname(dir)) {
    try {
      fs.rmdirSync(dir);
    } catch {
      break; // not empty: the folders above are not either
    }
  }
}

/**
 * Makes the folder `path`, and those above it. Node's recursive mkdir reports
 * some failures (a read-only filesystem) as ENOENT: then the first missing
 * folder is made alone, which gives the real error.
 */
function makeDirectory(path: string): void {
  try {
    fs.mkdirSync(path, { recursive: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    let first = path;
    while (dirname(first) !== first && !fs.existsSync(dirname(first))) first = dirname(first);
    fs.mkdirSync(first);
    throw error;
  }
}

/** True when `path` is on a read-only filesystem. */
function onReadOnlyFilesystem(path: string): boolean {
  try {
    fs.accessSync(path, fs.constants.W_OK);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EROFS';
  }
}

/**
 * file(path): one file per key in a directory, partd's layout. Appends are
 * synchronous writes to cached O_APPEND descriptors (descriptor-cache.ts),
 * made under the directory lock that every process sharing the directory
 * takes (directory-lock.ts; once per call, and once per burst of concurrent
 * calls). Reads take the lock too, so a reader never sees half of a value.
 * Which file holds a key: key-paths.ts (escaped names by default, partd's
 * own with { layout: 'partd' }).
 */
export class FileStore extends BytesStore {
  protected readonly layer = 'file';
  /** Every get reads the key's file into a new buffer. */
  override readonly freshGets = true;

  /** On disk, so a reopened store finds it; a key is one file, so iter() yields its bytes joined. */
  override get supports(): Supports {
    return { reopen: true, iterChunks: false };
  }
  readonly path: string;
  readonly temporary: boolean;
  /**
   * The directory is on a read-only filesystem: reads work, without the lock
   * (none can be made there, and nothing can write); writes are ERR_READ_ONLY.
   */
  readonly readOnly: boolean;
  private readonly opts: Required<Omit<FileOptions, 'exclusive' | 'fsync' | 'layout' | 'lock' | 'onLockWait'>> & Omit<FileOptions, 'onLockWait'>;
  /** FileOptions.onLockWait; settable, because a spec given to open() cannot hold a function. */
  onLockWait: FileOptions['onLockWait'];
  private readonly fds: DescriptorCache;
  /** The files of the keys' bytes, in the store's layout. */
  private readonly data: KeyPaths;
  /** The files of iset values: laminate's own metadata, escaped whatever the layout. */
  private readonly meta: KeyPaths;
  private readonly directory: DirectoryLock;

  /** The options as given, for describe(). */
  private readonly given: FileOptions;

  constructor(path?: string, opts: FileOptions = {}) {
    super();
    this.given = opts;
    const { onLockWait, ...rest } = opts;
    this.onLockWait = onLockWait;
    this.opts = { maxOpenFiles: defaultMaxOpenFiles(), lockStaleMs: 10_000, lockTimeoutMs: 60_000, ...rest };
    if (!(this.opts.maxOpenFiles >= 1)) throw typeError('ERR_INVALID_OPTION', 'file(): maxOpenFiles must be at least 1.');
    const layout = opts.layout ?? 'escaped';
    if (!Object.hasOwn(LAYOUTS, layout)) throw typeError('ERR_INVALID_OPTION', `file(): layout must be 'escaped' (the default) or 'partd', not ${JSON.stringify(layout)}.`);
    const strategy = opts.lock ?? 'file';
    if (!LOCK_STRATEGIES.includes(strategy)) throw typeError('ERR_INVALID_OPTION', `file(): lock must be 'file' (the default) or 'mkdir' (for network filesystems), not ${JSON.stringify(strategy)}.`);
    this.temporary = path === undefined;
    try {
      this.path = path === undefined ? makeTemporaryDirectory() : resolve(path);
      if (!this.temporary) makeDirectory(this.path);
    } catch (error) {
      throw systemError(error, path === undefined ? tmpdir() : resolve(path));
    }
    if (this.temporary) removeOnExit(this.path);
    this.readOnly = onReadOnlyFilesystem(this.path);
    this.fds = new DescriptorCache(this.opts.maxOpenFiles);
    this.data = new KeyPaths(this.path, LAYOUTS[layout]);
    this.meta = new KeyPaths(join(this.path, ISET_DIR), escapedLayout, this.path);
    const settings = { staleMs: this.opts.lockStaleMs, timeoutMs: this.opts.lockTimeoutMs, exclusive: opts.exclusive === true, readOnly: this.readOnly, strategy };
    try {
      this.directory = new DirectoryLock(this.path, settings, (wait) => this.onLockWait?.(wait));
    } catch (error) {
      throw systemError(error, this.path);
    }
    // Read-only: the lock of this process alone (Mutex), as no other process can write either.
    if (this.readOnly) return;
    if (opts.exclusive) this.directory.own();
    // Another process may have deleted keys: descriptors to unlinked files must go.
    else this.lock = new Mutex(this.directory.perCall(() => this.fds.closeAll()));
  }

  /** The file that holds `key`'s bytes (it need not exist yet); tools such as `laminate du` stat it. */
  fileOf(key: Key): string {
    return this.data.of(keyId(key));
  }

  /**
   * Each key's size on disk, from lstat and without the directory lock: what
   * serve() uses to refuse a reply too large before reading it. A key another
   * process is appending to may have grown by the time it is read.
   */
  override async sizeIds(ids: readonly KeyId[]): Promise<number[]> {
    return ids.map((id) => {
      const stat = fs.lstatSync(this.data.of(id), { throwIfNoEntry: false });
      return stat?.isFile() ? stat.size : 0;
    });
  }

  /** The append descriptor of `id`; the paths of files it creates are added to `created`, when given. */
  private descriptor(id: KeyId, created?: string[]): number {
    const cached = this.fds.use(id);
    if (cached !== undefined) return cached;
    const path = this.data.of(id);
    if (created && !fs.existsSync(path)) created.push(path);
    let fd: number;
    try {
      if (keyParts(id).length > 1 || path.includes('%h')) this.data.prepare(id, this.opts.fsync === true);
      fd = openOwn(path, APPEND, 0o666, id);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      // A key of the other kind (partd layout) appeared since appendIds checked: say so with a code.
      if (code === 'EISDIR' || code === 'ENOTDIR' || code === 'EEXIST') this.data.checkNew([id]);
      if (code !== 'EMFILE' && code !== 'ENFILE' && code !== 'ENOENT') throw error;
      // Out of descriptors, or the folders were removed by a drop elsewhere.
      this.fds.closeAll();
      this.data.forgetFolders();
      this.data.prepare(id, this.opts.fsync === true);
      fd = openOwn(path, APPEND, 0o666, id);
    }
    this.fds.add(id, fd);
    return fd;
  }

  /**
   * Runs `fn` (a call) under the lock: guard(). A call's section is
   * synchronous and never calls back into this store, so it is not recorded
   * in the async context (mutex.ts): that would turn on Node's promise hooks
   * for the whole process. Calls made inside withLock still re-enter.
   */
  private run<T>(fn: () => T, key?: KeyId): Promise<T> {
    return this.lock.run(() => this.guard(fn, key), NOT_REENTRANT);
  }

  /** Runs `fn` once the directory is known to be there; the system's errors become LaminateErrors (explain). */
  private guard<T>(fn: () => T, key?: KeyId): T {
    try {
      this.directory.assertPresent();
      return fn();
    } catch (error) {
      throw this.explain(error, key);
    }
  }

  /** `error` as a LaminateError that says what to do: a file missing because the directory is gone is ERR_NOT_FOUND, the rest systemError()'s. */
  private explain(error: unknown, key?: KeyId): unknown {
    const code = (error as NodeJS.ErrnoException).code;
    const gone = isSystemError(error) && (code === 'ENOENT' || code === 'ENOTDIR') ? this.directory.gone() : undefined;
    return gone ?? systemError(error, this.path, key === undefined ? undefined : showKey(key));
  }

  /** Refuses a write to a store opened read-only, before anything is tried. */
  private assertWritable(): void {
    if (this.readOnly) {
      throw new LaminateError(
        'ERR_READ_ONLY',
        `${this.path} is on a read-only filesystem, so this file() store opened read-only: get, getMany, keys, iter and iget work; append, iset, delete and drop cannot. Remount the filesystem read-write (or copy the store to a writable disk) to change it.`,
      );
    }
  }

  /**
   * Undoes what a failed append wrote, so that a call is stored whole or not
   * at all: the values written before value `failed` are cut off their files,
   * last first (a key written twice is cut twice), then each file the call
   * opened that now holds nothing (a new key's, made before its write failed)
   * is removed with the folders that leaves empty. Returns the error to throw,
   * with `appended`: how many values of the call are still stored, 0 unless
   * undoing failed too (buffer() must not write those again).
   */
  private failedAppend(error: unknown, ids: readonly KeyId[], values: readonly Uint8Array[], failed: number, opened: readonly KeyId[]): unknown {
    let stored = failed;
    try {
      for (; stored > 0; stored--) cutEnd(this.data.of(ids[stored - 1]), values[stored - 1].byteLength);
      for (const id of opened) {
        this.fds.close(id);
        removeIfEmpty(this.path, this.data.of(id));
      }
    } catch {
      // The disk refuses even that: `stored` says how many values are left.
    }
    const key = showKey(ids[failed]);
    const outcome =
      stored === 0
        ? 'Nothing of this append call was stored: every key holds what it held before.'
        : `Undoing the call failed: its first ${stored} values (keys ${[...new Set(ids.slice(0, stored).map(showKey))].join(', ')}) are stored, the others not.`;
    let explained = this.explain(error, ids[failed]);
    if (isLaminateError(explained, 'ERR_DISK_FULL')) {
      explained = new LaminateError('ERR_DISK_FULL', `The disk holding ${this.path} is full (no space, or no free inodes, left): key ${key} did not fit. ${outcome} Free space and retry the call.`, { key, cause: error });
    } else if (isLaminateError(explained) && explained.code !== 'ERR_NOT_FOUND') {
      explained.message += ` ${outcome}`;
    }
    if (typeof explained === 'object' && explained !== null) Object.assign(explained, { appended: stored });
    return explained;
  }

  appendIds(ids: readonly KeyId[], values: readonly Uint8Array[]): Promise<void> {
    return this.run(() => {
      this.assertWritable();
      this.directory.assertHeld();
      // Keys with no open descriptor may be new; a key the layout refuses fails the call before anything is written.
      this.data.checkNew(ids, (id) => this.fds.has(id));
      this.directory.writing();
      const written = this.opts.fsync ? new Set<number>() : undefined;
      const created: string[] | undefined = this.opts.fsync ? [] : undefined;
      // The keys whose file this call opens (no descriptor was cached): a failed call removes those it leaves empty.
      const opened: KeyId[] = [];
      let i = 0;
      try {
        for (; i < ids.length; i++) {
          if (!this.fds.has(ids[i])) opened.push(ids[i]);
          const fd = this.descriptor(ids[i], created);
          writeWhole(fd, values[i]);
          written?.add(fd);
        }
      } catch (error) {
        throw this.failedAppend(error, ids, values, i, opened);
      }
      if (written) for (const fd of written) fs.fsyncSync(fd);
      if (created && created.length > 0) fsyncFolders(this.path, created);
    });
  }

  getIds(ids: readonly KeyId[]): Promise<Uint8Array[]> {
    return this.run(() => {
      let missing = false;
      const values = ids.map((id) => {
        const path = this.data.of(id);
        // A key with no append descriptor here may well be missing (buffer() reads
        // every key from its slow store): a stat that finds nothing costs far
        // less than an open that throws.
        if (!this.fds.has(id) && this.data.stat(id) === undefined) {
          missing = true;
          return EMPTY_BYTES;
        }
        try {
          return readOwn(path, id);
        } catch (error) {
          if (!this.data.absent(error)) throw error;
          missing = true;
          return EMPTY_BYTES;
        }
      });
      if (missing) this.assertStillThere();
      return values;
    });
  }

  /**
   * A key found missing is empty only while the directory is still the one
   * this store opened: keys missing because the directory was removed or
   * replaced (by another process closing the temporary store this one
   * shares) are ERR_NOT_FOUND, never empty values.
   */
  private assertStillThere(): void {
    this.directory.assertPresent(true);
  }

  /** getView()'s buffer, reused from call to call: reads into it fault in no fresh memory. */
  private readonly scratch = new Scratch();

  /**
   * `key`'s bytes in memory this store reuses: a view of a scratch buffer
   * that the next getView() on this store overwrites (and may replace with a
   * larger one). Valid until then: copy what must outlive it, and never keep
   * it across an await that may let another getView() run. Where get()
   * returns fresh memory for each read, whose page faults cost more than the
   * read itself for large keys, this reads into the same memory each time
   * (lmdb-js's getBinaryFast works the same way). Keys larger than 64 MiB
   * are read into memory of their own, which the store does not keep.
   */
  async getView(key: Key): Promise<Uint8Array> {
    this.assertOpen();
    return this.readIdInto(keyId(key), (size) => this.scratch.room(size));
  }

  /**
   * Reads `key`'s bytes into the caller's `target`, from its start, and
   * returns how many there are: memory the caller owns and reuses, so no
   * fresh memory per read. A key larger than `target` is ERR_TOO_LARGE
   * (its size is in the message and the error's `size`), and `target` is
   * then left as it was.
   */
  async readInto(key: Key, target: Uint8Array): Promise<number> {
    this.assertOpen();
    checkReadTarget(target);
    const id = keyId(key);
    const bytes = await this.readIdInto(id, (size) => {
      if (size > target.byteLength) throw tooLargeForTarget(id, size, target);
      return target;
    });
    return bytes.byteLength;
  }

  /**
   * `id`'s bytes read into the memory `room` gives for their size (at least
   * that many bytes), from its start; a view of them there. The size is the
   * file's when it is opened, so bytes another process appends meanwhile
   * are left for the next read. getView(), readInto() and buffer()'s
   * getView() read this way.
   */
  readIdInto(id: KeyId, room: (size: number) => Uint8Array): Promise<Uint8Array> {
    return this.run(() => {
      const file = this.openToRead(id);
      if (file === undefined) return EMPTY_BYTES;
      try {
        const into = room(file.size);
        return into.subarray(0, readAt(file.fd, into, file.size));
      } finally {
        fs.closeSync(file.fd);
      }
    }, id);
  }

  /**
   * Each key's bytes read into memory of their own with `room[i]` bytes to
   * spare after them, for a caller that puts more bytes there at once:
   * buffer() puts a key's bytes still in memory after its spilled ones, with
   * one allocation and no join. `length` is how many bytes the file held.
   */
  readIdsWithRoom(ids: readonly KeyId[], room: readonly number[]): Promise<{ bytes: Buffer; length: number }[]> {
    return this.run(() =>
      ids.map((id, i) => {
        const file = this.openToRead(id);
        if (file === undefined) return { bytes: Buffer.allocUnsafe(room[i]), length: 0 };
        try {
          const bytes = Buffer.allocUnsafe(file.size + room[i]);
          return { bytes, length: readAt(file.fd, bytes, file.size) };
        } finally {
          fs.closeSync(file.fd);
        }
      }),
    );
  }

  /** `id`'s file opened for reading, with its size; undefined when the key holds nothing. */
  private openToRead(id: KeyId): { fd: number; size: number } | undefined {
    let fd: number;
    try {
      fd = openOwn(this.data.reach(id), READ, undefined, id);
    } catch (error) {
      if (!this.data.absent(error)) throw error;
      this.assertStillThere();
      return undefined;
    }
    const stat = fs.fstatSync(fd);
    // In the partd layout a folder there holds longer tuple keys, not this key's bytes.
    if (this.data.layout.bareFolders && stat.isDirectory()) {
      fs.closeSync(fd);
      return undefined;
    }
    return { fd, size: stat.size };
  }

  /** Reads only the bytes asked for: one open per key per call, one positioned read per range. */
  override readRangeIds(ranges: readonly IdRange[]): Promise<Uint8Array[]> {
    return this.run(() => {
      const opened = new Map<KeyId, { fd: number; size: number } | undefined>();
      try {
        return ranges.map(({ id, offset, length }) => {
          if (!opened.has(id)) opened.set(id, this.openToRead(id));
          const file = opened.get(id);
          if (file === undefined || offset >= file.size) return EMPTY_BYTES;
          const bytes = Buffer.allocUnsafe(Math.min(length, file.size - offset));
          let done = 0;
          while (done < bytes.byteLength) {
            const n = fs.readSync(file.fd, bytes, done, bytes.byteLength - done, offset + done);
            if (n === 0) break;
            done += n;
          }
          return bytes.subarray(0, done);
        });
      } finally {
        for (const file of opened.values()) if (file) fs.closeSync(file.fd);
      }
    });
  }

  /** Reads the file in pieces; the lock is held only to learn where the last whole value ends. */
  override async *iterId(id: KeyId): AsyncIterable<Uint8Array> {
    const opened = await this.run(() => this.openToRead(id), id);
    if (!opened) return;
    try {
      for (let offset = 0; offset < opened.size; ) {
        const piece = Buffer.allocUnsafe(Math.min(READ_PIECE, opened.size - offset));
        let n: number;
        try {
          n = fs.readSync(opened.fd, piece, 0, piece.length, offset);
        } catch (error) {
          throw this.explain(error, id);
        }
        if (n === 0) break;
        offset += n;
        yield piece.subarray(0, n);
      }
    } finally {
      fs.closeSync(opened.fd);
    }
  }

  deleteIds(ids: readonly KeyId[]): Promise<void> {
    return this.run(() => {
      this.assertWritable();
      // A key the layout refuses, or a link on the way to a key's file, fails the call before anything is deleted.
      for (const id of ids) this.data.stat(id);
      for (const id of ids) {
        this.fds.close(id);
        this.data.remove(id);
        removeSeal(this.seals, id);
        // After the file: a reader finds no file, never one without its start (retention-file.ts).
        removeMarker(this.trims, id);
        removeConsumers(this.consumerFiles, id);
      }
      this.directory.filesRemoved();
    });
  }

  // Streams (follow-file.ts): followers read without the lock and watch the key's folder; seals are markers in .sealed.
  private sealMarkers?: KeyPaths;
  private get seals(): KeyPaths {
    return (this.sealMarkers ??= sealPaths(this.path));
  }

  override async readFollowedId(id: KeyId, offset: number, max: number): Promise<Uint8Array> {
    try {
      this.directory.assertPresent();
      return await readFromPosition(this.data, this.trims, id, offset, max);
    } catch (error) {
      throw this.explain(error, id);
    }
  }

  /** The key's start plus its size, read together without the lock (retention-file.ts). */
  override async lengthId(id: KeyId): Promise<number> {
    const file = await this.positioned(id);
    return file === undefined ? 0 : file.start + file.size;
  }

  override async startId(id: KeyId): Promise<number> {
    return (await this.positioned(id))?.start ?? 0;
  }

  private async positioned(id: KeyId): Promise<{ start: number; size: number } | undefined> {
    try {
      this.directory.assertPresent();
      const file = await openPositioned(this.data, this.trims, id);
      if (file !== undefined) fs.closeSync(file.fd);
      return file;
    } catch (error) {
      throw this.explain(error, id);
    }
  }

  // Retention (retention-file.ts): trim markers in .trimmed, consumers' positions in .consumers.
  private trimMarkers?: KeyPaths;
  private get trims(): KeyPaths {
    return (this.trimMarkers ??= trimPaths(this.path));
  }
  private consumerPositions?: KeyPaths;
  private get consumerFiles(): KeyPaths {
    return (this.consumerPositions ??= consumerPaths(this.path));
  }

  /** Keeps the higher of the committed position and `position`; a position past the key's end is refused. */
  override commitId(id: KeyId, consumer: string, position: number): Promise<void> {
    return this.run(() => this.commitLocked(id, consumer, position), id);
  }

  /** Both in one take of the lock: a follower with trim: true commits and trims after each value. */
  override commitAndTrimId(id: KeyId, consumer: string, position: number): Promise<void> {
    return this.run(() => {
      this.commitLocked(id, consumer, position);
      this.trimLocked(id);
    }, id);
  }

  private commitLocked(id: KeyId, consumer: string, position: number): void {
    this.assertWritable();
    const stat = this.data.stat(id);
    const start = startUnderLock(this.trims, id, stat);
    const length = start + (stat?.isFile() ? stat.size : 0);
    if (position > length) throw pastEnd(id, position, length);
    this.consumerFiles.forgetFolders();
    // Below the start is the start: nothing before it is left to take.
    writeConsumer(this.consumerFiles, id, consumer, Math.max(position, start), this.opts.fsync === true);
  }

  override async consumersId(id: KeyId): Promise<Consumer[]> {
    return this.guard(() => readConsumers(this.consumerFiles, id), id);
  }

  override forgetId(id: KeyId, consumer: string): Promise<void> {
    return this.run(() => {
      this.assertWritable();
      removeConsumer(this.consumerFiles, id, consumer);
    }, id);
  }

  /** Copies the bytes that stay into a new file and renames it over the key's, under the lock, so appends wait (retention-file.ts). */
  override trimId(id: KeyId, position?: number): Promise<void> {
    return this.run(() => this.trimLocked(id, position), id);
  }

  private trimLocked(id: KeyId, position?: number): void {
    this.assertWritable();
    const stat = this.data.stat(id);
    const start = startUnderLock(this.trims, id, stat);
    const size = stat?.isFile() ? stat.size : 0;
    const to = trimTarget(id, position, start, start + size, readConsumers(this.consumerFiles, id));
    if (to === undefined || !stat?.isFile()) return;
    this.trims.forgetFolders();
    this.directory.writing();
    rewriteFrom(this.data, this.trims, id, stat, start, to, this.opts.fsync === true);
    // The old file is unlinked: this process's append descriptor, and other processes' (the generation), must go.
    this.fds.close(id);
    this.directory.filesRemoved();
  }

  override watchId(id: KeyId, pollMs?: number): ChangeWatch {
    return watchKeyFile(this.data.of(id), this.path, pollMs);
  }

  /** Seals `id` at its size, under the lock, so that no append is half counted. */
  override sealId(id: KeyId): Promise<void> {
    return this.sealAtId(id);
  }

  override sealAtId(id: KeyId, length?: number): Promise<void> {
    return this.run(() => {
      this.assertWritable();
      const stat = length === undefined ? this.data.stat(id) : undefined;
      // Sealing is rare: check the folders afresh, as a drop (here or elsewhere) may have removed them.
      this.seals.forgetFolders();
      // A position: the key's start (when trimmed) plus its size.
      writeSeal(this.seals, id, length ?? (stat?.isFile() ? startUnderLock(this.trims, id, stat) + stat.size : 0), this.opts.fsync === true);
    }, id);
  }

  override async sealedId(id: KeyId): Promise<number | undefined> {
    return this.guard(() => readSeal(this.seals, id), id);
  }

  listIds(): Promise<KeyId[]> {
    return this.run(() => this.data.list());
  }

  /** First value wins, across processes: the value is written aside and linked into place. */
  isetId(id: KeyId, value: Uint8Array): Promise<void> {
    return this.run(() => {
      this.assertWritable();
      // The first value wins; a link at .iset, on the way or in the value's place is ERR_SYMLINK.
      if (this.meta.stat(id) !== undefined) return;
      const target = this.meta.of(id);
      this.directory.writing();
      this.meta.prepare(id, this.opts.fsync === true);
      const aside = join(this.meta.root, isetAsideName());
      try {
        fs.writeFileSync(aside, value, { flag: 'wx' });
        if (this.opts.fsync) fsyncPath(aside);
        fs.linkSync(aside, target);
        if (this.opts.fsync) fsyncFolders(this.path, [target]);
      } catch (error) {
        // Another process linked its value first: the first value wins.
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || (error as NodeJS.ErrnoException).syscall !== 'link') throw error;
      } finally {
        // Also when the value could not be written whole (a full disk): nothing is left aside.
        fs.rmSync(aside, { force: true });
      }
    }, id);
  }

  igetId(id: KeyId): Promise<Uint8Array | undefined> {
    return this.run(() => {
      try {
        return readOwn(this.meta.reach(id), id);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw error;
      }
    });
  }

  /** Deletes every key and iset value: the files and folders the store wrote, never what it did not (FileDropOptions). */
  override async drop(opts: FileDropOptions = {}): Promise<void> {
    const foreign = opts.foreign ?? 'refuse';
    if (foreign !== 'refuse' && foreign !== 'keep') throw typeError('ERR_INVALID_OPTION', `drop(): foreign must be 'refuse' (the default) or 'keep', not ${JSON.stringify(foreign)}.`);
    await this.withLock(async () => this.guard(() => this.dropOwn(foreign)));
  }

  protected async dropAll(): Promise<void> {
    this.guard(() => this.dropOwn('refuse'));
  }

  private dropOwn(foreign: 'refuse' | 'keep'): void {
    this.assertWritable();
    const found = inventory(this.path, this.data.layout);
    if (foreign === 'refuse' && found.foreign.length > 0) throw foreignFilesError(this.path, found.foreign);
    this.fds.closeAll();
    for (const { path, folder } of found.own) {
      try {
        if (folder) fs.rmdirSync(path);
        else fs.unlinkSync(path);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        // A folder that holds entries left in place ('keep') stays, and so does what is gone already.
        if (code !== 'ENOENT' && !(folder && (code === 'ENOTEMPTY' || code === 'EEXIST'))) throw error;
      }
    }
    this.data.forgetFolders();
    this.meta.forgetFolders();
    this.trimMarkers?.forgetFolders();
    this.consumerPositions?.forgetFolders();
    this.directory.filesRemoved();
  }

  protected async closeStore(): Promise<void> {
    // Waits for this process's calls, not for the directory lock: the descriptors are this process's
    // own, and closing them neither changes the directory nor is seen by another process.
    await this.lock.run(() => this.fds.closeAll(), { outer: false });
    // Let go of a directory lock kept for a call that might have followed.
    await this.lock.releaseIdle();
    this.directory.close();
    if (this.temporary) {
      // Only the directory this store made: not whatever was made at its path after it was removed.
      if (this.directory.gone() === undefined) fs.rmSync(this.path, { recursive: true, force: true });
      removedByStore(this.path);
    }
  }

  describe(): StoreSpec {
    const spec: StoreSpec = { type: 'file', path: this.path };
    for (const name of SPEC_OPTIONS) {
      const value = this.given[name];
      if (value !== undefined && (name === 'exclusive' || name === 'fsync' || name === 'maxOpenFiles' || value !== DEFAULTS[name])) spec[name] = value;
    }
    return spec;
  }
}

export function file(path?: string, opts?: FileOptions): FileStore {
  return new FileStore(path, opts);
}

registerLayer('file', {
  positional: 'path',
  options: SPEC_OPTIONS,
  open: (spec) => {
    const { type: _type, path, ...opts } = spec;
    return file(path as string | undefined, opts as FileOptions);
  },
});
