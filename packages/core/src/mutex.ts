import { AsyncLocalStorage } from 'node:async_hooks';

/** Which mutexes the current async call chain holds, so a holder can re-enter. */
const held = new AsyncLocalStorage<ReadonlySet<Mutex>>();

/**
 * An external lock a Mutex takes while it is busy: file() uses the directory
 * lock that other processes also take.
 */
export interface OuterLock {
  acquire(): Promise<void>;
  release(): Promise<void>;
  /** False when the lock, though not released, is no longer ours (taken as stale by another process). */
  valid?(): boolean;
}

/**
 * Serializes the operations of one store inside this process. Re-entrant along
 * an async call chain: code running under `withLock` may call the store again.
 *
 * With an outer lock, waiting operations are handed the mutex while the outer
 * lock stays held, so a burst of concurrent appends pays for one directory lock
 * (group commit). To stay fair to other processes, the outer lock is released
 * after `maxHandoffs` hand-offs or `maxHoldMs` milliseconds.
 *
 * A call made straight after the last one finished, before the event loop
 * turns (`for (…) await store.get(k)`), may keep the outer lock too, but for a
 * shorter while (`maxKeepMs` since the lock was taken, `maxKeepCalls` calls):
 * other processes only poll for the lock, and a loop of calls that kept it
 * for long would starve them.
 */
export class Mutex {
  private busy = false;
  private readonly waiters: (() => void)[] = [];
  private outerHeld = false;
  private handoffs = 0;
  private heldSince = 0;
  /** A release of the idle outer lock is scheduled for when the event loop turns. */
  private releaseScheduled = false;

  constructor(
    private readonly outer?: OuterLock,
    private readonly maxHandoffs = 256,
    private readonly maxHoldMs = 25,
    private readonly maxKeepCalls = 128,
    private readonly maxKeepMs = 5,
  ) {}

  /** True when the current async call chain already holds this mutex. */
  holds(): boolean {
    return held.getStore()?.has(this) === true;
  }

  /**
   * Runs `fn` once no other operation of this process holds the mutex. With
   * `{ outer: false }`, without taking the outer lock: for work on this
   * process's own state only (closing its descriptors), which other
   * processes neither see nor need to be kept from.
   *
   * With `{ reentrant: false }`, for an `fn` that never calls back into
   * anything taking this mutex: the section is not recorded in the async
   * context (AsyncLocalStorage), which costs about a tenth of a 100-value
   * append and, on Node 20, turns on promise hooks for every promise. Such a
   * section still re-enters when the caller's chain already holds the mutex
   * (a call made inside `withLock`).
   */
  async run<T>(fn: () => T | Promise<T>, opts?: { outer?: boolean; reentrant?: boolean }): Promise<T> {
    const chain = held.getStore();
    if (chain?.has(this)) return fn();
    // Whether this call picks up an outer lock kept after the last call.
    let kept = false;
    if (this.busy) await new Promise<void>((resolve) => this.waiters.push(resolve));
    else {
      this.busy = true;
      kept = this.outerHeld;
    }
    try {
      if (kept && this.outer!.valid?.() === false) {
        // Lost while kept idle: nothing of ours was in flight, so take it again.
        this.outerHeld = false;
        await this.outer!.release();
      }
      if (this.outer && !this.outerHeld && opts?.outer !== false) {
        await this.outer.acquire();
        this.outerHeld = true;
        this.handoffs = 0;
        this.heldSince = performance.now();
      }
      if (opts?.reentrant === false) return await fn();
      const next = new Set(chain);
      next.add(this);
      return await held.run(next, fn);
    } finally {
      await this.leave();
    }
  }

  private async leave(): Promise<void> {
    if (this.waiters.length > 0 && (!this.outerHeld || this.keepOuter())) {
      this.handoffs++;
      this.waiters.shift()!();
      return;
    }
    if (this.outerHeld && this.handoffs < this.maxKeepCalls && performance.now() - this.heldSince < this.maxKeepMs) {
      // Nobody waits yet: keep the outer lock for a call that follows at once.
      this.handoffs++;
      this.busy = false;
      if (!this.releaseScheduled) {
        this.releaseScheduled = true;
        setImmediate(() => {
          this.releaseScheduled = false;
          void this.releaseIdle().catch(() => undefined);
        });
      }
      return;
    }
    if (this.outerHeld) return this.releaseOuter();
    this.busy = false;
  }

  /** Releases the outer lock now, unless an operation holds the mutex (it releases it when done). */
  async releaseIdle(): Promise<void> {
    if (this.busy || !this.outerHeld) return;
    this.busy = true;
    await this.releaseOuter();
  }

  /** Lets go of the outer lock (the mutex is busy meanwhile), then hands the mutex on. */
  private async releaseOuter(): Promise<void> {
    this.outerHeld = false;
    try {
      await this.outer!.release();
    } finally {
      const next = this.waiters.shift();
      if (next) next();
      else this.busy = false;
    }
  }

  private keepOuter(): boolean {
    return this.handoffs < this.maxHandoffs && performance.now() - this.heldSince < this.maxHoldMs;
  }
}

/**
 * For a store whose calls need no local serializing (a server or Redis
 * orders them) but must wait for its own withLock sections: a call runs at
 * once unless a section runs or waits, and a section takes the local mutex
 * and a lock on the other side (`acquire` returns its release).
 */
export class SectionGate {
  /** Sections running or waiting: calls queue behind them. */
  private sections = 0;

  constructor(private readonly lock: Mutex) {}

  /** Runs `fn` now, or after the sections ahead of it when the caller is not inside one. */
  call<T>(fn: () => Promise<T>): Promise<T> {
    return this.sections > 0 && !this.lock.holds() ? this.lock.run(fn) : fn();
  }

  /** An exclusive section, re-entrant for its holder; a release that fails is reported only when `fn` succeeded. */
  section<T>(acquire: () => Promise<() => Promise<void>>, fn: () => Promise<T>): Promise<T> {
    if (this.lock.holds()) return fn();
    this.sections++;
    return this.lock
      .run(async () => {
        const release = await acquire();
        let result: T;
        try {
          result = await fn();
        } catch (error) {
          await release().catch(() => undefined);
          throw error;
        }
        await release();
        return result;
      })
      .finally(() => this.sections--);
  }
}
