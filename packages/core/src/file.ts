import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import lockfile from 'proper-lockfile';
import { LaminateError, typeError } from './errors.js';
import { decodePart, encodePart, folderName, isCanonical, isHashed, isInternal, sidecarName, unfolder } from './filenames.js';
import { type Key, type KeyId, keyFromParts, keyId, keyParts, showKey } from './keys.js';
import { Mutex, type OuterLock } from './mutex.js';
import { forget, removeOnExit } from './temporary.js';
import { BytesStore, EMPTY_BYTES, type IdRange, type StoreSpec, type Supports } from './store.js';
import { registerLayer } from './spec.js';

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
   * Called when a call finds the directory lock held by another process or
   * store and starts waiting for it (up to lockTimeoutMs), so that a program
   * can say why it stalls; a function it returns is called when that wait
   * ends, with the lock taken or ERR_LOCKED. Not called in exclusive mode,
   * which never waits. Not part of describe(); a store that open() built
   * from a spec takes it as its `onLockWait` property.
   */
  onLockWait?: (wait: LockWait) => void | (() => void);
}

/** What onLockWait is told. The lock records no owner, so who holds it is not known. */
export interface LockWait {
  /** The store's directory. */
  path: string;
  /** How long the call waits at most before ERR_LOCKED: lockTimeoutMs. */
  timeoutMs: number;
}

const LOCK_NAME = '.laminate.lock';
const GENERATION_NAME = '.laminate.gen';
const ISET_DIR = '.iset';
const READ_PIECE = 4 << 20;

/**
 * file(path): one file per key in a directory, partd's layout. Appends are
 * synchronous writes to cached O_APPEND descriptors, made under the directory
 * lock that every process sharing the directory takes (once per call, and once
 * per burst of concurrent calls). Reads take the lock too, so a reader never
 * sees half of a value.
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
  private readonly opts: Required<Omit<FileOptions, 'exclusive' | 'fsync' | 'onLockWait'>> & Omit<FileOptions, 'onLockWait'>;
  /** FileOptions.onLockWait; settable, because a spec given to open() cannot hold a function. */
  onLockWait: FileOptions['onLockWait'];
  private readonly fds = new Map<KeyId, number>();
  private readonly paths = new Map<KeyId, string>();
  /**
   * The generation file, open once it exists. The first write (append, iset,
   * delete, drop) creates it, not opening the store: reading a directory adds
   * nothing to it, and a directory holding one is one laminate wrote to.
   */
  private generationFd?: number;
  private generation = 0;
  private releaseOwner?: () => void;
  private compromised?: Error;

  /** The options as given, for describe(). */
  private readonly given: FileOptions;

  constructor(path?: string, opts: FileOptions = {}) {
    super();
    this.given = opts;
    const { onLockWait, ...rest } = opts;
    this.onLockWait = onLockWait;
    this.opts = { maxOpenFiles: defaultMaxOpenFiles(), lockStaleMs: 10_000, lockTimeoutMs: 60_000, ...rest };
    if (!(this.opts.maxOpenFiles >= 1)) throw typeError('ERR_INVALID_OPTION', 'file(): maxOpenFiles must be at least 1.');
    this.temporary = path === undefined;
    this.path = path === undefined ? fs.mkdtempSync(join(tmpdir(), 'laminate-')) : resolve(path);
    if (this.temporary) removeOnExit(this.path);
    else fs.mkdirSync(this.path, { recursive: true });
    this.generation = this.readGeneration();
    if (opts.exclusive) {
      try {
        this.releaseOwner = lockfile.lockSync(this.path, this.lockOptions());
      } catch (error) {
        if (this.generationFd !== undefined) fs.closeSync(this.generationFd);
        throw this.lockError(error);
      }
    } else {
      this.lock = new Mutex(this.directoryLock());
    }
  }

  private lockOptions() {
    return {
      lockfilePath: join(this.path, LOCK_NAME),
      realpath: false,
      stale: Math.max(2000, this.opts.lockStaleMs),
      onCompromised: (error: Error) => {
        this.compromised = error;
      },
    };
  }

  private lockError(error: unknown): LaminateError {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ELOCKED' && this.opts.exclusive) {
      return new LaminateError('ERR_LOCKED', `The directory ${this.path} is locked by another store or process. Close it there, or open this one without { exclusive: true } to share it.`, { cause: error });
    }
    if (code === 'ELOCKED') {
      return new LaminateError(
        'ERR_LOCKED',
        `The directory ${this.path} stayed locked for lockTimeoutMs (${this.opts.lockTimeoutMs} ms): another process holds it, perhaps as its single owner ({ exclusive: true }). Close that store, or raise lockTimeoutMs.`,
        { cause: error },
      );
    }
    return new LaminateError('ERR_LOCKED', `Could not lock ${this.path}: ${(error as Error).message}`, { cause: error });
  }

  /** The directory lock, taken with backoff until lockTimeoutMs. */
  private directoryLock(): OuterLock {
    let release: (() => Promise<void>) | undefined;
    return {
      acquire: async () => {
        const deadline = Date.now() + this.opts.lockTimeoutMs;
        let waiting = false;
        let endWait: void | (() => void) = undefined;
        try {
          for (let wait = 1; ; wait = Math.min(wait * 2, 25)) {
            try {
              release = await lockfile.lock(this.path, this.lockOptions());
              break;
            } catch (error) {
              if ((error as NodeJS.ErrnoException).code !== 'ELOCKED' || Date.now() > deadline) throw this.lockError(error);
              if (!waiting) {
                waiting = true;
                endWait = this.onLockWait?.({ path: this.path, timeoutMs: this.opts.lockTimeoutMs });
              }
              await new Promise((r) => setTimeout(r, wait * (0.5 + Math.random())));
            }
          }
        } finally {
          endWait?.();
        }
        this.compromised = undefined;
        // Another process may have deleted keys: descriptors to unlinked files must go.
        const generation = this.readGeneration();
        if (generation !== this.generation) {
          this.generation = generation;
          this.closeDescriptors();
        }
      },
      release: async () => {
        const done = release;
        release = undefined;
        await done?.().catch(() => undefined);
      },
      valid: () => release !== undefined && this.compromised === undefined,
    };
  }

  /** The generation file's descriptor; `create` makes the file (a write), else undefined while there is none. */
  private generationFile(create: boolean): number | undefined {
    if (this.generationFd === undefined) {
      const path = join(this.path, GENERATION_NAME);
      // A stat that finds nothing costs less than an open that throws, on every lock while the file is missing.
      if (!create && !fs.existsSync(path)) return undefined;
      this.generationFd = fs.openSync(path, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o644);
    }
    return this.generationFd;
  }

  private readGeneration(): number {
    const fd = this.generationFile(false);
    if (fd === undefined) return 0;
    const buf = Buffer.alloc(8);
    const n = fs.readSync(fd, buf, 0, 8, 0);
    return n === 8 ? Number(buf.readBigUInt64LE(0)) : 0;
  }

  /** Tells the other processes that files were removed. */
  private bumpGeneration(): void {
    const fd = this.generationFile(true)!;
    this.generation = this.readGeneration() + 1;
    const buf = Buffer.alloc(8);
    buf.writeBigUInt64LE(BigInt(this.generation));
    fs.writeSync(fd, buf, 0, 8, 0);
  }

  private checkLock(): void {
    if (this.compromised) {
      const error = this.compromised;
      this.compromised = undefined;
      throw new LaminateError('ERR_LOCKED', `The lock on ${this.path} was lost (${error.message}); the last call was not applied. Retry it.`, { cause: error });
    }
  }

  /** The path of the file holding `id`, relative parts escaped (see filenames.ts). */
  private pathOf(id: KeyId, root = this.path): string {
    if (root === this.path) {
      const cached = this.paths.get(id);
      if (cached !== undefined) return cached;
    }
    const parts = keyParts(id);
    let path = root;
    for (let i = 0; i < parts.length; i++) {
      const { name } = encodePart(parts[i]);
      path = join(path, i < parts.length - 1 ? folderName(name) : name);
    }
    if (root === this.path) {
      if (this.paths.size >= 100_000) this.paths.clear();
      this.paths.set(id, path);
    }
    return path;
  }

  /** The file that holds `key`'s bytes (it need not exist yet); tools such as `laminate du` stat it. */
  fileOf(key: Key): string {
    return this.pathOf(keyId(key));
  }

  /** Makes the folders of a tuple key and the sidecars of hashed names. */
  private prepare(id: KeyId, root = this.path): void {
    const parts = keyParts(id);
    let dir = root;
    for (let i = 0; i < parts.length; i++) {
      const { name, sidecar } = encodePart(parts[i]);
      if (sidecar !== undefined && !fs.existsSync(join(dir, sidecarName(name)))) {
        fs.writeFileSync(join(dir, sidecarName(name)), sidecar);
        // The key's name lives only in its sidecar: it must be as durable as the data.
        if (this.opts.fsync) fsyncPath(join(dir, sidecarName(name)));
      }
      if (i < parts.length - 1) {
        dir = join(dir, folderName(name));
        fs.mkdirSync(dir, { recursive: true });
      }
    }
  }

  /** The append descriptor of `id`; the paths of files it creates are added to `created`, when given. */
  private descriptor(id: KeyId, created?: string[]): number {
    const cached = this.fds.get(id);
    if (cached !== undefined) {
      // Refresh its place in the least-recently-used order.
      this.fds.delete(id);
      this.fds.set(id, cached);
      return cached;
    }
    const path = this.pathOf(id);
    if (created && !fs.existsSync(path)) created.push(path);
    let fd: number;
    try {
      if (keyParts(id).length > 1 || path.includes('%h')) this.prepare(id);
      fd = fs.openSync(path, 'a');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'EMFILE' && code !== 'ENFILE' && code !== 'ENOENT') throw error;
      // Out of descriptors, or the folders were removed by a drop elsewhere.
      this.closeDescriptors();
      this.prepare(id);
      fd = fs.openSync(path, 'a');
    }
    if (this.fds.size >= this.opts.maxOpenFiles) {
      const [oldest, oldFd] = this.fds.entries().next().value as [KeyId, number];
      this.fds.delete(oldest);
      fs.closeSync(oldFd);
    }
    this.fds.set(id, fd);
    return fd;
  }

  private closeDescriptors(): void {
    for (const fd of this.fds.values()) fs.closeSync(fd);
    this.fds.clear();
  }

  appendIds(ids: readonly KeyId[], values: readonly Uint8Array[]): Promise<void> {
    return this.lock.run(() => {
      this.checkLock();
      this.generationFile(true);
      const written = this.opts.fsync ? new Set<number>() : undefined;
      const created: string[] | undefined = this.opts.fsync ? [] : undefined;
      let i = 0;
      try {
        for (; i < ids.length; i++) {
          const fd = this.descriptor(ids[i], created);
          writeWhole(fd, values[i], ids[i]);
          written?.add(fd);
        }
      } catch (error) {
        // How many values of this call are stored, for a caller that must not write them twice (buffer()).
        if (typeof error === 'object' && error !== null) Object.assign(error, { appended: i });
        throw error;
      }
      if (written) for (const fd of written) fs.fsyncSync(fd);
      // A new file's name is in its folder, which fsync of the file does not save.
      if (created && created.length > 0) this.syncFolders(created);
    });
  }

  /** fsyncs the folders holding `paths`, and theirs, up to the store's directory. */
  private syncFolders(paths: readonly string[]): void {
    if (process.platform === 'win32') return; // Windows cannot open a folder to fsync it.
    const folders = new Set<string>();
    for (const path of paths) {
      for (let dir = dirname(path); dir.startsWith(this.path); dir = dirname(dir)) {
        folders.add(dir);
        if (dir === this.path) break;
      }
    }
    for (const dir of folders) fsyncPath(dir);
  }

  getIds(ids: readonly KeyId[]): Promise<Uint8Array[]> {
    return this.lock.run(() =>
      ids.map((id) => {
        const path = this.pathOf(id);
        // A key with no append descriptor here may well be missing (buffer() reads
        // every key from its slow store): a stat that returns undefined costs far
        // less than an open that throws.
        if (!this.fds.has(id) && fs.statSync(path, { throwIfNoEntry: false }) === undefined) return EMPTY_BYTES;
        return readOrEmpty(path);
      }),
    );
  }

  /** Reads only the bytes asked for: one open per key per call, one positioned read per range. */
  override getRangeIds(ranges: readonly IdRange[]): Promise<Uint8Array[]> {
    return this.lock.run(() => {
      const opened = new Map<KeyId, { fd: number; size: number } | undefined>();
      try {
        return ranges.map(({ id, offset, length }) => {
          let file = opened.get(id);
          if (!opened.has(id)) {
            try {
              const fd = fs.openSync(this.pathOf(id), 'r');
              file = { fd, size: fs.fstatSync(fd).size };
            } catch (error) {
              if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
            }
            opened.set(id, file);
          }
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
    const opened = await this.lock.run(() => {
      try {
        const fd = fs.openSync(this.pathOf(id), 'r');
        return { fd, size: fs.fstatSync(fd).size };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw error;
      }
    });
    if (!opened) return;
    try {
      for (let offset = 0; offset < opened.size; ) {
        const piece = Buffer.allocUnsafe(Math.min(READ_PIECE, opened.size - offset));
        const n = fs.readSync(opened.fd, piece, 0, piece.length, offset);
        if (n === 0) break;
        offset += n;
        yield piece.subarray(0, n);
      }
    } finally {
      fs.closeSync(opened.fd);
    }
  }

  deleteIds(ids: readonly KeyId[]): Promise<void> {
    return this.lock.run(() => {
      for (const id of ids) {
        const fd = this.fds.get(id);
        if (fd !== undefined) {
          fs.closeSync(fd);
          this.fds.delete(id);
        }
        fs.rmSync(this.pathOf(id), { force: true });
      }
      this.bumpGeneration();
    });
  }

  listIds(): Promise<KeyId[]> {
    return this.lock.run(() => {
      const ids: KeyId[] = [];
      walk(this.path, [], ids);
      return ids;
    });
  }

  /** First value wins, across processes: the value is written aside and linked into place. */
  isetId(id: KeyId, value: Uint8Array): Promise<void> {
    return this.lock.run(() => {
      const root = join(this.path, ISET_DIR);
      const target = this.pathOf(id, root);
      if (fs.existsSync(target)) return;
      this.generationFile(true);
      fs.mkdirSync(root, { recursive: true });
      this.prepare(id, root);
      const aside = join(root, `.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`);
      fs.writeFileSync(aside, value);
      if (this.opts.fsync) fsyncPath(aside);
      try {
        fs.linkSync(aside, target);
        if (this.opts.fsync) this.syncFolders([target]);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      } finally {
        fs.rmSync(aside, { force: true });
      }
    });
  }

  igetId(id: KeyId): Promise<Uint8Array | undefined> {
    return this.lock.run(() => {
      try {
        return fs.readFileSync(this.pathOf(id, join(this.path, ISET_DIR)));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw error;
      }
    });
  }

  protected async dropAll(): Promise<void> {
    this.closeDescriptors();
    for (const name of fs.readdirSync(this.path)) {
      if (name === LOCK_NAME || name === GENERATION_NAME) continue;
      fs.rmSync(join(this.path, name), { recursive: true, force: true });
    }
    this.bumpGeneration();
  }

  protected async closeStore(): Promise<void> {
    await this.lock.run(() => this.closeDescriptors());
    // Let go of a directory lock kept for a call that might have followed.
    await this.lock.releaseIdle();
    if (this.generationFd !== undefined) fs.closeSync(this.generationFd);
    this.releaseOwner?.();
    if (this.temporary) {
      fs.rmSync(this.path, { recursive: true, force: true });
      forget(this.path);
    }
  }

  describe(): StoreSpec {
    const spec: StoreSpec = { type: 'file', path: this.path };
    for (const name of ['exclusive', 'fsync', 'maxOpenFiles', 'lockStaleMs', 'lockTimeoutMs'] as const) {
      const value = this.given[name];
      if (value !== undefined && (name === 'exclusive' || name === 'fsync' || name === 'maxOpenFiles' || value !== DEFAULTS[name])) spec[name] = value;
    }
    return spec;
  }
}

// maxOpenFiles is recorded whenever it was given: its default depends on the machine.
const DEFAULTS = { lockStaleMs: 10_000, lockTimeoutMs: 60_000 };

let openFilesDefault: number | undefined;

/**
 * The default size of the descriptor cache: an eighth of the soft limit on
 * open files (Linux), between 16 and 4096, so that a shuffle over a few
 * thousand keys does not reopen a file for every value, and a process under a
 * low `ulimit -n` keeps most of its descriptors for other uses.
 */
function defaultMaxOpenFiles(): number {
  if (openFilesDefault === undefined) {
    let limit: number | undefined;
    try {
      const soft = /^Max open files\s+(\S+)/m.exec(fs.readFileSync('/proc/self/limits', 'utf8'))?.[1];
      limit = soft === 'unlimited' ? Infinity : Number(soft);
    } catch {
      limit = undefined;
    }
    openFilesDefault = limit !== undefined && limit > 0 ? Math.min(4096, Math.max(16, Math.floor(limit / 8))) : 128;
  }
  return openFilesDefault;
}

/** Writes all of `bytes`; a write the disk cannot finish is undone and reported as ERR_DISK_FULL. */
function writeWhole(fd: number, bytes: Uint8Array, id: KeyId): void {
  let done = 0;
  try {
    while (done < bytes.byteLength) done += fs.writeSync(fd, bytes, done, bytes.byteLength - done);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (done > 0) fs.ftruncateSync(fd, fs.fstatSync(fd).size - done);
    if (code === 'ENOSPC' || code === 'EDQUOT') {
      throw new LaminateError('ERR_DISK_FULL', `The disk is full while appending to key ${showKey(id)}; that value was not stored. Free space and retry.`, { key: showKey(id), cause: error });
    }
    throw error;
  }
}

function readOrEmpty(path: string): Uint8Array {
  try {
    return fs.readFileSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return EMPTY_BYTES;
    throw error;
  }
}

function fsyncPath(path: string): void {
  const fd = fs.openSync(path, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Collects the keys under `dir`, whose folders stand for the tuple parts `prefix`. */
function walk(dir: string, prefix: string[], ids: KeyId[]): void {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (isInternal(entry.name)) continue;
    if (entry.isDirectory()) {
      const name = unfolder(entry.name);
      if (name !== undefined) walk(join(dir, entry.name), [...prefix, partOf(dir, name)], ids);
    } else if (entry.isFile() && isCanonical(entry.name)) {
      ids.push(keyFromParts([...prefix, partOf(dir, entry.name)]));
    }
  }
}

function partOf(dir: string, name: string): string {
  return isHashed(name) ? fs.readFileSync(join(dir, sidecarName(name)), 'utf8') : decodePart(name);
}

/**
 * Why the directory at `path` is not one that file() keeps, or undefined when
 * it is: for tools that delete a store's files (`laminate drop`) and must not
 * empty a directory named by mistake. A store's directory holds only what
 * file() writes: key files under the names filenames.ts gives (tuple keys in
 * `%d` folders, long names' `.%h` sidecars), the lock, the generation file
 * (made by the first write, so a store that holds any key has one) and iset
 * metadata under `.iset`. Anything else (a dotfile, a name with a space, a
 * folder without `%d`, a symlink) was put there by someone else. An empty
 * directory is a store: there is nothing to lose.
 */
export function whyNotAStore(path: string): string | undefined {
  const stat = fs.statSync(path, { throwIfNoEntry: false });
  if (stat === undefined) return 'it does not exist';
  if (!stat.isDirectory()) return 'it is not a directory';
  let holdsAny = false;
  const stray = (dir: string, iset: boolean): string | undefined => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const name = entry.name;
      const top = dir === path;
      if (top && name === LOCK_NAME && entry.isDirectory()) continue;
      if (top && name === GENERATION_NAME && entry.isFile()) continue;
      holdsAny = true;
      if (top && name === ISET_DIR && entry.isDirectory()) {
        const found = stray(join(dir, name), true);
        if (found !== undefined) return found;
        continue;
      }
      if (entry.isFile() && (isCanonical(name) || SIDECAR.test(name) || (iset && ISET_ASIDE.test(name)))) continue;
      const folder = entry.isDirectory() ? unfolder(name) : undefined;
      if (folder !== undefined && isCanonical(folder)) {
        const found = stray(join(dir, name), iset);
        if (found !== undefined) return found;
        continue;
      }
      return relative(path, join(dir, name));
    }
    return undefined;
  };
  const found = stray(path, false);
  if (found !== undefined) return `it holds ${found}, which file() does not write`;
  if (holdsAny && !fs.existsSync(join(path, GENERATION_NAME))) return `it has no ${GENERATION_NAME}, which file() writes with a store's first change`;
  return undefined;
}

/** A hashed name's sidecar, `.%h` and the SHA-256 in hex (filenames.ts). */
const SIDECAR = /^\.%h[0-9a-f]{64}$/;
/** An iset value written aside before it is linked into place (isetId), left behind by a crash. */
const ISET_ASIDE = /^\.tmp-\d+-[0-9a-z]*$/;

export function file(path?: string, opts?: FileOptions): FileStore {
  return new FileStore(path, opts);
}

registerLayer('file', {
  positional: 'path',
  options: ['exclusive', 'fsync', 'maxOpenFiles', 'lockStaleMs', 'lockTimeoutMs'],
  open: (spec) => {
    const { type: _type, path, ...opts } = spec;
    return file(path as string | undefined, opts as FileOptions);
  },
});
