import * as fs from 'node:fs';
import { join } from 'node:path';
import lockfile from 'proper-lockfile';
import { LaminateError } from './errors.js';
import { systemError } from './system-errors.js';
import type { OuterLock } from './mutex.js';
import { openOwn, symlinkError } from './symlinks.js';
import { LockFile, lockCompanions, readOwner } from './lock-file.js';

/**
 * The lock every process sharing a file() directory takes: a file made with
 * O_EXCL and unlinked (lock-file.ts, the default), or a folder made and
 * removed by proper-lockfile (the 'mkdir' strategy, for network filesystems).
 * Both stand at this path, so the two exclude each other.
 */
export const LOCK_NAME = '.laminate.lock';
/** The folder a process makes while it removes a dead process's lock file, and the mark of a process waiting for the lock (lock-file.ts). */
export const { breaker: LOCK_BREAKER_NAME, wanted: LOCK_WANTED_NAME } = lockCompanions(LOCK_NAME);
/** 8 bytes, little-endian: how many times files were removed from the directory (delete, drop). */
export const GENERATION_NAME = '.laminate.gen';

/**
 * How the directory lock is made. 'file' (the default): a file created with
 * O_EXCL that records its owner, so that a dead process's lock on the same
 * machine is taken over at once. 'mkdir': proper-lockfile's folder, refreshed
 * while held and taken over once older than lockStaleMs; slower, but atomic
 * on network filesystems (NFS) where O_EXCL may not be.
 */
export type LockStrategy = 'file' | 'mkdir';
export const LOCK_STRATEGIES: readonly LockStrategy[] = ['file', 'mkdir'];

/** What onLockWait is told. */
export interface LockWait {
  /** The store's directory. */
  path: string;
  /** How long the call waits at most before ERR_LOCKED: lockTimeoutMs. */
  timeoutMs: number;
  /** Who held the lock when the wait began, as the lock file records it; absent with the mkdir strategy, which records no owner. */
  holder?: { pid: number; host: string };
}

export interface LockSettings {
  /** A lock not refreshed for this long is taken to belong to a dead process (min 2000). */
  staleMs: number;
  /** How long to wait for the lock before ERR_LOCKED. */
  timeoutMs: number;
  /** Single-owner mode: the lock is taken by own() and held until close(). */
  exclusive: boolean;
  /** The directory is on a read-only filesystem: nothing can change it, and no lock can be made there. */
  readOnly?: boolean;
  /** How the lock is made (LockStrategy); 'file' when not given. */
  strategy?: LockStrategy;
}

/** How often, at most, a call checks that the directory is still there (a stat), besides each time it takes the lock. */
const PRESENCE_CHECK_MS = 10;

/**
 * The cross-process side of a file() directory: its lock, and its generation
 * counter. Descriptors stay open between calls for speed, so a process must
 * learn when another one removed files (a descriptor to an unlinked file would
 * swallow appends): whoever removes files bumps the generation, and whoever
 * takes the lock and finds it changed closes its descriptors.
 */
export class DirectoryLock {
  /**
   * The generation file, open once it exists. The first write (append, iset,
   * delete, drop) creates it, not opening the store: reading a directory adds
   * nothing to it, and a directory holding one is one laminate wrote to.
   */
  private generationFd?: number;
  private generation: number;
  private releaseOwner?: () => void;
  private compromised?: Error;
  /** The directory the store opened: a folder made anew at its path is another one. */
  private readonly identity: { dev: number; ino: number };
  private checkedAt = performance.now();
  /** Set once the directory is found gone: it stays gone for this store, even if a folder is made at its path again. */
  private lost?: 'was removed' | 'was replaced by another directory or file';
  /** The lock file, unless the strategy is 'mkdir'. */
  private readonly lockFile?: LockFile;

  constructor(
    readonly path: string,
    private readonly settings: LockSettings,
    /** Told when a call starts waiting for the lock; what it returns is called when the wait ends. */
    private readonly onWait: (wait: LockWait) => void | (() => void),
  ) {
    this.identity = fs.statSync(path);
    this.generation = settings.readOnly ? 0 : this.readGeneration();
    if ((settings.strategy ?? 'file') === 'file') {
      this.lockFile = new LockFile(join(path, LOCK_NAME), Math.max(2000, settings.staleMs), (error) => {
        this.compromised = error;
      });
    }
  }

  /**
   * Throws ERR_NOT_FOUND when the directory was removed, moved or replaced
   * since the store opened: what the store wrote is gone, and a cached
   * descriptor would take appends into files no one can read. `now` checks at
   * once; otherwise a call checks when PRESENCE_CHECK_MS have passed since
   * the last check, so that a run of small calls does not pay a stat each.
   */
  assertPresent(now = false): void {
    const at = performance.now();
    if (!this.lost && !now && at - this.checkedAt < PRESENCE_CHECK_MS) return;
    this.checkedAt = at;
    const error = this.gone();
    if (error) throw error;
  }

  /** The error to throw when the directory is no longer the one the store opened; undefined while it is. */
  gone(): LaminateError | undefined {
    if (this.lost === undefined) {
      const stat = fs.statSync(this.path, { throwIfNoEntry: false });
      if (stat?.isDirectory() && stat.dev === this.identity.dev && stat.ino === this.identity.ino) return undefined;
      this.lost = stat === undefined ? 'was removed' : 'was replaced by another directory or file';
    }
    return new LaminateError(
      'ERR_NOT_FOUND',
      `The directory ${this.path} of this file() store ${this.lost} while the store was open (another process closed a temporary store there, or it was deleted): what the store held there is gone, and nothing more was written. Close this store; file() on that path opens a new one.`,
    );
  }

  /** Single-owner mode: takes the lock now, without waiting, until close(). */
  own(): void {
    try {
      this.releaseOwner = this.lockFile ? this.lockFile.take(false) : lockfile.lockSync(this.path, this.lockOptions());
    } catch (error) {
      this.closeGeneration();
      throw this.lockError(error);
    }
  }

  /** The lock taken per call (by a Mutex), with backoff until timeoutMs; `filesRemoved` runs when another process removed files meanwhile. */
  perCall(filesRemoved: () => void): OuterLock {
    let release: (() => Promise<void>) | undefined;
    return {
      acquire: async () => {
        release = await this.take();
        this.compromised = undefined;
        let generation: number;
        try {
          // The lock was taken in whatever is at the path now: a directory made anew there is not this store's.
          this.assertPresent(true);
          generation = this.readGeneration();
        } catch (error) {
          // A call that fails here (ERR_SYMLINK) must not keep the lock from the next one.
          const done = release;
          release = undefined;
          await done().catch(() => undefined);
          throw error;
        }
        if (generation !== this.generation) {
          this.generation = generation;
          filesRemoved();
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

  private async take(): Promise<() => Promise<void>> {
    // Proper-lockfile's lock is made by asynchronous calls, so taking it let the event loop turn; the lock file is
    // made by synchronous ones. Without this turn a loop of calls (`while (!stop) await store.get(k)`) would never
    // let timers, I/O or signals in: it turns once per lock taken, that is once per burst of calls (mutex.ts).
    if (this.lockFile) await new Promise<void>((resolve) => setImmediate(resolve));
    const deadline = Date.now() + this.settings.timeoutMs;
    let waiting = false;
    let endWait: void | (() => void) = undefined;
    try {
      for (let wait = 1; ; wait = Math.min(wait * 2, 25)) {
        try {
          if (this.lockFile) {
            const release = this.lockFile.take();
            return async () => release();
          }
          return await lockfile.lock(this.path, this.lockOptions());
        } catch (error) {
          const code = (error as NodeJS.ErrnoException).code;
          if (code !== 'ELOCKED' || Date.now() > deadline || (!waiting && this.linkedLock() !== undefined)) throw this.lockError(error);
          if (!waiting) {
            waiting = true;
            const owner = this.lockFile ? readOwner(this.lockFile.path) : undefined;
            const holder = owner === undefined ? {} : { holder: { pid: owner.pid, host: owner.host } };
            endWait = this.onWait({ path: this.path, timeoutMs: this.settings.timeoutMs, ...holder });
          }
          await new Promise((r) => setTimeout(r, wait * (0.5 + Math.random())));
        }
      }
    } finally {
      endWait?.();
    }
  }

  private lockOptions() {
    return {
      lockfilePath: join(this.path, LOCK_NAME),
      realpath: false,
      stale: Math.max(2000, this.settings.staleMs),
      onCompromised: (error: Error) => {
        this.compromised = error;
      },
    };
  }

  /** The lock's path when a symbolic link stands there: someone else's, which no wait frees, and which proper-lockfile would stat through. */
  private linkedLock(): string | undefined {
    const path = join(this.path, LOCK_NAME);
    return fs.lstatSync(path, { throwIfNoEntry: false })?.isSymbolicLink() ? path : undefined;
  }

  /** `error` with `holder`: who holds the lock, as its file records it ({ pid, host }), when that is known (the mkdir strategy records no owner). */
  private withHolder(error: LaminateError): LaminateError {
    const owner = this.lockFile ? readOwner(this.lockFile.path) : undefined;
    if (owner !== undefined) Object.assign(error, { holder: { pid: owner.pid, host: owner.host } });
    return error;
  }

  private lockError(error: unknown): Error {
    const link = this.linkedLock();
    if (link !== undefined) return symlinkError(link);
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ELOCKED' && this.settings.exclusive) {
      return this.withHolder(new LaminateError('ERR_LOCKED', `The directory ${this.path} is locked by another store or process. Close it there, or open this one without { exclusive: true } to share it.`, { cause: error }));
    }
    if (code === 'ELOCKED') {
      return this.withHolder(
        new LaminateError(
          'ERR_LOCKED',
          `The directory ${this.path} stayed locked for lockTimeoutMs (${this.settings.timeoutMs} ms): another process holds it, perhaps as its single owner ({ exclusive: true }). Close that store, or raise lockTimeoutMs.`,
          { cause: error },
        ),
      );
    }
    // The lock is a file or folder made in the directory: no directory, no room, a read-only filesystem…
    return this.gone() ?? (systemError(error, this.path) as Error);
  }

  /** Throws when the lock was lost (its refresh failed) since it was taken: the call it guarded must not count as done. */
  assertHeld(): void {
    if (this.compromised) {
      // Removing the directory removes the lock too: say what happened, not that the lock was lost.
      this.assertPresent(true);
      const error = this.compromised;
      this.compromised = undefined;
      throw new LaminateError('ERR_LOCKED', `The lock on ${this.path} was lost (${error.message}); the last call was not applied. Retry it.`, { cause: error });
    }
  }

  /** Called before a write: marks the directory as one laminate wrote to. */
  writing(): void {
    this.generationFile(true);
  }

  /** Tells the other processes that files were removed. */
  filesRemoved(): void {
    const fd = this.generationFile(true)!;
    this.generation = this.readGeneration() + 1;
    const buf = Buffer.alloc(8);
    buf.writeBigUInt64LE(BigInt(this.generation));
    fs.writeSync(fd, buf, 0, 8, 0);
  }

  /** Closes the generation file and lets go of a lock held as single owner. */
  close(): void {
    this.closeGeneration();
    try {
      this.releaseOwner?.();
    } catch {
      // Already gone with the directory, or taken over as stale: it is not ours to release.
    }
  }

  /** The generation file's descriptor; `create` makes the file (a write), else undefined while there is none. */
  private generationFile(create: boolean): number | undefined {
    if (this.generationFd === undefined) {
      const path = join(this.path, GENERATION_NAME);
      // A stat that finds nothing costs less than an open that throws, on every lock while the file is missing.
      if (!create && fs.lstatSync(path, { throwIfNoEntry: false }) === undefined) return undefined;
      // Never through a link: the counter is written in place, and would overwrite what a link points to.
      this.generationFd = openOwn(path, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o644);
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

  private closeGeneration(): void {
    if (this.generationFd !== undefined) fs.closeSync(this.generationFd);
    this.generationFd = undefined;
  }
}
