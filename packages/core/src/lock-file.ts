import * as fs from 'node:fs';
import { hostname } from 'node:os';
import { processAlive } from './processes.js';

/**
 * The directory lock as a file made with O_CREAT | O_EXCL and removed with
 * unlink: file()'s default on local disks. One open, one write, one fstat to
 * take it, one lstat, one unlink and one close to let go of it, about a tenth
 * of what proper-lockfile's folder costs (the mkdir strategy keeps that one,
 * for network filesystems where O_EXCL is not atomic).
 *
 * The file records its owner (pid, host name, this boot of the machine), so
 * that a lock whose process is gone is taken over at once on the same machine,
 * without waiting for it to age: a process killed with SIGKILL never lets go
 * of its lock. Where the owner cannot be checked (another host, another boot,
 * a file not yet written, a folder left by the mkdir strategy), a lock whose
 * modification time is older than `staleMs` is taken to be dead; the owner
 * refreshes that time every `staleMs / 2` while it holds the lock.
 *
 * Both strategies use the same path, so a process taking the folder and
 * one taking the file still exclude each other: each one's create fails
 * while the other's lock stands there.
 */

/** What each attempt reports when someone else holds the lock (the code proper-lockfile uses too). */
function lockedError(path: string): Error {
  return Object.assign(new Error(`Lock file is already being held: ${path}`), { code: 'ELOCKED' });
}

const NO_FOLLOW = fs.constants.O_NOFOLLOW ?? 0;
const CREATE = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | NO_FOLLOW;

/** Only one process may take a stale lock away at a time: the one that made this folder. */
const BREAKER_SUFFIX = '.break';
/**
 * A process waiting for the lock touches this file at each attempt; one
 * about to take a free lock first lets such a waiter have it. Taking the
 * lock is synchronous and a few microseconds, so without this a process
 * making calls in a loop would let go of the lock and take it again before
 * any other, waking from its poll, could get it.
 */
const WANTED_SUFFIX = '.wanted';
/** A waiter polls at least this often (directory-lock.ts backs off up to 25 ms, ±50 %); an older mark was left by one that stopped waiting. */
const WANTED_FRESH_MS = 60;
/** A breaker folder older than this was left by a process killed while it removed a stale lock. */
const BREAKER_STALE_MS = 2000;

/**
 * The moments between two system calls where another process can act on the
 * lock: before an attempt to create it, after the create was refused (the
 * lock may be let go before it is read), after the breaker folder was found
 * made (it may be removed before it is looked at), and after a lock was judged
 * dead (it may be let go, replaced or refreshed before it is removed). A
 * test sets `between` to play that other process there, so that each race is
 * checked every run rather than once in a million; laminate never sets it.
 */
export type LockFileMoment = 'before-create' | 'create-refused' | 'breaker-found' | 'judged-dead';
export const lockFileRaces: { between?: (moment: LockFileMoment, path: string) => void } = {};

/** Who holds a lock, as its file records it. */
export interface LockOwner {
  pid: number;
  host: string;
  /** The machine's boot (Linux's random boot id); a pid of another boot says nothing about this one. */
  boot: string;
}

let self: LockOwner | undefined;
/** The owner record this process writes into its locks. */
function me(): LockOwner {
  if (self === undefined) {
    let boot = '';
    try {
      boot = fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    } catch {
      // Not Linux: the pid check then trusts the host name alone.
    }
    self = { pid: process.pid, host: hostname(), boot };
  }
  return self;
}

let ownerLine: Buffer | undefined;

/** Locks this process holds, removed if it exits without letting go of them (a SIGKILL cannot be caught; its locks are found dead instead). */
const heldByThisProcess = new Map<string, number>();
let exitHooked = false;

function removeHeldOnExit(): void {
  for (const [path, ino] of heldByThisProcess) {
    try {
      if (fs.lstatSync(path, { throwIfNoEntry: false })?.ino === ino) fs.unlinkSync(path);
    } catch {
      // Exiting: nothing more can be done.
    }
  }
}

/** The owner recorded in a lock file's first bytes; undefined when it is empty, partly written or not ours. */
export function parseOwner(text: string): LockOwner | undefined {
  try {
    const owner = JSON.parse(text) as Partial<LockOwner>;
    if (typeof owner.pid === 'number' && typeof owner.host === 'string' && typeof owner.boot === 'string') return owner as LockOwner;
  } catch {
    // Not written yet, or cut short.
  }
  return undefined;
}

/** The owner recorded at `path`, when a readable lock file stands there. */
export function readOwner(path: string): LockOwner | undefined {
  let fd: number;
  try {
    fd = fs.openSync(path, fs.constants.O_RDONLY | NO_FOLLOW);
  } catch {
    return undefined;
  }
  try {
    const buf = Buffer.alloc(512);
    return parseOwner(buf.toString('utf8', 0, fs.readSync(fd, buf, 0, buf.length, 0)));
  } catch {
    return undefined;
  } finally {
    fs.closeSync(fd);
  }
}

/** One lock held: its descriptor, kept to refresh its time and to know it is still ours. */
interface Held {
  fd: number;
  ino: number;
  dev: number;
  refresh?: NodeJS.Timeout;
}

export class LockFile {
  private held?: Held;
  private readonly wanted: string;
  /** This process marked the lock as wanted since it last held it. */
  private waited = false;

  constructor(
    readonly path: string,
    private readonly staleMs: number,
    /** Called when a refresh finds the lock gone or taken over: what it guards may no longer be exclusive. */
    private readonly onCompromised: (error: Error) => void,
  ) {
    this.wanted = path + WANTED_SUFFIX;
  }

  /** True while another process waits for the lock (its mark is fresh), and this one has not waited itself. */
  private othersWait(): boolean {
    if (this.waited) return false;
    const mark = fs.lstatSync(this.wanted, { throwIfNoEntry: false });
    return mark !== undefined && Date.now() - mark.mtimeMs < WANTED_FRESH_MS;
  }

  /** Marks the lock as wanted by a process that waits for it. */
  private markWanted(): void {
    this.waited = true;
    const at = new Date();
    try {
      // lutimes: a link planted at the mark's path gets the new time itself; what it points to is left alone.
      fs.lutimesSync(this.wanted, at, at);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') return; // a link, or no room: waiting works without the mark
      try {
        fs.closeSync(fs.openSync(this.wanted, fs.constants.O_WRONLY | fs.constants.O_CREAT | NO_FOLLOW, 0o644));
      } catch {
        // As above.
      }
    }
  }

  /**
   * Takes the lock now, or throws an error with code ELOCKED when someone
   * alive holds it; a dead owner's lock is removed and taken. Other errors
   * (no directory, a read-only disk, ELOOP for a link at the path) are
   * thrown as the system gave them. Returns the release. With
   * `yieldToWaiters`, a free lock that another process is waiting for is
   * left to it (ELOCKED): the caller retries after a pause.
   */
  take(yieldToWaiters = true): () => void {
    if (yieldToWaiters && this.othersWait()) throw lockedError(this.path);
    // Twice: once more after a stale lock was removed.
    for (let attempt = 0; attempt < 2; attempt++) {
      lockFileRaces.between?.('before-create', this.path);
      let fd: number;
      try {
        fd = fs.openSync(this.path, CREATE, 0o644);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        lockFileRaces.between?.('create-refused', this.path);
        if (!this.removeIfDead()) {
          this.markWanted();
          break;
        }
        continue;
      }
      try {
        ownerLine ??= Buffer.from(JSON.stringify(me()) + '\n');
        fs.writeSync(fd, ownerLine);
        const stat = fs.fstatSync(fd);
        this.held = { fd, ino: stat.ino, dev: stat.dev };
      } catch (error) {
        // A full disk may refuse even those bytes: leave no lock behind.
        fs.closeSync(fd);
        fs.rmSync(this.path, { force: true });
        throw error;
      }
      this.scheduleRefresh();
      if (!exitHooked) {
        exitHooked = true;
        process.on('exit', removeHeldOnExit);
      }
      heldByThisProcess.set(this.path, this.held.ino);
      if (this.waited) {
        // Our wait is over: the others waiting mark it again at their next attempt.
        this.waited = false;
        try {
          fs.unlinkSync(this.wanted);
        } catch {
          // Removed by another process that waited too, or never made.
        }
      }
      return () => this.release();
    }
    throw lockedError(this.path);
  }

  /** Removes the lock if it is still ours (not taken over as stale, not gone with the directory). */
  private release(): void {
    const held = this.held;
    if (held === undefined) return;
    this.held = undefined;
    clearTimeout(held.refresh);
    heldByThisProcess.delete(this.path);
    try {
      const now = fs.lstatSync(this.path, { throwIfNoEntry: false });
      if (now?.ino === held.ino && now.dev === held.dev) fs.unlinkSync(this.path);
    } finally {
      fs.closeSync(held.fd);
    }
  }

  /** Keeps the lock's time fresh for processes that cannot check its owner, and notices when it was lost. */
  private scheduleRefresh(): void {
    const held = this.held!;
    held.refresh = setTimeout(() => {
      if (this.held !== held) return;
      const now = fs.lstatSync(this.path, { throwIfNoEntry: false });
      if (now?.ino !== held.ino || now.dev !== held.dev) {
        this.onCompromised(new Error(now === undefined ? `the lock file ${this.path} was removed` : `the lock file ${this.path} was taken over by another process`));
        return;
      }
      try {
        const at = new Date();
        fs.futimesSync(held.fd, at, at);
      } catch (error) {
        this.onCompromised(error as Error);
        return;
      }
      this.scheduleRefresh();
    }, Math.max(1, this.staleMs / 2));
    held.refresh.unref();
  }

  /**
   * Looks at the lock standing at the path: removes it and returns true when
   * its owner is dead (or it is gone already), returns false while it is
   * held. Throws ELOOP for a link there: never ours, and never removed.
   */
  private removeIfDead(): boolean {
    let fd: number;
    try {
      fd = fs.openSync(this.path, fs.constants.O_RDONLY | NO_FOLLOW);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return true; // let go of meanwhile
      throw error;
    }
    let stat: fs.Stats;
    let owner: LockOwner | undefined;
    try {
      stat = fs.fstatSync(fd);
      if (stat.isFile()) {
        const buf = Buffer.alloc(512);
        owner = parseOwner(buf.toString('utf8', 0, fs.readSync(fd, buf, 0, buf.length, 0)));
      }
    } finally {
      fs.closeSync(fd);
    }
    const local = owner !== undefined && owner.host === me().host && owner.boot === me().boot;
    const dead = local ? !processAlive(owner!.pid) : Date.now() - stat.mtimeMs > this.staleMs;
    if (!dead) return false;
    return this.removeStale(stat);
  }

  /**
   * Removes the lock examined as `stat`, if it is still that one, unchanged:
   * under the breaker folder, so that two processes finding the same dead
   * lock do not remove it, and then the one the first of them made, both.
   */
  private removeStale(stat: fs.Stats): boolean {
    const breaker = this.path + BREAKER_SUFFIX;
    try {
      fs.mkdirSync(breaker);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      lockFileRaces.between?.('breaker-found', this.path);
      const left = fs.lstatSync(breaker, { throwIfNoEntry: false });
      // Left by a process killed in the few system calls below: remove it, and try again on the next attempt.
      if (left?.isDirectory() && Date.now() - left.mtimeMs > BREAKER_STALE_MS) {
        try {
          fs.rmdirSync(breaker);
        } catch {
          // Another process removed it first.
        }
      }
      return false;
    }
    try {
      lockFileRaces.between?.('judged-dead', this.path);
      const now = fs.lstatSync(this.path, { throwIfNoEntry: false });
      if (now === undefined) return true;
      if (now.ino !== stat.ino || now.dev !== stat.dev || now.mtimeMs !== stat.mtimeMs || now.isSymbolicLink()) return false;
      if (now.isDirectory()) fs.rmdirSync(this.path);
      else fs.unlinkSync(this.path);
      return true;
    } finally {
      fs.rmdirSync(breaker);
    }
  }
}

/** The names beside the lock that lock-file.ts makes (the breaker folder, the wanted mark): store-directory.ts counts them as the store's own. */
export function lockCompanions(lockName: string): { breaker: string; wanted: string } {
  return { breaker: lockName + BREAKER_SUFFIX, wanted: lockName + WANTED_SUFFIX };
}
