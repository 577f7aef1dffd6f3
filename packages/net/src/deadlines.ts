/**
 * Time limits on a connection. One that has not said hello within
 * helloTimeoutMs is closed, however many bytes it trickles in meanwhile: a
 * stranger cannot keep a connection by sending slowly. Once it has, and if
 * idleTimeoutMs is set, one that sends nothing for that long is closed too,
 * unless its client is in the middle of something the close would break: a
 * request running in the store, the store's lock held, an iter cursor open.
 */
export interface DeadlineLimits {
  helloTimeoutMs: number;
  /** 0: never closed for being idle. */
  idleTimeoutMs: number;
}

export interface DeadlineHooks {
  /** Whether the connection is in the middle of something (never idle then). */
  busy(): boolean;
  /** The connection is past a deadline; `why` ends the sentence "The server closed this connection: …". */
  expired(why: string): void;
}

export class Deadlines {
  private timer?: NodeJS.Timeout;
  private lastActive = performance.now();
  private greeted = false;
  private cleared = false;
  /** Counts the timers set: a check from a timer set before the last one does nothing. */
  private round = 0;

  constructor(
    private readonly limits: DeadlineLimits,
    private readonly hooks: DeadlineHooks,
  ) {
    this.arm(limits.helloTimeoutMs);
  }

  /** The client sent something, or the server answered it. */
  active(): void {
    this.lastActive = performance.now();
  }

  /** The hello was accepted: from now on only the idle timeout applies. */
  greetedNow(): void {
    this.greeted = true;
    clearTimeout(this.timer);
    this.round++;
    if (this.limits.idleTimeoutMs > 0) this.arm(this.limits.idleTimeoutMs);
  }

  clear(): void {
    this.cleared = true;
    clearTimeout(this.timer);
  }

  /**
   * The check runs on the turn after the timer (setImmediate): bytes that
   * arrived while the event loop was busy are read first, so a server slowed
   * down by its store does not take a punctual client for a slow one.
   */
  private arm(ms: number): void {
    const round = ++this.round;
    this.timer = setTimeout(() => setImmediate(() => round === this.round && this.check()), ms);
    this.timer.unref();
  }

  private check(): void {
    if (this.cleared) return;
    if (!this.greeted) return this.hooks.expired(`it sent no hello within ${this.limits.helloTimeoutMs} ms (helloTimeoutMs); a laminate client says hello as soon as it connects`);
    const idle = this.limits.idleTimeoutMs;
    const left = this.lastActive + idle - performance.now();
    if (left > 0) return this.arm(left);
    if (this.hooks.busy()) return this.arm(idle);
    this.hooks.expired(`it sent nothing for ${idle} ms (idleTimeoutMs); a client connects again when it next has a request`);
  }
}
